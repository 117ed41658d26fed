"""``cairn export``: take Cairn's history back out, to MLflow."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="export")
def export() -> None:
    """Export Cairn's history to another tracker (MLflow), keeping ids and times where the
    target allows, so choosing Cairn carries no lock-in."""


@export.command(name="mlflow")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="FOLDER|URL",
    help="An mlruns folder to write (MLflow's file store; made if missing) or the URL of a "
    "stock MLflow tracking server.",
)
@click.option(
    "--from",
    "from_url",
    default=None,
    metavar="URL",
    help="The Cairn server to export, authenticated like the SDK (MLFLOW_TRACKING_USERNAME/"
    "PASSWORD/TOKEN or CAIRN_*) [default: the embedded store, $CAIRN_HOME or ./cairn-data].",
)
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Export only this experiment (repeatable). Registered models are exported when a "
    "version comes from one of its runs.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be written; write nothing.")
@click.option(
    "--verify",
    is_flag=True,
    help="After exporting (or, with --dry-run, instead), read the export back and compare it "
    "with Cairn: counts, params, tags, metric point counts and checksums, artifact sizes and "
    "sha256 digests, registry stages and aliases. Exits 1 on any difference.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where an export to a server keeps its ledger (Cairn run id -> MLflow run id) "
    "[default: ~/.cairn-import/<digest of the Cairn store>].",
)
def mlflow(
    to: str,
    from_url: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Export Cairn's experiments, runs and registry to MLflow.

    --to ./mlruns writes MLflow's file store, which the stock client reads with
    MLFLOW_TRACKING_URI=file:./mlruns: experiments keep their ids, runs their run ids, start
    and end times, status, user and lifecycle (deleted experiments go to .trash/), with
    params, tags, every metric point (step and timestamp), dataset inputs, artifacts, MLflow 3
    logged models (ids kept) and registered models with their version numbers, stages,
    aliases, tags and descriptions. Only files that differ are written: a second export
    writes nothing, an interrupted one continues.

    --to http://mlflow:5000 sends the same over MLflow's REST API to a stock MLflow server
    (its artifact proxy on, as `mlflow server` has by default). MLflow makes its own run and
    logged model ids: each run and model version carries the tag cairn.sync.source (<store
    id>/<Cairn run id>) and the ledger maps the ids, so exporting again sends only what is
    new and an interrupted export resumes. Parent links and version sources are rewritten to
    the new ids; times, status, users (without auth on the server) and lifecycle are kept.
    """
    from cairn.cli_import import run_and_verify
    from cairn.sync.exports import run_export, verify_export

    only = list(experiments)
    run_and_verify(
        None
        if dry_run and verify
        else lambda p: run_export(
            from_url, to, experiments=only, state_dir=state_dir, dry_run=dry_run, progress=p
        ),
        (lambda: verify_export(from_url, to, experiments=only, state_dir=state_dir))
        if verify
        else None,
        f"{to} matches Cairn",
        "verify: {n} difference(s) from Cairn",
        exported=True,
    )
