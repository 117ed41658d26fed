"""Reading an offline Cairn store (the embedded SQLite store and its artifact folder).

Everything here reads through Cairn's own store functions, on a :class:`Database` that is
never started as a writer: the source is not modified (apart from the sync's own state
folder next to the database, see :mod:`cairn.sync.ledger`).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cairn.artifacts.base import FileInfo
from cairn.artifacts.local import LocalArtifactRepository
from cairn.entities.errors import CairnError
from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import Experiment, Run, RunQuery, ViewType
from cairn.store import metrics as metric_store
from cairn.store import runs as run_store
from cairn.store.db import Database
from cairn.store.experiment_search import search_experiments
from cairn.store.metric_keys import MetricKeys
from cairn.store.migrate import current_revision, head_revision, known_revisions
from cairn.store.paging import encode_token, query_fingerprint
from cairn.store.registry_search import search_models, search_versions
from cairn.store.run_search import search_runs
from cairn.store.schema import metric_keys, metrics
from cairn.sync.errors import SyncError

DB_NAME = "cairn.db"
ARTIFACTS_DIR = "artifacts"
STATE_DIR = ".cairn-sync"
PAGE = 1000

#: a stored point: (step, timestamp, value, is_nan), the order history reads return
StoredPoint = tuple[int, int, float, bool]


@dataclass
class ImportedModel:
    """A logged model (MLflow 3) and the local folder of its artifacts."""

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    model_type: str | None
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    folder: Path | None = None
    lifecycle_stage: str = "active"


@dataclass(frozen=True)
class SourceLocation:
    db_path: Path
    artifacts_root: Path
    state_dir: Path


def locate(source: str, artifacts: str | None = None) -> SourceLocation:
    """Where the database, the artifacts and the sync state of ``source`` are.

    ``source`` is a store directory (holding ``cairn.db``, as ``cairn server`` lays out
    ``./cairn-data``), a ``sqlite:///path.db`` URI, or the path of the ``.db`` file itself.
    Artifacts stored as ``mlflow-artifacts:/…`` are looked up in ``artifacts`` (default: the
    ``artifacts`` folder next to the database).
    """
    if "://" in source or source.startswith("sqlite:"):
        scheme = source.split(":", 1)[0].lower()
        if scheme != "sqlite":
            raise SyncError(
                f"'{source}' is not an offline store: sync reads a store directory, a "
                "sqlite:/// URI or a .db file (a server's PostgreSQL store is already online)"
            )
        database = make_url(source).database
        if not database or database == ":memory:":
            raise SyncError(f"'{source}' names no SQLite file")
        db_path = Path(database)
        if not db_path.is_file():
            raise SyncError(f"'{source}': the SQLite file {db_path} does not exist")
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            db_path = path / DB_NAME
            if not db_path.is_file():
                raise SyncError(
                    f"'{source}' is not a Cairn store: the folder has no {DB_NAME} (a store "
                    f"directory holds {DB_NAME} and {ARTIFACTS_DIR}/, like ./cairn-data)"
                )
        elif path.is_file():
            db_path = path
        else:
            raise SyncError(f"'{source}' does not exist")
    db_path = Path(os.path.realpath(db_path))
    root = Path(artifacts).expanduser() if artifacts else db_path.parent / ARTIFACTS_DIR
    state = db_path.parent / STATE_DIR
    if db_path.name != DB_NAME:
        state = state / db_path.stem
    return SourceLocation(db_path, Path(os.path.realpath(root)), state)


def _check_is_cairn_store(db_path: Path) -> None:
    """Refuse files that are not SQLite databases with Cairn's schema, without writing."""
    try:
        conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SyncError(f"{db_path} is not a Cairn store: not a SQLite database ({exc})") from None
    missing = {"alembic_version", "experiments", "runs", "metrics"} - tables
    if missing:
        raise SyncError(
            f"{db_path} is not a Cairn store: it has no {', '.join(sorted(missing))} table(s)"
        )


