"""The progress bar and the closing summary of ``cairn sync`` (rich)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cairn.sync.engine import SyncReport


class AmountColumn(ProgressColumn):
    """``done/total``, in bytes for a task whose ``unit`` field is ``bytes`` (shared by every
    command that shows progress: sync, import, db backup)."""

    def render(self, task: Task) -> Text:
        total = int(task.total or 0)
        done = int(task.completed)
        if task.fields.get("unit") == "bytes":
            return Text(f"{decimal(done)}/{decimal(total)}")
        return Text(f"{done:,}/{total:,}")


class _Rate(ProgressColumn):
    """Items (or bytes) per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        if task.fields.get("unit") == "bytes":
            return Text(f"{decimal(int(speed))}/s")
        return Text(f"{speed:,.0f} {task.fields.get('unit', '')}/s")


class RichProgress:
    """Three bars: runs, metric points and artifact bytes, each with its rate and ETA."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("{task.description:>7}"),
            BarColumn(),
            AmountColumn(),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._runs: TaskID | None = None
        self._points: TaskID | None = None
        self._bytes: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def planned(self, runs: int, points: int, nbytes: int) -> None:
        p = self._progress
        self._runs = p.add_task("runs", total=runs, unit="runs")
        self._points = p.add_task("points", total=points, unit="points")
        self._bytes = p.add_task("bytes", total=nbytes, unit="bytes")

    def run_done(self) -> None:
        if self._runs is not None:
            self._progress.advance(self._runs)

    def points_sent(self, n: int) -> None:
        if self._points is not None:
            self._progress.advance(self._points, n)

    def bytes_sent(self, n: int) -> None:
        if self._bytes is not None:
            self._progress.advance(self._bytes, n)


def summary_lines(report: SyncReport) -> list[str]:
    head = "Dry run, nothing sent:" if report.dry_run else "Synced:"
    lines = [
        head,
        f"  experiments created  {report.experiments_created}",
        f"  runs created {report.runs_created}, "
        f"updated {report.runs_updated}, unchanged {report.runs_unchanged}",
        f"  metric points        {report.points:,}",
        f"  params / tags        {report.params:,} / {report.tags:,}",
        f"  dataset inputs       {report.inputs:,}",
        f"  registered models    {report.models_created} created, "
        f"{report.versions_created} version(s) created",
        f"  artifacts            {report.artifacts:,} file(s), {decimal(report.bytes)} "
        f"({report.bytes:,} bytes)",
    ]
    if report.dry_run:
        lines = [lines[0], *lines[1:3], lines[3], lines[7], lines[6]]
    return lines


def import_summary_lines(
    report: SyncReport, done: str = "Imported:", ids: str = "source -> Cairn"
) -> list[str]:
    """An import's (or an export's) summary: the sync summary, the logged models and deleted
    objects, and the experiment id mapping (``ids`` names its direction), which the ledger
    also keeps."""
    lines = summary_lines(report)
    lines[0] = "Dry run, nothing written:" if report.dry_run else done
    models = f"  logged models        {report.logged_models} created"
    if report.logged_models_in_runs:
        models += f", {report.logged_models_in_runs} as run artifacts"
    if report.logged_models_skipped:
        models += f", {report.logged_models_skipped} skipped"
    lines.append(models)
    if report.traces:
        lines.append(f"  traces               {report.traces:,}")
    lines.append(f"  marked deleted       {report.deleted} (experiments and runs)")
    if report.experiment_ids:
        lines.append(f"  experiment ids ({ids}):")
        for source, dest in report.experiment_ids.items():
            same = " (same)" if source == dest else ""
            lines.append(f"    {source} -> {dest}{same}")
    return lines


def print_report(
    console: Console, report: SyncReport, *, imported: bool = False, exported: bool = False
) -> None:
    if exported:
        lines = import_summary_lines(report, "Exported:", "Cairn -> MLflow")
    else:
        lines = import_summary_lines(report) if imported else summary_lines(report)
    for line in lines:
        console.print(line, markup=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for failure in report.failures:
        console.print(f"[red]failed:[/red] {failure}")
