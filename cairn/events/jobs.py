"""The audit trail's background work: the retention prune, once a day."""

from __future__ import annotations

from cairn.events.service import AuditService
from cairn.jobs.registry import JobContext, periodic

DAY_SECONDS = 86_400


@periodic("audit.prune", every=DAY_SECONDS)
def prune_audit_trail(ctx: JobContext) -> None:
    """Delete the change events older than ``CAIRN_AUDIT_RETENTION_DAYS`` (recording an
    ``audit.prune`` event when any went)."""
    ctx.service("audit", AuditService).prune()