class LocalFiles:
    """Listing and streaming a run's artifact files from a local folder (every source keeps
    them on disk)."""

    def artifact_files(self, folder: Path) -> Iterator[tuple[str, int, int]]:
        """Every file under ``folder``: (relative path, size, mtime in ns), sorted."""
        if not folder.is_dir():
            return
        repo = LocalArtifactRepository(folder)
        pending = [""]
        for _ in range(10**7):
            if not pending:
                return
            directory = pending.pop()
            entries: list[FileInfo] = repo.listdir(directory)
            for entry in reversed(entries):
                rel = f"{directory}/{entry.path}" if directory else entry.path
                if entry.is_dir:
                    pending.append(rel)
                    continue
                local = repo.local_path(rel)
                if local is None:
                    continue
                try:
                    st = local.stat()
                except FileNotFoundError:
                    continue
                yield rel, st.st_size, st.st_mtime_ns

    def read_artifact(self, folder: Path, rel: str, size: int) -> Iterator[bytes]:
        """The first ``size`` bytes of one artifact file, streamed in 1 MiB chunks."""
        if size == 0:
            return iter(())
        repo = LocalArtifactRepository(folder)
        try:
            return repo.read(rel, 0, size - 1)
        except CairnError as exc:
            raise SyncError(f"Cannot read artifact {folder / rel}: {exc.message}") from None


