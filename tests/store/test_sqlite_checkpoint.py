"""SQLite's write-ahead log is copied into the database file by the checkpointer thread, not by
the commits: after a few writes (far fewer pages than the writer's own safety-net checkpoint
needs), the database file itself holds them, as a reader that ignores the log sees."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from cairn.services.tracking import TrackingService
from cairn.store.db import AUTOCHECKPOINT_PAGES, Database
from cairn.store.migrate import ensure_schema


def _runs_in_file(path: Path) -> int:
    """Runs in the database file alone (``immutable``: the write-ahead log is not read)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema has been copied yet
        return 0
    finally:
        conn.close()


def test_the_log_reaches_the_database_file_without_a_commit_checkpointing(tmp_path: Path) -> None:
    path = tmp_path / "cairn.db"
    db = Database(f"sqlite:///{path}")
    ensure_schema(db.write_engine)
    db.start()
    try:
        writer_pages = db.read(
            lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        )
        assert writer_pages == 1000  # readers keep SQLite's default; they never commit
        tracking = TrackingService(db)
        experiment = tracking.create_experiment("checkpointed")
        for _ in range(20):
            tracking.create_run(experiment)
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size < AUTOCHECKPOINT_PAGES * 4096  # the safety net never fired
        found = 0
        for _ in range(200):  # the checkpointer passes every 0.25 s: bounded at 20 s
            found = _runs_in_file(path)
            if found == 20:
                break
            time.sleep(0.1)
        assert found == 20
    finally:
        db.close()
