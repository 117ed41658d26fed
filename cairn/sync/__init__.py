"""``cairn sync``: upload an offline (embedded) Cairn store to a server, idempotently."""

from cairn.sync.engine import Progress, Syncer, SyncReport, sync_store
from cairn.sync.errors import ServerRefused, SyncError

__all__ = ["Progress", "ServerRefused", "SyncError", "SyncReport", "Syncer", "sync_store"]