class SourceStore(LocalFiles):
    """An offline store opened for reading."""

    keep_ids = False  # a sync makes new runs on the server; the sync tag finds them again

    def __init__(self, location: SourceLocation):
        self.location = location
        _check_is_cairn_store(location.db_path)
        self.db = Database(f"sqlite:///{location.db_path}", pool_size=2)
        try:
            revision = current_revision(self.db.engine)
        except DBAPIError as exc:
            self.db.close()
            raise SyncError(f"{location.db_path} cannot be read: {exc.orig}") from None
        head = head_revision()
        if revision != head:
            self.db.close()
            if revision is not None and revision not in known_revisions():
                raise SyncError(
                    f"{location.db_path} was written by a newer Cairn (schema {revision}); "
                    "upgrade Cairn to sync it"
                )
            raise SyncError(
                f"{location.db_path} has schema {revision or 'none'}, this Cairn needs {head}: "
                f"run `cairn db upgrade --backend-store-uri sqlite:///{location.db_path}` first"
            )
        self.keys = MetricKeys()
        self._store_id: str | None = None

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------- identity
    @property
    def state_dir(self) -> Path:
        return self.location.state_dir

    def logged_models(self) -> list[ImportedModel]:
        return []  # a sync copies runs and registry versions, not MLflow 3 logged models

    def has_state(self) -> bool:
        """Whether a sync ever ran from this store (it made the store id)."""
        return (self.location.state_dir / "store-id").is_file()

    @property
    def store_id(self) -> str:
        """A stable id for this store, kept in ``<state dir>/store-id`` (made on first use).
        It travels with the folder, so a copied store keeps its identity."""
        if self._store_id is None:
            path = self.location.state_dir / "store-id"
            if path.is_file():
                found = path.read_text().strip()
                if found:
                    self._store_id = found
            if self._store_id is None:
                self._store_id = self._new_store_id(path)
        return self._store_id

    @staticmethod
    def _new_store_id(path: Path) -> str:
        fresh = uuid.uuid4().hex
        tmp = path.with_name(f".store-id.{fresh}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(fresh + "\n")
            try:
                os.link(tmp, path)  # fails if another sync made one meanwhile
            except FileExistsError:
                fresh = path.read_text().strip()
            finally:
                tmp.unlink()
        except OSError as exc:
            raise SyncError(f"Cannot write the store id {path}: {exc.strerror}") from None
        return fresh

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        """Active experiments, oldest first."""
        out: list[Experiment] = []
        token: str | None = None
        for _ in range(10**6):
            read = partial(
                search_experiments,
                view_type=ViewType.ACTIVE_ONLY,
                max_results=PAGE,
                filter_text=None,
                order_by=["experiment_id ASC"],
                page_token=token,
            )
            page = self.db.read(read)
            out.extend(page.items)
            token = page.next_page_token
            if not token:
                break
        return out

    def runs(self, experiment_id: str) -> list[Run]:
        """Active runs of one experiment with params, tags and dataset inputs, oldest first."""
        out: list[Run] = []
        token: str | None = None
        for _ in range(10**6):
            query = RunQuery(
                experiment_ids=[int(experiment_id)],
                view_type=ViewType.ACTIVE_ONLY,
                max_results=PAGE,
                order_by=("attributes.start_time ASC",),
                page_token=token,
            )
            page = self.db.read(partial(search_runs, keys=self.keys, q=query))
            out.extend(page.items)
            token = page.next_page_token
            if not token:
                break
        return out

    # ------------------------------------------------------------------- registry
    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        """Every registered model with its versions (oldest version first)."""
        models: list[RegisteredModel] = []
        token: str | None = None
        for _ in range(10**6):
            read_models = partial(
                search_models, filter_text=None, max_results=PAGE, order_by=[], page_token=token
            )
            page = self.db.read(read_models)
            models.extend(page.items)
            token = page.next_page_token
            if not token:
                break
        versions: dict[str, list[ModelVersion]] = {m.name: [] for m in models}
        token = None
        for _ in range(10**6):
            read_versions = partial(
                search_versions,
                filter_text=None,
                max_results=10 * PAGE,
                order_by=[],
                page_token=token,
            )
            vpage = self.db.read(read_versions)
            for version in vpage.items:
                versions.setdefault(version.name, []).append(version)
            token = vpage.next_page_token
            if not token:
                break
        return [(m, sorted(versions[m.name], key=lambda v: v.version)) for m in models]

    # -------------------------------------------------------------------- metrics
    def metric_counts(self, run_id: str) -> dict[str, int]:
        """How many points each metric of a run has (no store function counts them)."""

        def read(c: Connection) -> dict[str, int]:
            row = run_store.resolve(c, run_id)
            m, k = metrics.c, metric_keys.c
            rows = c.execute(
                select(k.key, func.count())
                .select_from(metrics.join(metric_keys, k.id == m.key_id))
                .where(m.run_id == row.id)
                .group_by(k.key)
            ).all()
            return {key: int(n) for key, n in rows}

        return self.db.read(read)

    def history_after(
        self, run_id: str, key: str, after: StoredPoint | None, page_size: int = PAGE
    ) -> Iterator[list[StoredPoint]]:
        """A metric's points in stored order, in pages, starting after ``after`` (the last
        point already delivered) or from the beginning."""
        internal = self.db.read(lambda c: run_store.resolve(c, run_id)).id
        token = None
        if after is not None:
            fingerprint = query_fingerprint("history", internal, key)
            token = encode_token([after[0], after[1], after[2], bool(after[3])], fingerprint)
        for _ in range(10**9):
            read = partial(
                metric_store.history,
                keys=self.keys,
                run_id=internal,
                key=key,
                max_results=page_size,
                page_token=token,
            )
            page = self.db.read(read)
            if page.points:
                yield [(int(s), int(t), float(v), bool(n)) for s, t, v, n in page.points]
            token = page.next_page_token
            if not token:
                return

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        """The local folder holding a run's artifacts; None for storage sync cannot read."""
        if not artifact_uri:
            return None
        parts = urlsplit(artifact_uri)
        scheme = parts.scheme.lower()
        if scheme == "mlflow-artifacts":
            return self.location.artifacts_root / unquote(parts.path).lstrip("/")
        if scheme == "file":
            return Path(unquote(parts.path))
        if scheme == "" and artifact_uri.startswith("/"):
            return Path(artifact_uri)
        return None
