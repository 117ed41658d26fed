"""`cairn jobs`: list, show, cancel and retry background jobs over HTTP (admins), and
`cairn worker`: run jobs in a process of their own against a shared store and queue."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cairn.cli_http import show_json, v1_call, v1_client

console = Console(highlight=False)

STATES = ("pending", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def jobs(ctx: click.Context, tracking_uri: str | None) -> None:
    """Background jobs: list, show, cancel, retry (admins; over HTTP, as the user in
    MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)."""
    ctx.obj = tracking_uri


@jobs.command("list")
@click.option("--kind", default=None, help="Only jobs of this kind (exact).")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--max-results", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--page-token", default=None, help="The next page (printed under the table).")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_context
def jobs_list(
    ctx: click.Context,
    kind: str | None,
    state: str | None,
    max_results: int,
    page_token: str | None,
    as_json: bool,
) -> None:
    """The newest jobs first."""
    with v1_client(ctx) as rest:
        page = v1_call(
            rest,
            "GET",
            "/jobs",
            kind=kind,
            state=state,
            max_results=max_results,
            page_token=page_token,
        )
    if as_json:
        show_json(page)
        return
    table = Table("id", "kind", "state", "attempts", "created", "error")
    for job in page["jobs"]:
        table.add_row(
            str(job["id"]),
            job["kind"],
            job["state"],
            f"{job['attempts']}/{job['max_attempts']}",
            _when(job["created_at"]),
            (job["error"] or "")[:60],
        )
    console.print(table)
    if page.get("next_page_token"):
        console.print(f"next page: --page-token {page['next_page_token']}")


@jobs.command("show")
@click.argument("job_id", type=click.IntRange(1))
@click.pass_context
def jobs_show(ctx: click.Context, job_id: int) -> None:
    """Print job JOB_ID (payload, result, error) as JSON."""
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "GET", f"/jobs/{job_id}"))


def _follow(ctx: click.Context, job_id: int, job: dict[str, Any], timeout: float) -> None:
    """Show the job's state until it is finished (at most ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    with console.status(f"job {job_id}: {job['state']}") as status:
        with v1_client(ctx) as rest:
            while job["state"] not in FINISHED and time.monotonic() < deadline:
                time.sleep(0.5)
                job = v1_call(rest, "GET", f"/jobs/{job_id}")
                status.update(f"job {job_id}: {job['state']} (attempt {job['attempts']})")
    show_json(job)


@jobs.command("cancel")
@click.argument("job_id", type=click.IntRange(1))
@click.option("--wait", is_flag=True, help="Wait until a running job has stopped.")
@click.option("--timeout", type=click.FloatRange(0), default=300, show_default=True)
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: int, wait: bool, timeout: float) -> None:
    """Cancel job JOB_ID: at once when pending; a running one is asked to stop."""
    with v1_client(ctx) as rest:
        job = v1_call(rest, "POST", f"/jobs/{job_id}/cancel")
    if wait:
        _follow(ctx, job_id, job, timeout)
    else:
        show_json(job)


@jobs.command("retry")
@click.argument("job_id", type=click.IntRange(1))
@click.option("--wait", is_flag=True, help="Wait until the job has finished.")
@click.option("--timeout", type=click.FloatRange(0), default=300, show_default=True)
@click.pass_context
def jobs_retry(ctx: click.Context, job_id: int, wait: bool, timeout: float) -> None:
    """Run failed or cancelled job JOB_ID again."""
    with v1_client(ctx) as rest:
        job = v1_call(rest, "POST", f"/jobs/{job_id}/retry")
    if wait:
        _follow(ctx, job_id, job, timeout)
    else:
        show_json(job)


@click.command()
@click.option(
    "--backend-store-uri",
    envvar="CAIRN_BACKEND_STORE_URI",
    default=None,
    help="SQLAlchemy URI of the store the servers use [default: the data directory's SQLite "
    "file; also $CAIRN_BACKEND_STORE_URI].",
)
@click.option(
    "--queue-uri",
    envvar="CAIRN_QUEUE_URI",
    default=None,
    help="The job queue the servers hand jobs to: sqlite:///path, postgresql://…, "
    "redis://host:6379/N [default: follows the store; also $CAIRN_QUEUE_URI].",
)
@click.option(
    "--threads", type=click.IntRange(1, 64), default=2, show_default=True, help="Jobs at once."
)
@click.option(
    "--artifacts-destination",
    envvar="CAIRN_ARTIFACTS_DESTINATION",
    default=None,
    help="The servers' artifact store (jobs that read or delete artifacts) [default: the "
    "data directory's artifacts/].",
)
@click.option(
    "--log-format",
    type=click.Choice(("text", "json"), case_sensitive=False),
    default=None,
    help="text or json (one JSON object per line) [default: text; also $CAIRN_LOG_FORMAT].",
)
def worker(
    backend_store_uri: str | None,
    queue_uri: str | None,
    threads: int,
    artifacts_destination: str | None,
    log_format: str | None,
) -> None:
    """Run background jobs, outbox consumers and periodic jobs until stopped (Ctrl-C or
    SIGTERM: running jobs finish first, up to 30 s). Start any number, on any machine that
    reaches the store and the queue; every other CAIRN_* setting is read as the server does."""
    from dataclasses import replace

    from cairn.entities.errors import CairnError
    from cairn.server.app import build_services, open_database, start_jobs
    from cairn.server.logs import configure as configure_logging
    from cairn.server.settings import Settings

    try:
        settings = Settings.from_env()
    except CairnError as exc:
        raise click.UsageError(exc.message) from None
    given: dict[str, Any] = {
        "backend_store_uri": backend_store_uri,
        "queue_uri": queue_uri,
        "artifacts_destination": artifacts_destination,
        "log_format": log_format.lower() if log_format else None,
    }
    settings = replace(settings, **{k: v for k, v in given.items() if v}, shared_store=True)
    configure_logging(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        db = open_database(settings)
    except Exception as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        engine = start_jobs(settings, db, build_services(settings, db), True, threads)
        click.echo(
            f"cairn worker {engine.owner}: {threads} thread(s) on queue "
            f"{engine.queue.uri.split('@')[-1]}",
            err=True,
        )
        while not stop.wait(1.0):
            pass
        click.echo("stopping: letting running jobs finish", err=True)
        engine.stop()
    finally:
        db.close()
