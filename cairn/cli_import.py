"""``cairn import``: bring MLflow history (a server, its file store folder or its database),
TensorBoard log directories, neptune-exporter dumps and W&B run folders into Cairn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from cairn.sync.engine import Progress, Source, SyncReport


@click.group(name="import")
def import_() -> None:
    """Import another tracker's history into Cairn, keeping run ids and times.

    Every importer writes to the server given by --to (authenticated like the SDK, through
    MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN or CAIRN_*), or without --to to the store `cairn
    server` would open ($CAIRN_HOME or ./cairn-data). Re-running sends nothing twice and an
    interrupted import resumes; what was delivered is recorded in a ledger (see --state-dir).
    """


def _common(fn: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option(
            "--to",
            "to",
            default=None,
            metavar="URL",
            help="The Cairn server to import into [default: the embedded store, "
            "$CAIRN_HOME or ./cairn-data].",
        ),
        click.option(
            "--experiment",
            "experiments",
            multiple=True,
            metavar="NAME",
            help="Import only this experiment (repeatable). Registered model versions whose "
            "run is not imported are skipped with a note.",
        ),
        click.option(
            "--dry-run", is_flag=True, help="Only count what would be written; write nothing."
        ),
        click.option(
            "--verify",
            is_flag=True,
            help="After importing (or, with --dry-run, instead), compare source and "
            "destination: counts, params, tags, metric point counts and checksums, artifact "
            "sizes and sha256 digests, registry stages and aliases. Exits 1 on any difference.",
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Where the import keeps its ledger [default: .cairn-import/ next to the "
            "source; ~/.cairn-import/ for a database server].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _run(
    make: Callable[[], Source], to: str | None, dry_run: bool, verify: bool, label: str
) -> None:
    from cairn.sync.imports import run_import, verify_import

    run_and_verify(
        None
        if dry_run and verify
        else lambda p: run_import(make(), to, dry_run=dry_run, progress=p),
        (lambda: verify_import(make(), to)) if verify else None,
        f"the destination matches {label}",
        f"verify: {{n}} difference(s) from {label}",
    )


def run_and_verify(
    work: Callable[[Progress], SyncReport] | None,
    check: Callable[[], list[str]] | None,
    matches: str,
    differ: str,
    *,
    exported: bool = False,
) -> None:
    """Run an import or export (``work``) under the progress bars and print its summary;
    then, with ``check``, print every difference it finds (exit 1 on any, or on a failure)."""
    from cairn.sync import SyncError
    from cairn.sync.progress import RichProgress, print_report

    console = Console(highlight=False)
    try:
        report = None
        if work is not None:
            with RichProgress(Console()) as progress:
                report = work(progress)
            print_report(console, report, imported=not exported, exported=exported)
        differences = check() if check is not None else []
    except SyncError as exc:
        raise click.ClickException(exc.message) from None
    if check is not None:
        for line in differences:
            console.print(f"[red]differs:[/red] {line}", soft_wrap=True)
        if differences:
            raise click.ClickException(differ.replace("{n}", str(len(differences))))
        console.print(f"verify: {matches}", soft_wrap=True)
    if report is not None and report.failures:
        raise click.ClickException(f"{len(report.failures)} problem(s); see above")


@import_.command(name="mlruns")
@click.argument("folder", type=click.Path(path_type=Path))
@_common
def mlruns(
    folder: Path,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import MLflow's file store: an mlruns FOLDER (layouts of MLflow 1.x to 3.x).

    Experiments (matched by name; ids that differ are printed and kept in the ledger), runs
    with their own run ids, start and end times, status, user and parents, params, tags,
    every metric point, dataset inputs, artifacts, MLflow 3 logged models, and the registry
    (models/ folder: versions, stages, aliases, tags, descriptions). Deleted experiments and
    runs (.trash/) arrive deleted. The folder is only read.
    """
    from cairn.sync.mlflow_files import MlrunsSource

    def make() -> Source:
        return MlrunsSource(folder, state_dir=state_dir, experiments=list(experiments))

    _run(make, to, dry_run, verify, str(folder))


