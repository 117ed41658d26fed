"""Artifact use cases: where a run's files live in the store, and what may be reached."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

from cairn.artifacts.base import ArtifactRepository
from cairn.artifacts.paths import clean_path, join
from cairn.entities.errors import CairnError
from cairn.entities.tracking import RunInfo
from cairn.store import artifact_events
from cairn.store.db import Database

PROXY_SCHEME = "mlflow-artifacts:"
CHUNK = 1024 * 1024


class ArtifactService:
    def __init__(
        self,
        repo: ArtifactRepository,
        *,
        serve: bool = True,
        max_bytes: int = 0,
        db: Database | None = None,
    ):
        """``serve``: runs get ``mlflow-artifacts:/`` URIs and every byte goes through the
        server; otherwise clients get the storage URI and write to it themselves.
        ``max_bytes``: the largest single upload (0: no limit). ``db``: where the change
        events of the artifacts written and deleted through the server go (None: nowhere,
        for offline tools that record their own changes)."""
        self.repo = repo
        self.serve = serve
        self.max_bytes = max_bytes
        self.db = db

    async def written(self, path: str, size: int) -> None:
        """Record that the file at repository ``path`` was written (``artifact.write``),
        once its bytes are in place: in a write of its own, since the bytes are not in the
        database."""
        await self._record("artifact.write", path, None, {"size": size})

    async def deleted(self, path: str, files: int) -> None:
        """Record that ``files`` files at or under ``path`` were deleted (``artifact.delete``);
        nothing when there was nothing to delete."""
        if files:
            await self._record("artifact.delete", path, {"files": files}, None)

    async def _record(
        self,
        action: str,
        path: str,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> None:
        if self.db is not None:
            await self.db.awrite(
                partial(
                    artifact_events.record, action=action, path=path, before=before, after=after
                ),
                small=True,
            )

    @property
    def default_root(self) -> str:
        """What new experiments' artifact locations start with."""
        return PROXY_SCHEME if self.serve else self.repo.root_uri

    def run_root(self, info: RunInfo) -> str:
        """The repository path of a run's artifact directory."""
        uri = info.artifact_uri or ""
        return self.repo_path_of(uri, f"run {info.run_id}")

    def repo_path_of(self, uri: str, what: str) -> str:
        """Map an artifact URI handed out by this server onto a repository path."""
        if uri.startswith(PROXY_SCHEME):
            return clean_path(uri[len(PROXY_SCHEME) :].lstrip("/"), allow_root=True)
        root = self.repo.root_uri.rstrip("/")
        if uri == root or uri.startswith(root + "/"):
            return clean_path(uri[len(root) :].lstrip("/"), allow_root=True)
        raise CairnError.invalid(
            f"The artifacts of {what} are stored at '{uri}', outside this server's artifact "
            f"store ({self.repo.root_uri}); read them from there directly"
        )

    def put_file(self, info: RunInfo, path: str, source: Path) -> int:
        """Write a local file as the run's artifact ``path`` (replacing one there) from a
        worker thread or job; records ``artifact.write``. Returns the size."""
        with source.open("rb") as handle:
            return self._put(info, path, iter(lambda: handle.read(CHUNK), b""))

    def put_bytes(self, info: RunInfo, path: str, data: bytes) -> int:
        """:meth:`put_file` for bytes in memory."""
        return self._put(info, path, iter((data,)))

    def _put(self, info: RunInfo, path: str, chunks: Iterator[bytes]) -> int:
        target = self.in_run(info, path)
        writer = self.repo.open_write(target)
        try:
            for chunk in chunks:
                writer.write(chunk)
            size = writer.commit()
        except BaseException:
            writer.abort()
            raise
        if self.db is not None:
            self.db.write(
                partial(
                    artifact_events.record,
                    action="artifact.write",
                    path=target,
                    before=None,
                    after={"size": size},
                )
            )
        return size

    def in_run(self, info: RunInfo, path: str | None) -> str:
        root = self.run_root(info)
        rel = clean_path(path or "", allow_root=True)
        return join(root, rel)
