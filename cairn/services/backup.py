"""Backup and restore of the embedded store: a SQLite database and its local artifact folder.

:func:`backup` copies the database with SQLite's online backup API inside one read
transaction (a consistent snapshot, while a server keeps writing: WAL lets it), checks the
copy with ``PRAGMA integrity_check``, copies the artifact folder file by file and writes
``manifest.json`` last. Everything is written under a hidden name inside the destination and
renamed into place at the end, so a failed backup leaves no half-written one behind.

:func:`restore` checks the manifest, the database's SHA-256 and the schema revision before it
touches anything, keeps what it replaces (``<name>.before-restore-<time>``), and puts the
copies in place by renaming. Opening the restored store through the normal migration path
(which upgrades an older backup) is the caller's last step.

PostgreSQL and MySQL stores are refused (:class:`UnsupportedStore`): their own tools
(``pg_dump``, ``mysqldump``) do this better, see docs/server.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from cairn._version import __version__
from cairn.artifacts.local import is_internal
from cairn.artifacts.uri import local_folder
from cairn.entities.errors import CairnError
from cairn.store.db import normalize_uri, redact_uri
from cairn.store.migrate import current_revision, known_revisions

MANIFEST = "manifest.json"
ARTIFACTS = "artifacts"
FORMAT = 1
PAGES_PER_STEP = 1024
CHUNK = 1024 * 1024
DOCS = "docs/server.md#backup-and-restore"
TOOLS = {
    "postgresql": "pg_dump -Fc (and pg_restore to restore)",
    "mysql": "mysqldump --single-transaction --routines --triggers (and mysql to restore)",
}


class BackupError(Exception):
    """A backup or restore Cairn refuses or cannot finish; ``message`` says why, in a line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedStore(BackupError):
    """A PostgreSQL or MySQL store: back it up with its own tools."""


