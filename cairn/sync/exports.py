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
from cairn.sync.engine import Progress, Syncer, SyncReport
from cairn.sync.importing import home_state_dir
from cairn.sync.imports import Verifier, destination
from cairn.sync.ledger import Ledger
from cairn.sync.mlflow_files import MlrunsSource
from cairn.sync.mlflow_server import MlflowServerSource
from cairn.sync.mlruns_writer import MlrunsWriter
from cairn.sync.remote import Destination, Hook


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
        state = state_dir or home_state_dir(f"cairn-export:{api.identity}")
        source = MlflowServerSource(api.url, state_dir=state, experiments=experiments, api=api)
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
    request_hook: Hook | None = None,
) -> SyncReport:
    """Export the Cairn store at ``from_url`` into ``to``: an mlruns folder, or the URL of
    an MLflow server. A server gives the runs (and logged models) new ids: each run carries
    the tag ``cairn.sync.source = <store id>/<Cairn run id>`` and the ledger in the state
    folder maps one to the other, so exporting again sends only what is new."""
    with cairn_source(from_url, state_dir=state_dir, experiments=experiments) as (source, _):
        if not is_url(to):
            return MlrunsWriter(Path(to), source, dry_run=dry_run, progress=progress).run()
        source.keep_ids = False  # MLflow makes its own run ids
        with destination(to, request_hook=request_hook) as target:
            return Syncer(source, target, dry_run=dry_run, progress=progress).run()


def verify_export(
    from_url: str | None,
    to: str,
    *,
    experiments: list[str] | None = None,
    state_dir: Path | None = None,
) -> list[str]:
    """Compare the export at ``to`` with the Cairn store; the differences (empty: equal).

    A folder, read back as a source, must match Cairn field by field (the import's verifier,
    run the other way), and what Cairn has must be in it: every experiment, every metric and
    artifact file of each run. A server is compared with Cairn as the source, runs and
    logged models found by the ids the export's ledger recorded."""
    if is_url(to):
        return _verify_server(from_url, to, experiments, state_dir)
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


def _verify_server(
    from_url: str | None, to: str, experiments: list[str] | None, state_dir: Path | None
) -> list[str]:
    with cairn_source(from_url, state_dir=state_dir, experiments=experiments) as (source, _):
        with destination(to) as target:
            ledger = Ledger.load(source.state_dir, source.store_id, target.identity)
            ids = {rid: str(e["dest_id"]) for rid, e in ledger.runs.items() if "dest_id" in e}
            in_runs: dict[str, str] = {}  # logged models an MLflow 2.x server got as artifacts
            for mid, made in ledger.data.get("logged_models", {}).items():
                if "run_path" in made:
                    in_runs[mid] = str(made["artifact_uri"])
                else:
                    ids[mid] = str(made.get("dest_id", mid))
            there = f"on {to}"
            verifier = Verifier(source, target, "in Cairn", there, ids, False, in_runs)
            return verifier.run()


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
