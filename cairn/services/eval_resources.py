"""What an evaluation provider may fetch from Cairn (:class:`cairn.evals.provider.Resources`):
a registered model version's files, and a dataset file.

Models come from the registry: the version's download location (a run's artifact folder, a
logged model ``models:/m-…``, or a location inside this server's artifact store) is copied
through the artifact repository into the provider's work folder.

Datasets come from one of two places, nothing else:

- a path relative to the evaluation data root (``CAIRN_EVAL_DATA_ROOT``, default
  ``<CAIRN_HOME>/eval-data``): ``..`` in any spelling (raw, percent-encoded, backslashes) and
  absolute paths outside the root are refused naming ``dataset_path``;
- a dataset logged with a run (by name, or by digest), whose source is a file this server can
  read: inside its artifact store, or inside the data root. Others are refused naming
  ``dataset``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cairn.artifacts.base import ArtifactRepository
from cairn.artifacts.paths import join
from cairn.entities.datasets import DatasetRow
from cairn.entities.errors import CairnError
from cairn.evals import data_root as roots
from cairn.evals.provider import ModelSpec
from cairn.services.artifacts import PROXY_SCHEME, ArtifactService

MAX_MODEL_FILES = 10_000
"""A model folder with more files than this is refused (a bound on the copy loop)."""
MAX_DATASET_MATCHES = 20
LOGGED_MODEL_PREFIX = "models:/m-"
NO_FILE = "no such file under the evaluation data root"


def copy_tree(repo: ArtifactRepository, path: str, into: Path) -> int:
    """Copy the file or folder at repository ``path`` to ``into`` (a folder for a folder);
    returns the number of files copied (at most :data:`MAX_MODEL_FILES`)."""
    info = repo.stat(path) if path else None
    if info is not None and not info.is_dir:
        into.parent.mkdir(parents=True, exist_ok=True)
        _copy_file(repo, path, into)
        return 1
    copied = 0
    pending = [(path, into)]
    for _ in range(MAX_MODEL_FILES + 1):
        if not pending:
            return copied
        folder, target = pending.pop()
        target.mkdir(parents=True, exist_ok=True)
        for entry in repo.listdir(folder):
            child = join(folder, entry.path)
            if entry.is_dir:
                pending.append((child, target / entry.path))
                continue
            copied += 1
            if copied > MAX_MODEL_FILES:
                break
            _copy_file(repo, child, target / entry.path)
        if copied > MAX_MODEL_FILES:
            break
    raise CairnError.invalid(f"model: the folder has more than {MAX_MODEL_FILES} files")


def _copy_file(repo: ArtifactRepository, path: str, target: Path) -> None:
    with target.open("wb") as handle:
        for chunk in repo.read(path):
            handle.write(chunk)


def _find_mlmodel(root: Path) -> Path | None:
    if (root / "MLmodel").is_file():
        return root
    found = sorted(root.rglob("MLmodel"), key=lambda p: len(p.parts))
    return found[0].parent if found else None


class ServiceResources:
    """:class:`~cairn.evals.provider.Resources` over the app's services (``registry``,
    ``artifacts``, ``logged_models``, ``datasets``, as :func:`build_services` names them)."""

    def __init__(self, services: Mapping[str, Any], data_root: Path | None = None):
        self.services = services
        self.data_root = (data_root or roots.data_root()).resolve()

    @property
    def _artifacts(self) -> ArtifactService:
        artifacts: ArtifactService = self.services["artifacts"]
        return artifacts

    # ------------------------------------------------------------------------------ models
    def model_dir(self, model: ModelSpec, into: Path) -> Path:
        name, version = model.registered_name, model.registered_version
        if not name or version is None:
            raise CairnError.invalid(
                f"model: {model.name!r} is not a registered model version; give a models:/ "
                "URI (models:/NAME/VERSION, /STAGE, /latest or @ALIAS)"
            )
        uri = self.services["registry"].download_uri(name, version)
        uri = self._logged_model_location(uri, name, version)
        try:
            repo_path = self._artifacts.repo_path_of(uri, f"model {name} version {version}")
        except CairnError as exc:
            raise CairnError.invalid(f"model: {exc.message}") from None
        target = into / "model"
        if target.exists():
            shutil.rmtree(target)
        copy_tree(self._artifacts.repo, repo_path, target)
        folder = _find_mlmodel(target)
        if folder is None:
            raise CairnError.invalid(
                f"model: version {version} of registered model '{name}' has no MLmodel file "
                f"at its source ({uri[:300]})"
            )
        return folder

    def _logged_model_location(self, uri: str, name: str, version: int) -> str:
        """A version registered from ``models:/m-…`` whose logged model the registry could
        not resolve: ask the logged models once more."""
        if not uri.startswith(LOGGED_MODEL_PREFIX):
            return uri
        model_id = uri[len("models:/") :].strip("/")
        logged = self.services.get("logged_models")
        found = logged.artifact_uri(model_id) if logged is not None else None
        if not found:
            raise CairnError.invalid(
                f"model: version {version} of '{name}' comes from the logged model "
                f"{model_id}, which does not exist (any more)"
            )
        return str(found)

    # ---------------------------------------------------------------------------- datasets
    def dataset_file(self, ref: str, into: Path) -> Path:
        """``ref`` as given in a benchmark config: ``dataset_path`` values are plain paths,
        ``dataset`` values a logged dataset's name or digest; a ``dataset:`` prefix forces the
        latter (providers pass ``dataset:<name>`` for a ``dataset`` config)."""
        if not isinstance(ref, str) or not ref.strip():
            raise CairnError.invalid("dataset_path: expected a non-empty path")
        if ref.startswith("dataset:"):
            return self._logged_dataset(ref[len("dataset:") :], into)
        try:
            return self.data_file(ref, "dataset_path")
        except CairnError as missing:
            if not str(missing.message).endswith(NO_FILE):
                raise
            try:
                return self._logged_dataset(ref, into)
            except CairnError as exc:
                raise CairnError.invalid(
                    f"dataset_path: no file {ref[:200]!r} under the evaluation data root, and "
                    f"no logged dataset (dataset) of that name or digest: {exc.message}"
                ) from None

    def data_file(self, ref: str, field: str) -> Path:
        """The file at ``ref`` under the data root (checked, not copied), or a 400 naming
        ``field``: traversal in any encoding, absolute paths outside the root, missing files."""
        resolved = roots.confined_path(ref, field, self.data_root)
        if not resolved.is_file():
            raise CairnError.invalid(f"{field}: {ref[:200]!r}: {NO_FILE}")
        return resolved

    def find_dataset(self, ref: str) -> DatasetRow:
        """The newest logged dataset named ``ref`` or with digest ``ref``; 400 naming
        ``dataset`` when there is none."""
        if not ref or len(ref) > 500:
            raise CairnError.invalid("dataset: expected a logged dataset's name or digest")
        found = self.services["datasets"].find(ref, MAX_DATASET_MATCHES)
        if not found:
            raise CairnError.invalid(f"dataset: no logged dataset has the name or digest {ref!r}")
        row: DatasetRow = found[0]
        return row

    def _logged_dataset(self, ref: str, into: Path) -> Path:
        row = self.find_dataset(ref)
        uri = _source_uri(row)
        if uri is None:
            raise CairnError.invalid(
                f"dataset: the source of dataset {row.name!r} ({row.source_type}) is not a "
                "file Cairn can read; log it from a file in the artifact store or the data root"
            )
        suffix = Path(urlparse(uri).path).suffix
        if uri.startswith((PROXY_SCHEME, self._artifacts.repo.root_uri)):
            try:
                path = self._artifacts.repo_path_of(uri, f"dataset {row.name}")
            except CairnError as exc:
                raise CairnError.invalid(f"dataset: {exc.message}") from None
            into.mkdir(parents=True, exist_ok=True)
            target = into / f"dataset{suffix}"
            if self._artifacts.repo.stat(path) is None:
                raise CairnError.invalid(f"dataset: the file of {row.name!r} is missing")
            copy_tree(self._artifacts.repo, path, target)
            return target
        local = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
        if "://" in local:
            raise CairnError.invalid(
                f"dataset: the source of {row.name!r} ({uri[:200]}) is outside this server's "
                "artifact store and the evaluation data root"
            )
        return self.data_file(local, "dataset")


def _source_uri(row: DatasetRow) -> str | None:
    """The file location a dataset's source names (MLflow keeps ``{"uri": …}`` JSON)."""
    text = (row.source or "").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value
        return None
    return parsed if isinstance(parsed, str) and parsed else None
