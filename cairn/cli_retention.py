"""`cairn retention`: retention policies and applying them, over HTTP.

Like ``cairn models``, these commands talk to a server through the SDK's REST client, as the
user of ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (or ``MLFLOW_TRACKING_TOKEN``).
What a policy deletes and what it never touches: docs/retention.md.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cairn.cli_http import show_json, v1_call, v1_client
from cairn.entities.numbers import decimal

STATUSES = ("FINISHED", "FAILED", "KILLED")
MAX_CALLS = 10_000
"""``run`` asks for at most this many batches (each up to ``--batch`` runs)."""


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def retention(ctx: click.Context, tracking_uri: str | None) -> None:
    """Retention policies: delete finished runs older than N days (over HTTP, as the user in
    MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN). Runs behind a registered
    model version, tagged cairn.keep or still running are never deleted; deleted runs stay
    restorable until `cairn gc` purges them."""
    ctx.obj = tracking_uri


def _path(experiment: str | None) -> str:
    if experiment is None:
        return "/retention/policies/global"
    if decimal(experiment) is None:
        raise click.BadParameter(
            f"{experiment!r} is not an experiment id", param_hint="--experiment"
        )
    return f"/experiments/{experiment}/retention-policy"


EXPERIMENT = click.option(
    "--experiment",
    "experiment",
    default=None,
    metavar="ID",
    help="The experiment's own policy [default: the global policy].",
)


@retention.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The global policy and those of the experiments you may read."""
    with v1_client(ctx) as rest:
        found = v1_call(rest, "GET", "/retention/policies")["policies"]
    if as_json:
        show_json(found)
        return
    if not found:
        click.echo("No retention policies.", err=True)
    for p in found:
        statuses = ",".join(p["statuses"]) or "any finished"
        keep = f", keep newest {p['keep_newest']}" if p["keep_newest"] else ""
        state = "" if p["enabled"] else " (disabled)"
        click.echo(f"{p['name']}: older than {p['older_than_days']} days, {statuses}{keep}{state}")


@retention.command("set")
@EXPERIMENT
@click.option(
    "--older-than-days",
    required=True,
    type=click.IntRange(0, 36500),
    help="Delete finished runs that ended more than this many days ago.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only runs of this status (repeat) [default: every finished status].",
)
@click.option(
    "--keep-newest",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Keep this many of the newest finished runs per experiment.",
)
@click.option("--disabled", is_flag=True, help="Keep it, but the scheduled job skips it.")
@click.pass_context
def set_(
    ctx: click.Context,
    experiment: str | None,
    older_than_days: int,
    statuses: tuple[str, ...],
    keep_newest: int,
    disabled: bool,
) -> None:
    """Create or replace a policy (the global one needs an admin, an experiment's MANAGE)."""
    body = {
        "older_than_days": older_than_days,
        "statuses": [s.upper() for s in statuses],
        "keep_newest": keep_newest,
        "enabled": not disabled,
    }
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "PUT", _path(experiment), body))


@retention.command("delete")
@EXPERIMENT
@click.pass_context
def delete(ctx: click.Context, experiment: str | None) -> None:
    """Remove a policy (runs are not touched)."""
    with v1_client(ctx) as rest:
        v1_call(rest, "DELETE", _path(experiment))
    click.echo(
        f"Retention policy {'global' if experiment is None else experiment} removed.", err=True
    )


def _summary(totals: dict[str, int], dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    return (
        f"{verb} {totals['deleted_runs']} runs; kept {totals['kept_registered']} behind model "
        f"versions, {totals['kept_tagged']} tagged cairn.keep, {totals['kept_newest']} newest"
    )


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
@click.option("--policy", default=None, help="Only this policy: global or experiment:<id>.")
@click.option(
    "--batch",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Runs deleted per request (progress is shown between requests).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the (last) report as JSON.")
@click.pass_context
def run(ctx: click.Context, dry_run: bool, policy: str | None, batch: int, as_json: bool) -> None:
    """Apply the enabled policies now, as the scheduled job does (admins)."""
    console = Console(stderr=True)
    with v1_client(ctx) as rest:
        if dry_run:
            report = v1_call(rest, "POST", "/retention/run", dry_run="true", policy=policy)
            if as_json:
                show_json(report)
                return
            for r in report["runs"]:
                click.echo(f"{r['run_id']}  experiment {r['experiment_id']}  {r['reason']}")
            if report["truncated"]:
                console.print(f"(listed {len(report['runs'])} of {report['deleted_runs']})")
            console.print(_summary(report, True))
            return
        report = _apply(rest, policy, batch, console)
    if as_json:
        show_json(report)


def _apply(rest: Any, policy: str | None, batch: int, console: Console) -> dict[str, Any]:
    """Ask for ``batch`` deletions at a time until nothing is left, showing progress."""
    deleted = 0
    report: dict[str, Any] = {}
    columns = (TextColumn("deleting runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("delete", total=None)
        for _ in range(MAX_CALLS):
            report = v1_call(rest, "POST", "/retention/run", policy=policy, max_runs=batch, limit=0)
            deleted += report["deleted_runs"]
            bar.update(task, completed=deleted, total=deleted + report["remaining"])
            if not report["remaining"] or not report["deleted_runs"]:
                break
    report["deleted_runs"] = deleted
    console.print(_summary(report, False))
    return report