class Progress(Protocol):
    """Where progress goes: one task at a time (pages of the database, bytes of artifacts)."""

    def begin(self, description: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...

    def note(self, message: str) -> None: ...


class NoProgress:
    def begin(self, description: str, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def sqlite_file(backend_store_uri: str) -> Path:
    """The database file of a SQLite store; :class:`UnsupportedStore` for PostgreSQL or MySQL
    (naming the tool to use), :class:`BackupError` for anything else."""
    url = make_url(normalize_uri(backend_store_uri))
    backend = url.get_backend_name()
    if backend in TOOLS:
        raise UnsupportedStore(
            f"cairn db backup/restore handle the embedded SQLite store only; back up a "
            f"{'PostgreSQL' if backend == 'postgresql' else 'MySQL'} store with "
            f"{TOOLS[backend]} and the artifact store with its own copy (see {DOCS})"
        )
    if backend != "sqlite" or url.database in (None, "", ":memory:"):
        raise BackupError(f"not a SQLite database file: {redact_uri(backend_store_uri)}")
    return Path(url.database).expanduser().resolve()


def _without_password(location: str) -> str:
    """An artifact destination as it may be written down (no password in its netloc)."""
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _local_root(artifacts_destination: str) -> Path | None:
    try:
        folder = local_folder(artifacts_destination)
    except CairnError as exc:  # a file URI naming another host
        raise BackupError(exc.message) from None
    return None if folder is None else folder.expanduser().resolve()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _schema_revision(path: Path) -> str | None:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _check_integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    if [tuple(row) for row in rows] != [("ok",)]:
        found = "; ".join(str(row[0]) for row in rows[:5])
        raise BackupError(f"the database copy {path} failed PRAGMA integrity_check: {found}")


def in_use(path: Path) -> bool:
    """Whether another connection (a running server, a worker) has the database open: an
    exclusive lock is refused while any WAL connection is open, even an idle one."""
    conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _copy_database(source: Path, target: Path, progress: Progress) -> None:
    """SQLite's online backup of ``source`` into ``target``, in steps, inside one read
    transaction on the source: the copy is the snapshot taken when it began, and writers
    (WAL) go on meanwhile without restarting it."""
    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    dst = sqlite3.connect(target, isolation_level=None)
    try:
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot starts
        copied = 0

        def step(_status: int, remaining: int, total: int) -> None:
            nonlocal copied
            if copied == 0:
                progress.begin("database pages", total)
            done = total - remaining
            progress.advance(done - copied)
            copied = done

        src.backup(dst, pages=PAGES_PER_STEP, progress=step)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        src.close()
        dst.close()


def _walk(root: Path) -> Iterator[Path]:
    """The files under ``root``, sorted, without Cairn's bookkeeping (unfinished uploads)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_internal(d))
        for name in sorted(files):
            if not is_internal(name):
                yield Path(folder) / name


@dataclass
class CopiedFiles:
    files: int = 0
    bytes: int = 0
    vanished: int = 0


def _copy_tree(source: Path, target: Path, progress: Progress, description: str) -> CopiedFiles:
    """Copy the files under ``source`` into ``target`` one by one, progress in bytes. A file
    deleted meanwhile (a running server's gc) is counted as vanished, not an error."""
    found: list[tuple[Path, int]] = []
    for path in _walk(source):
        try:
            found.append((path, path.stat().st_size))
        except FileNotFoundError:
            continue
    progress.begin(description, sum(size for _, size in found))
    copied = CopiedFiles()
    target.mkdir(parents=True, exist_ok=True)
    for path, _size in found:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("rb") as fin, dest.open("wb") as fout:
                while chunk := fin.read(CHUNK):
                    fout.write(chunk)
                    copied.bytes += len(chunk)
                    progress.advance(len(chunk))
        except FileNotFoundError:
            copied.vanished += 1
            continue
        shutil.copystat(path, dest)
        copied.files += 1
    return copied


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _check_destination(dest: Path) -> bool:
    """Refuse a destination that is a file or a non-empty folder; True if it must be made."""
    if dest.is_dir():
        if any(dest.iterdir()):
            raise BackupError(f"the backup destination {dest} is not empty: choose a new folder")
        return False
    if dest.exists():
        raise BackupError(f"the backup destination {dest} is a file, not a folder")
    return True


def backup(
    dest: Path,
    backend_store_uri: str,
    artifacts_destination: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Back the store up into the new or empty folder ``dest``; returns the manifest."""
    progress = progress or NoProgress()
    database = sqlite_file(backend_store_uri)
    if not database.is_file():
        raise BackupError(f"there is no database at {database}")
    dest = dest.expanduser().resolve()
    made = _check_destination(dest)
    artifact_root = _local_root(artifacts_destination)
    if artifact_root is not None and dest.is_relative_to(artifact_root):
        raise BackupError(f"the backup destination {dest} is inside the artifact folder")
    dest.mkdir(parents=True, exist_ok=True)
    work = dest / f".cairn-backup-{uuid.uuid4().hex}.partial"
    try:
        work.mkdir()
        created = _now()
        db_copy = work / database.name
        _copy_database(database, db_copy, progress)
        _check_integrity(db_copy)
        artifacts: dict[str, Any] = {"source": _without_password(artifacts_destination)}
        if artifact_root is None:
            artifacts |= {"included": False, "reason": "not a local folder"}
            progress.note(
                f"artifacts not copied: {artifacts['source']} is not a local folder; back it "
                "up with its own tools (aws s3 sync …)"
            )
        elif not artifact_root.is_dir():
            artifacts |= {"included": True, "files": 0, "bytes": 0}
            progress.note(f"no artifact folder at {artifact_root}: nothing to copy")
        else:
            copied = _copy_tree(artifact_root, work / ARTIFACTS, progress, "artifact bytes")
            artifacts |= {"included": True, "files": copied.files, "bytes": copied.bytes}
            if copied.vanished:
                progress.note(f"{copied.vanished} artifact file(s) were deleted while copying")
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "cairn_version": __version__,
            "schema_revision": _schema_revision(db_copy),
            "created": created.isoformat(timespec="seconds"),
            "source_uri": redact_uri(normalize_uri(backend_store_uri)),
            "database": {
                "file": db_copy.name,
                "bytes": db_copy.stat().st_size,
                "sha256": sha256_of(db_copy),
            },
            "artifacts": artifacts,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for name in (db_copy.name, ARTIFACTS, MANIFEST):  # the manifest last: it marks done
            if (work / name).exists():
                os.replace(work / name, dest / name)
        work.rmdir()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for name in (database.name, ARTIFACTS):  # ``dest`` was empty: undo what was moved
            _remove(dest / name)
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``, checked for the fields restore needs."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not a Cairn backup: it has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        database = manifest["database"]
        name, sha = str(database["file"]), str(database["sha256"])
        int(manifest["format"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} is not a valid backup manifest ({exc})") from None
    if int(manifest["format"]) > FORMAT:
        raise BackupError(
            f"{path} has format {manifest['format']}, newer than this Cairn reads ({FORMAT}): "
            "upgrade Cairn"
        )
    if Path(name).name != name or not (source / name).is_file():
        raise BackupError(f"the backup in {source} has no database file {name!r}")
    if not isinstance(manifest.get("artifacts"), dict) or len(sha) != 64:
        raise BackupError(f"{path} is not a valid backup manifest")
    return dict(manifest)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _aside(path: Path, stamp: str) -> Path:
    return path.with_name(f"{path.name}.before-restore-{stamp}")


def _check_target(database: Path, force: bool) -> None:
    if not database.exists():
        return
    if not force:
        raise BackupError(
            f"the database {database} already exists: pass --force to replace it (it is kept "
            f"as {database.name}.before-restore-<time>)"
        )
    if in_use(database):
        raise BackupError(
            f"the database {database} is in use (a server or worker has it open): stop it first"
        )


@dataclass
class Restored:
    database: Path
    artifacts: Path | None
    kept: list[Path]
    manifest: dict[str, Any]


def restore(
    source: Path,
    backend_store_uri: str,
    artifacts_destination: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Restored:
    """Put the backup in ``source`` in place as the store at ``backend_store_uri``. Checks
    everything first; what it replaces is renamed aside, never deleted."""
    progress = progress or NoProgress()
    source = source.expanduser().resolve()
    database = sqlite_file(backend_store_uri)
    manifest = read_manifest(source)
    copy = source / manifest["database"]["file"]
    if sha256_of(copy) != manifest["database"]["sha256"]:
        raise BackupError(
            f"{copy} does not match the SHA-256 in its manifest: the backup is damaged or "
            "was changed"
        )
    revision = manifest.get("schema_revision")
    if revision is not None and revision not in known_revisions():
        raise BackupError(
            f"the backup's schema (revision {revision}, Cairn {manifest.get('cairn_version')}) "
            "is newer than this Cairn knows: upgrade Cairn (pip install --upgrade cairn-ml) "
            "to restore it"
        )
    _check_target(database, force)
    wanted = bool(manifest["artifacts"].get("included")) and (source / ARTIFACTS).is_dir()
    artifact_root = _local_root(artifacts_destination) if wanted else None
    if wanted and artifact_root is None:
        progress.note(
            f"artifacts not restored: {_without_password(artifacts_destination)} is not a "
            f"local folder; copy {source / ARTIFACTS} there with its own tools (aws s3 sync …)"
        )
    if artifact_root is not None and artifact_root.exists() and not force:
        if not artifact_root.is_dir() or any(artifact_root.iterdir()):
            raise BackupError(
                f"the artifact folder {artifact_root} is not empty: pass --force to replace "
                f"it (it is kept as {artifact_root.name}.before-restore-<time>)"
            )

    stamp = _stamp(_now())
    token = uuid.uuid4().hex
    database.parent.mkdir(parents=True, exist_ok=True)
    staged_db = database.with_name(f".{database.name}.restore-{token}")
    staged_art = (
        None
        if artifact_root is None
        else artifact_root.with_name(f".{artifact_root.name}.restore-{token}")
    )
    kept: list[Path] = []
    try:
        progress.begin("database bytes", copy.stat().st_size)
        _copy_file(copy, staged_db, progress)
        if sha256_of(staged_db) != manifest["database"]["sha256"]:
            raise BackupError(f"the copy {staged_db} does not match the backup's SHA-256")
        if staged_art is not None:
            staged_art.parent.mkdir(parents=True, exist_ok=True)
            _copy_tree(source / ARTIFACTS, staged_art, progress, "artifact bytes")
    except BaseException:
        staged_db.unlink(missing_ok=True)
        if staged_art is not None:
            shutil.rmtree(staged_art, ignore_errors=True)
        raise

    for path in (database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))):
        if path.exists():  # the old database with its log, kept as a pair SQLite can open
            target = Path(f"{_aside(database, stamp)}{path.name[len(database.name) :]}")
            os.replace(path, target)
            kept.append(target)
    os.replace(staged_db, database)
    for suffix in ("-journal", "-wal", "-shm"):  # stale files the new database must not see
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    if artifact_root is not None and staged_art is not None:
        if artifact_root.is_dir() and not any(artifact_root.iterdir()):
            artifact_root.rmdir()
        elif artifact_root.exists():
            target = _aside(artifact_root, stamp)
            os.replace(artifact_root, target)
            kept.append(target)
        os.replace(staged_art, artifact_root)
    return Restored(database, artifact_root, kept, manifest)


def _copy_file(source: Path, target: Path, progress: Progress) -> None:
    with source.open("rb") as fin, target.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
            progress.advance(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