@import_.command(name="mlflow-db")
@click.argument("uri")
@click.option(
    "--artifact-root",
    type=click.Path(path_type=Path),
    default=None,
    help="The folder holding the server's artifacts (its --artifacts-destination or "
    "--default-artifact-root), for runs whose artifact URI is mlflow-artifacts:/ or names a "
    "path that moved [default: the paths the database records].",
)
@_common
def mlflow_db(
    uri: str,
    artifact_root: Path | None,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import an MLflow tracking database read directly: URI is sqlite:///mlflow.db or
    postgresql://user@host/db (the server may be gone; the database is only read).

    The same objects as `cairn import mlruns`, from the database's tables; artifact files
    are read from local paths (file:// URIs, or mlflow-artifacts:/ under --artifact-root).
    """
    from cairn.sync.mlflow_db import MlflowDbSource

    def make() -> Source:
        return MlflowDbSource(
            uri, artifact_root=artifact_root, state_dir=state_dir, experiments=list(experiments)
        )

    _run(make, to, dry_run, verify, uri)


@import_.command(name="tensorboard")
@click.argument("logdir", type=click.Path(path_type=Path))
@click.option(
    "--experiment-name",
    default=None,
    metavar="NAME",
    help="The Cairn experiment the runs go into [default: LOGDIR's folder name].",
)
@_common
def tensorboard(
    logdir: Path,
    experiment_name: str | None,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import a TensorBoard log directory: every folder under LOGDIR holding event files
    (events.out.tfevents.*) becomes a run named by its path, in one experiment.

    Scalars become metrics (step, wall time, value), the hparams plugin's values params,
    images and text artifacts (images/<tag>/step_<n>.png, text/<tag>/step_<n>.txt); the
    first and last event times are the run's start and end. Histograms, audio, graphs and
    other plugins' data are not imported. A run's id comes from its folder and its oldest
    event file, so importing again (after more training, too) updates the same runs. Needs
    the tensorboard extra: pip install 'cairn-ml[tensorboard]'.
    """
    from cairn.sync.tensorboard import TensorBoardSource

    def make() -> Source:
        return TensorBoardSource(
            logdir,
            experiment_name=experiment_name,
            state_dir=state_dir,
            experiments=list(experiments),
        )

    _run(make, to, dry_run, verify, str(logdir))


@import_.command(name="neptune")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--files",
    "files",
    type=click.Path(path_type=Path),
    default=None,
    help="neptune-exporter's --files-path folder (the downloaded files) [default: a 'files' "
    "folder next to FOLDER, if there is one].",
)
@click.option(
    "--step-multiplier",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Multiply Neptune's decimal steps by this before storing them (metric steps are "
    "whole numbers); use the same value on every import of a project.",
)
@_common
def neptune(
    folder: Path,
    files: Path | None,
    step_multiplier: int,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import neptune-exporter's Parquet export: FOLDER is its --data-path (project folders
    of <run>_part_<n>.parquet files) or one project folder in it.

    Each run becomes a run (id derived from its project and Neptune id, name from
    sys/custom_run_id) in the experiment '<project>/<sys/name>'; attributes become params,
    float series metrics (step, timestamp, value), files, file series and file sets
    artifacts, string and histogram series text artifacts. Runs without part 0 (an export
    that was interrupted) are skipped. Needs pyarrow: pip install 'cairn-ml[neptune]'.
    """
    from cairn.sync.neptune import NeptuneSource

    def make() -> Source:
        return NeptuneSource(
            folder,
            files_dir=files,
            step_multiplier=step_multiplier,
            state_dir=state_dir,
            experiments=list(experiments),
        )

    _run(make, to, dry_run, verify, str(folder))


@import_.command(name="wandb")
@click.argument("folder", type=click.Path(path_type=Path))
@_common
def wandb(
    folder: Path,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import W&B runs kept on disk: FOLDER is a wandb/ folder (or the folder holding it) with
    run-*/ and offline-run-*/ folders, or one run folder.

    Each run's .wandb log is read: the project becomes the experiment, the run its display
    name, start and end time and status (from its exit code), config params, every numeric
    history value a metric point at its _step and _timestamp, summary values that are not in
    the history one point; notes, tags, group and job type become tags. The run's files/
    folder (saved files, media, output.log) becomes its artifacts. The run id is derived
    from the project and the W&B id. Needs the wandb package: pip install 'cairn-ml[wandb]'.
    """
    from cairn.sync.wandb_runs import WandbSource

    def make() -> Source:
        return WandbSource(folder, state_dir=state_dir, experiments=list(experiments))

    _run(make, to, dry_run, verify, str(folder))


@import_.command(name="mlflow")
@click.option(
    "--from",
    "from_url",
    required=True,
    metavar="URL",
    help="The MLflow tracking server to read (2.x or 3.x), e.g. http://mlflow.internal:5000. "
    "Authenticated through MLFLOW_SOURCE_TRACKING_USERNAME/PASSWORD or "
    "MLFLOW_SOURCE_TRACKING_TOKEN (MLFLOW_SOURCE_TRACKING_INSECURE_TLS for a self-signed "
    "certificate); without any of those, through the destination's MLFLOW_TRACKING_* ones.",
)
@_common
def mlflow_server(
    from_url: str,
    to: str | None,
    experiments: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    state_dir: Path | None,
) -> None:
    """Import from a running MLflow tracking server, read over its REST API (only read).

    Experiments (matched by name; ids that differ are printed and kept in the ledger), runs
    with their own run ids, start and end times, status, user and parents, params, tags,
    every metric point with its step and timestamp, dataset inputs, artifacts (streamed
    through the server), MLflow 3 logged models, and the registry: versions, stages,
    aliases, tags and descriptions, each version linked to its imported run. Deleted
    experiments and runs arrive deleted. An MLflow 3 server's traces come too, under their
    own ids, with their spans and assessments.
    """
    from cairn.sync.mlflow_server import MlflowServerSource

    def make() -> Source:
        return MlflowServerSource(from_url, state_dir=state_dir, experiments=list(experiments))

    _run(make, to, dry_run, verify, from_url)
