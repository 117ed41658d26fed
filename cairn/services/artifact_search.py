"""Artifacts across runs: the files of the runs of one experiment or of every experiment the
caller may read, newest runs first, searched by path and filtered by type.

Artifacts live in the artifact store, not the database, so a listing walks the runs' folders.
Every request is bounded: at most :data:`MAX_RUNS_PER_PAGE` runs and :data:`MAX_FILES_PER_RUN`
entries of each run are walked, and a page holds at most :data:`MAX_RESULTS` artifacts. A page
that ran out of runs to walk before it was full still carries a ``next_page_token``: the
listing goes on from there. A model folder (one holding an ``MLmodel`` file) is one entry of
type ``model``, with the size and file count of everything under it; so is each MLflow 3
logged model a run produced (listed after the run's own files, by name; not when the listing
is limited to a folder of the runs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from cairn.artifacts.base import ArtifactRepository, FileInfo
from cairn.artifacts.paths import clean_path, join
from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError
from cairn.entities.tracking import parse_experiment_id
from cairn.services.artifacts import ArtifactService
from cairn.store import artifact_runs as store
from cairn.store.artifact_runs import RunModel, RunRoot
from cairn.store.db import Database
from cairn.store.paging import check_max_results, decode_token, encode_token, query_fingerprint

MAX_RESULTS = 500
MAX_RUNS_PER_PAGE = 200
MAX_FILES_PER_RUN = 5000
MAX_QUERY_LENGTH = 200
RUN_BATCH = 50
MODEL_FILE = "MLmodel"


class ArtifactType(StrEnum):
    MODEL = "model"
    IMAGE = "image"
    CONFIG = "config"
    LOG = "log"
    REPORT = "report"
    DATA = "data"
    MEDIA = "media"
    OTHER = "other"


_EXTENSIONS: dict[ArtifactType, tuple[str, ...]] = {
    ArtifactType.MODEL: (
        "pkl", "pickle", "joblib", "pt", "pth", "onnx", "h5", "keras", "safetensors", "ckpt",
        "gguf", "tflite", "pb", "ubj", "cbm",
    ),
    ArtifactType.IMAGE: ("png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "tif", "tiff", "avif"),
    ArtifactType.CONFIG: ("json", "yaml", "yml", "toml", "ini", "cfg", "conf", "properties", "env"),
    ArtifactType.LOG: ("log", "txt", "out", "err", "stdout", "stderr"),
    ArtifactType.REPORT: ("html", "htm", "md", "markdown", "pdf", "ipynb", "rst"),
    ArtifactType.DATA: ("csv", "tsv", "parquet", "pq", "jsonl", "npy", "npz", "arrow", "feather"),
    ArtifactType.MEDIA: ("mp3", "wav", "ogg", "oga", "flac", "m4a", "mp4", "webm", "mov", "ogv"),
}  # fmt: skip
_BY_EXTENSION = {ext: kind for kind, exts in _EXTENSIONS.items() for ext in exts}


def artifact_type(path: str) -> ArtifactType:
    """The type of a file, from its name: a name with "report" in it is a report whatever
    its extension (``classification_report.txt``); otherwise by extension."""
    name = path.rsplit("/", 1)[-1].lower()
    if name == MODEL_FILE.lower():
        return ArtifactType.MODEL
    if "report" in name:
        return ArtifactType.REPORT
    extension = name.rsplit(".", 1)[-1] if "." in name.lstrip(".") else ""
    return _BY_EXTENSION.get(extension, ArtifactType.OTHER)


def parse_type(value: str | None) -> ArtifactType | None:
    if value is None or value == "":
        return None
    try:
        return ArtifactType(value)
    except ValueError:
        known = ", ".join(t.value for t in ArtifactType)
        raise CairnError.invalid(
            f"Invalid value {value[:40]!r} for parameter 'type': it must be one of {known}"
        ) from None


@dataclass(frozen=True, slots=True)
class ArtifactHit:
    """One artifact of a run: ``path`` is relative to the run's artifact root, or for a logged
    model (``model_id`` set) its name, its files at ``artifact_uri``."""

    run: RunRoot
    path: str
    is_dir: bool
    file_size: int | None
    type: ArtifactType
    files: int
    """How many files the entry stands for (a model folder's files; 1 for a file)."""
    model_id: str | None = None
    artifact_uri: str | None = None


@dataclass(frozen=True, slots=True)
class ArtifactPage:
    items: list[ArtifactHit]
    next_page_token: str | None
    scanned_runs: int
    """How many runs this page walked."""


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    is_dir: bool
    size: int | None
    files: int
    model: RunModel | None = None


class ArtifactSearchService:
    def __init__(self, db: Database, artifacts: ArtifactService):
        self.db = db
        self.artifacts = artifacts

    @property
    def repo(self) -> ArtifactRepository:
        return self.artifacts.repo

    def search(
        self,
        experiment_id: object | None = None,
        query: str | None = None,
        type_: str | None = None,
        path: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        *,
        visibility: Visibility = ALL,
    ) -> ArtifactPage:
        """A page of artifacts whose run-relative path holds ``query`` (case-insensitive),
        of type ``type_``, under the run folder ``path`` (all of it when None), from the newest
        runs of ``experiment_id`` (or of every experiment
        ``visibility`` lets the caller read) back."""
        eid = parse_experiment_id(experiment_id) if experiment_id is not None else None
        check_max_results(max_results, MAX_RESULTS)
        wanted = parse_type(type_)
        needle = (query or "").strip().lower()
        if len(needle) > MAX_QUERY_LENGTH:
            raise CairnError.invalid(
                f"Invalid value for parameter 'q': it is {len(needle)} characters long; "
                f"the limit is {MAX_QUERY_LENGTH}"
            )
        folder = clean_path(path or "", allow_root=True)
        fingerprint = query_fingerprint("artifacts", eid, needle, wanted, folder)
        before: int | None = None
        skip = 0
        if page_token:
            before, skip = decode_token(page_token, fingerprint, 2)
            if not isinstance(before, int) or not isinstance(skip, int) or skip < 0:
                raise CairnError.invalid("Invalid page_token: not a token this server made")
        if eid is not None and not self.db.read(
            lambda c: store.experiment_readable(c, eid, visibility)
        ):
            raise CairnError.not_found(f"No experiment with id={eid}")

        hits: list[ArtifactHit] = []
        scanned = 0
        token: list[int] | None = None
        done = False
        while not done:
            batch = min(RUN_BATCH, MAX_RUNS_PER_PAGE - scanned)
            runs = self.db.read(
                partial(
                    store.runs_before,
                    experiment_id=eid,
                    before=before,
                    limit=batch,
                    visibility=visibility,
                )
            )
            done = len(runs) < batch  # every run walked, unless a page fills first
            ids = [r.run_id for r in runs]
            models = self.db.read(partial(store.run_models, run_ids=ids)) if not folder else []
            for run in runs:
                scanned += 1
                entries = self._walk(run, folder)
                entries += [self._model(m) for m in models if m.run_id == run.run_id]
                rest = [e for e in entries if _matches(e, needle, wanted)][skip:]
                room = max_results - len(hits)
                if len(rest) > room:
                    hits.extend(_hit(run, e) for e in rest[:room])
                    token, done = [run.key, skip + room], True
                    break
                hits.extend(_hit(run, e) for e in rest)
                skip = 0
                before = run.key - 1
                if len(hits) == max_results or scanned >= MAX_RUNS_PER_PAGE:
                    token = [before, 0] if self._more(eid, before, visibility) else None
                    done = True
                    break
        next_token = encode_token(token, fingerprint) if token is not None else None
        return ArtifactPage(hits, next_page_token=next_token, scanned_runs=scanned)

    def _more(self, eid: int | None, before: int, visibility: Visibility) -> bool:
        """Whether a run is left at or before ``before``."""
        return bool(self.db.read(lambda c: store.runs_before(c, eid, before, 1, visibility)))

    def _walk(self, run: RunRoot, folder: str) -> list[_Entry]:
        """The run's files (model folders as one entry each), in path order, at most
        :data:`MAX_FILES_PER_RUN` listed; nothing for a run whose artifacts are stored
        outside this server's artifact store."""
        try:
            root = self.artifacts.repo_path_of(run.artifact_uri or "", f"run {run.run_id}")
        except CairnError:
            return []
        budget = [MAX_FILES_PER_RUN]
        return list(self._folder(root, folder, budget))

    def _model(self, model: RunModel) -> _Entry:
        """A logged model as one entry (its files summed), after the run's own files."""
        try:
            root = self.artifacts.repo_path_of(model.artifact_location, f"model {model.model_id}")
        except CairnError:
            return _Entry(model.name, True, None, 0, model)
        budget = [MAX_FILES_PER_RUN]
        size, files = self._total(root, "", self.repo.listdir(root), budget)
        return _Entry(model.name, True, size, files, model)

    def _folder(self, root: str, rel: str, budget: list[int]) -> Iterator[_Entry]:
        if budget[0] <= 0:
            return
        children = sorted(self.repo.listdir(join(root, rel)), key=lambda f: f.path)
        budget[0] -= len(children)
        if rel and any(not c.is_dir and _name(c.path) == MODEL_FILE for c in children):
            size, files = self._total(root, rel, children, budget)
            yield _Entry(rel, True, size, files)
            return
        for child in children:
            path = join(rel, _name(child.path))
            if child.is_dir:
                yield from self._folder(root, path, budget)
            else:
                yield _Entry(path, False, child.file_size, 1)

    def _total(
        self, root: str, rel: str, children: list[FileInfo], budget: list[int]
    ) -> tuple[int, int]:
        """The size and file count of everything under folder ``rel`` (listed: ``children``)."""
        size = files = 0
        pending = [(rel, children)]
        while pending:
            here, listing = pending.pop()
            for child in listing:
                path = join(here, _name(child.path))
                if not child.is_dir:
                    size += child.file_size or 0
                    files += 1
                elif budget[0] > 0:
                    below = self.repo.listdir(join(root, path))
                    budget[0] -= len(below)
                    pending.append((path, below))
        return size, files


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _matches(entry: _Entry, needle: str, wanted: ArtifactType | None) -> bool:
    if needle and needle not in entry.path.lower():
        return False
    return wanted is None or _type_of(entry) == wanted


def _type_of(entry: _Entry) -> ArtifactType:
    return ArtifactType.MODEL if entry.is_dir else artifact_type(entry.path)


def _hit(run: RunRoot, entry: _Entry) -> ArtifactHit:
    model = entry.model
    return ArtifactHit(
        run,
        entry.path,
        entry.is_dir,
        entry.size,
        _type_of(entry),
        entry.files,
        model.model_id if model else None,
        model.artifact_location if model else run.artifact_uri,
    )
