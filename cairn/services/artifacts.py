"""Artifact use cases: where a run's files live in the store, and what may be reached."""

from __future__ import annotations

from cairn.artifacts.base import ArtifactRepository
from cairn.artifacts.paths import clean_path, join
from cairn.entities.errors import CairnError
from cairn.entities.tracking import RunInfo

PROXY_SCHEME = "mlflow-artifacts:"


class ArtifactService:
    def __init__(self, repo: ArtifactRepository, *, serve: bool = True, max_bytes: int = 0):
        """``serve``: runs get ``mlflow-artifacts:/`` URIs and every byte goes through the
        server; otherwise clients get the storage URI and write to it themselves.
        ``max_bytes``: the largest single upload (0: no limit)."""
        self.repo = repo
        self.serve = serve
        self.max_bytes = max_bytes

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

    def in_run(self, info: RunInfo, path: str | None) -> str:
        root = self.run_root(info)
        rel = clean_path(path or "", allow_root=True)
        return join(root, rel)
