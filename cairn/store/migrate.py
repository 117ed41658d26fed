"""Schema versions: create and upgrade with Alembic, refuse a schema newer than this Cairn."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cairn.entities.errors import CairnError, ErrorCode

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration tree must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` (in one transaction where the DB allows)."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_schema(engine: Engine, *, auto_upgrade: bool = True) -> str:
    """Bring an older schema up to date; refuse one newer than this version of Cairn."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return head
    if current is not None and current not in known_revisions():
        raise CairnError(
            f"The database schema (revision {current}) is newer than this version of Cairn "
            f"understands (head {head}). Upgrade Cairn (pip install --upgrade cairn-ml), or point "
            "it at another database with --backend-store-uri.",
            ErrorCode.INVALID_STATE,
        )
    if not auto_upgrade:
        raise CairnError(
            f"The database schema is at revision {current or 'none'}, this Cairn needs {head}. "
            "Run: cairn db upgrade --backend-store-uri <uri>",
            ErrorCode.INVALID_STATE,
        )
    upgrade(engine)
    return head
