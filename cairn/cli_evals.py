"""`cairn evals`: evaluation jobs over HTTP — submit, list, show, cancel, logs.

Like ``cairn models``, these commands talk to a server through the SDK's REST client, signed
in as the user of ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (or the API token
in ``MLFLOW_TRACKING_TOKEN``). See docs/evaluations.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import orjson

from cairn.cli_http import show_json, v1_call, v1_client

STATES = ("pending", "running", "completed", "failed", "cancelled", "partially_failed")
FOLLOW_POLL_S = 1.0
FOLLOW_MAX_S = 24 * 3600.0


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def evals(ctx: click.Context, tracking_uri: str | None) -> None:
    """Evaluation jobs (over HTTP, as the user in MLFLOW_TRACKING_USERNAME/PASSWORD or
    MLFLOW_TRACKING_TOKEN)."""
    ctx.obj = tracking_uri


@evals.command("submit")
@click.argument("request_file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--evalhub",
    is_flag=True,
    help="The file is in eval-hub's shape (POST /api/v1/evaluations/jobs) instead of the seed's.",
)
@click.pass_context
def submit(ctx: click.Context, request_file: str, evalhub: bool) -> None:
    """Submit the evaluation request in REQUEST_FILE (JSON; - for stdin); print the job (its
    runner_token, when there is one, is shown only now)."""
    raw = sys.stdin.buffer.read() if request_file == "-" else Path(request_file).read_bytes()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{request_file} is not JSON: {exc}") from None
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "POST", "/evaluations/jobs" if evalhub else "/evaluations", body))


@evals.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--model", default=None, help="Only jobs of this model (as given, or registered).")
@click.option("--experiment-id", default=None, help="Only jobs of this experiment.")
@click.option("--tag", default=None, help="Only jobs with this tag: key:value.")
@click.option("--max-results", default=100, show_default=True, help="Jobs to print (newest).")
@click.pass_context
def list_jobs(
    ctx: click.Context,
    state: str | None,
    model: str | None,
    experiment_id: str | None,
    tag: str | None,
    max_results: int,
) -> None:
    """Print the jobs the caller may read as JSON, newest first."""
    found: list[Any] = []
    with v1_client(ctx) as rest:
        token: str | None = None
        for _ in range(10_000):
            page = v1_call(
                rest, "GET", "/evaluations/jobs", state=state, model=model,
                experiment_id=experiment_id, tag=tag, max_results=min(500, max_results),
                page_token=token,
            )  # fmt: skip
            found.extend(page["jobs"])
            token = page.get("next_page_token")
            if not token or len(found) >= max_results:
                break
    show_json(found[:max_results])


@evals.command("show")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait until the job has ended, then print it.")
@click.pass_context
def show(ctx: click.Context, job_id: str, wait: bool) -> None:
    """Print job JOB_ID as JSON."""
    with v1_client(ctx) as rest:
        job = v1_call(rest, "GET", f"/evaluations/jobs/{job_id}")
        deadline = time.monotonic() + FOLLOW_MAX_S
        while wait and job["state"] in ("pending", "running") and time.monotonic() < deadline:
            time.sleep(FOLLOW_POLL_S)
            job = v1_call(rest, "GET", f"/evaluations/jobs/{job_id}")
    show_json(job)


@evals.command("cancel")
@click.argument("job_id")
@click.option("--hard-delete", is_flag=True, help="Also delete the job's record (runs stay).")
@click.pass_context
def cancel(ctx: click.Context, job_id: str, hard_delete: bool) -> None:
    """Cancel job JOB_ID (MANAGE on its experiment)."""
    with v1_client(ctx) as rest:
        job = v1_call(
            rest, "DELETE", f"/evaluations/jobs/{job_id}",
            hard_delete="true" if hard_delete else None,
        )  # fmt: skip
    click.echo(f"{'Deleted' if hard_delete else 'Cancelled'} evaluation job {job['id']}")


@evals.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job has ended.")
@click.pass_context
def logs(ctx: click.Context, job_id: str, follow: bool) -> None:
    """Print job JOB_ID's log lines ([index] marks a benchmark's)."""
    after = 0
    deadline = time.monotonic() + FOLLOW_MAX_S
    with v1_client(ctx) as rest:
        while True:
            page = v1_call(rest, "GET", f"/evaluations/jobs/{job_id}/logs", after=after)
            for line in page["lines"]:
                where = "" if line["index"] is None else f"[{line['index']}] "
                click.echo(f"{where}{line['line']}")
            after = int(page["next"])
            if page["lines"]:
                continue
            if not follow or time.monotonic() > deadline:
                return
            job = v1_call(rest, "GET", f"/evaluations/jobs/{job_id}")
            if job["state"] not in ("pending", "running"):
                follow = False  # one more read for the last lines
                continue
            time.sleep(FOLLOW_POLL_S)
