"""``cairn export mlflow``: a Cairn store (the embedded one, or a server given by ``--from``)
written back into MLflow: an mlruns folder (:mod:`cairn.sync.mlruns_writer`) or, over MLflow's
REST API, a stock MLflow server (the sync engine, with the Cairn store as its source).

The Cairn store is read the way :mod:`cairn.sync.mlflow_server` reads any MLflow server: the
embedded store through the SDK's in-process transport, a server over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from cairn.entities.tracking import Experiment
from cairn.sync.engine import Progress, SyncReport
from cairn.sync.errors import SyncError
from cairn.sync.imports import Verifier, destination
from cairn.sync.mlflow_files import MlrunsSource
from cairn.sync.mlflow_server import MlflowServerSource
from cairn.sync.mlruns_writer import MlrunsWriter
from cairn.sync.remote import Destination


def is_url(to: str) -> bool:
    return urlsplit(to).scheme in ("http", "https")


@contextmanager
def cairn_source(
    from_url: str | None,
    *,
    state_dir: Path | None = None,
    experiments: list[str] | None = None,
) -> Iterator[tuple[MlflowServerSource, Destination]]:
    """The Cairn store to export (``from_url`` None: the embedded store ``cairn server``
    would open) as a source, and the client it is read through."""
    with destination(from_url, must_exist=True) as api:
        source = MlflowServerSource(api.url, state_dir=state_dir, experiments=experiments, api=api)
        try:
            yield source, api
        finally:
            source.close()


def run_export(
    from_url: str | None,
    to: str,
    *,
    experiments: list[str] | None = None,
    state_dir: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Export the Cairn store at ``from_url`` into ``to``: an mlruns folder, or the URL of
    an MLflow server."""
    if is_url(to):
        raise SyncError("--to URL: exporting to an MLflow server is not there yet")
    with cairn_source(from_url, state_dir=state_dir, experiments=experiments) as (source, _):
        return MlrunsWriter(Path(to), source, dry_run=dry_run, progress=progress).run()


def verify_export(
    from_url: str | None,
    to: str,
    *,
    experiments: list[str] | None = None,
) -> list[str]:
    """Compare the export at ``to`` with the Cairn store. The export, read back as a source,
    must match Cairn field by field (the import's verifier, run the other way); and what
    Cairn has must be in the export: every experiment, every metric and every artifact
    file of each run. The differences (empty: equal)."""
    if is_url(to):
        raise SyncError("--to URL: exporting to an MLflow server is not there yet")
    folder = Path(to)
    with cairn_source(from_url, experiments=experiments) as (source, api):
        exported = MlrunsSource(folder)
        try:
            mine = {e.name: e for e in source.experiments()}
            theirs = {e.name: e for e in exported.experiments() if e.name in mine}
            out = [
                f"experiment '{n}': missing from {folder}" for n in sorted(set(mine) - set(theirs))
            ]
            exported.only = set(theirs) or {""}
            out.extend(Verifier(exported, api, "in the export", "in Cairn").run())
            for name, experiment in theirs.items():
                out.extend(_missing(source, mine[name].experiment_id, exported, experiment))
        finally:
            exported.close()
    return out


def _missing(
    cairn: MlflowServerSource, cairn_id: str, exported: MlrunsSource, experiment: Experiment
) -> Iterator[str]:
    """What a Cairn experiment's runs have that their exported copies lack (metrics and
    artifact files; the verifier compares only what the export holds)."""
    copies = {r.info.run_id: r for r in exported.runs(experiment.experiment_id)}
    for run in cairn.runs(cairn_id):
        rid = run.info.run_id
        copy = copies.get(rid)
        if copy is None:
            continue  # the verifier names it
        there = exported.metric_counts(rid)
        for key in sorted(set(cairn.metric_counts(rid)) - set(there)):
            yield f"run {rid}: metric '{key}' missing from the export"
        handle = cairn.artifact_dir(run.info.artifact_uri)
        local = exported.artifact_dir(copy.info.artifact_uri)
        if handle is None or local is None:
            continue
        have = {rel for rel, _, _ in exported.artifact_files(local)}
        for rel, _, _ in cairn.artifact_files(handle):
            if rel not in have:
                yield f"run {rid}: artifact '{rel}' missing from the export"
