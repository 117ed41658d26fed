"""`cairn audit`: verify the audit trail's hash chain, export it, prune it past the retention
period, straight on the server's database (with the server's ``CAIRN_AUDIT_KEY``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cairn.entities.errors import CairnError
from cairn.entities.events import ChangeEvent, EventQuery
from cairn.events.export import FORMATS, export_chunks
from cairn.events.service import AuditService, parse_time
from cairn.server.settings import AUDIT_RETENTION_DAYS

console = Console(stderr=True, highlight=False)


def _store_option(fn: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--backend-store-uri",
        envvar="CAIRN_BACKEND_STORE_URI",
        default=None,
        help="SQLAlchemy URI of the server's store [default: the data directory's SQLite "
        "file; also $CAIRN_BACKEND_STORE_URI].",
    )(fn)


@contextmanager
def _service(
    backend_store_uri: str | None, retention_days: int | None = None
) -> Iterator[AuditService]:
    from cairn.cli_db import open_database

    try:
        days = retention_days or AUDIT_RETENTION_DAYS.read(os.environ)
        with open_database(backend_store_uri) as database:
            yield AuditService(database, days)
    except CairnError as exc:
        raise click.ClickException(exc.message) from None


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group()
def audit() -> None:
    """Verify, export and prune the audit trail (the change-event log)."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@_store_option
def audit_verify(as_json: bool, backend_store_uri: str | None) -> None:
    """Check every link of the hash chain; exit 1 naming the first broken one.

    Uses $CAIRN_AUDIT_KEY when the server does (the same key, or every link fails). Keep the
    head hash it prints somewhere else: a later verify that ends at a different hash for the
    same id means the log was rewritten."""
    with _service(backend_store_uri) as service:
        report = service.verify()
    if as_json:
        click.echo(orjson.dumps(report.to_json()).decode())
    elif report.ok:
        span = f"ids {report.first_id}..{report.head_id}" if report.checked else "no events"
        click.echo(f"ok: {report.checked} events checked ({span})")
        click.echo(f"head: {report.head_id} {report.head_hash}")
    else:
        click.echo(f"BROKEN at event {report.broken_at}: {report.reason}")
        click.echo(
            f"{report.checked} events checked before it; head {report.head_id} {report.head_hash}"
        )
    if not report.ok:
        sys.exit(1)


@audit.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="JSON Lines (one event a line) or CSV (a header row).",
)
@click.option(
    "--since",
    default=None,
    help="From this time on (inclusive): an ISO-8601 date or date-time (UTC), or ms since "
    "the epoch.",
)
@click.option("--until", default=None, help="Before this time (exclusive), same forms as --since.")
@click.option("--actor", default=None, help="Only changes by this user (or `system`).")
@click.option("--action", default=None, help="Only this action, e.g. run.create.")
@click.option(
    "--entity-type", default=None, help="Only this kind of entity: run, experiment, model_version…"
)
@click.option(
    "--entity-id", default=None, help="Only this entity (a run id, `<model>/<version>`…)."
)
@click.option("--experiment-id", default=None, help="Only changes in this experiment.")
@click.option("--model-name", default=None, help="Only changes of this registered model.")
@click.option("--quiet", is_flag=True, help="No progress bar on standard error.")
@_store_option
def audit_export(
    fmt: str,
    since: str | None,
    until: str | None,
    actor: str | None,
    action: str | None,
    entity_type: str | None,
    entity_id: str | None,
    experiment_id: str | None,
    model_name: str | None,
    quiet: bool,
    backend_store_uri: str | None,
) -> None:
    """Write the events matching the filters to standard output, oldest first
    (`cairn audit export --since 2026-01-01 > audit.jsonl`); progress goes to standard error."""
    try:
        query = EventQuery(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            experiment_id=experiment_id,
            model_name=model_name,
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
        )
    except CairnError as exc:
        raise click.ClickException(exc.message) from None
    out = sys.stdout.buffer
    with _service(backend_store_uri) as service:
        head_id, _, first_id, _ = service.head()
        try:
            events = service.export(query)
        except CairnError as exc:
            raise click.ClickException(exc.message) from None
        progress = Progress(
            TextColumn("exporting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ids"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        )
        count = 0
        with progress:
            task = progress.add_task("export", total=max(0, head_id - first_id + 1))

            def counted(found: Iterator[ChangeEvent]) -> Iterator[ChangeEvent]:
                nonlocal count
                last = first_id - 1
                for event in found:
                    count += 1
                    if count % 5000 == 0:
                        progress.advance(task, event.id - last)
                        last = event.id
                    yield event
                progress.update(task, completed=max(0, head_id - first_id + 1))

            for chunk in export_chunks(counted(events), fmt):
                out.write(chunk)
        out.flush()
    console.print(f"Exported {count} events")


@audit.command("prune")
@click.option(
    "--retention-days",
    type=click.IntRange(1, None),
    default=None,
    help="Keep this many days [default: $CAIRN_AUDIT_RETENTION_DAYS, else 2557 (7 years)].",
)
@_store_option
def audit_prune(retention_days: int | None, backend_store_uri: str | None) -> None:
    """Delete the events older than the retention period (the only way events are ever
    deleted), and record an `audit.prune` event saying how many went and the id and hash the
    kept chain starts after. `cairn audit verify` still passes afterwards."""
    with _service(backend_store_uri, retention_days) as service:
        days = service.retention_days
        pruned = service.prune()
    if pruned is None:
        console.print(f"Nothing older than {days} days")
        return
    console.print(
        f"Deleted {pruned.deleted} events older than {days} days (through id "
        f"{pruned.through_id}, hash {pruned.through_hash}); the chain now starts at id "
        f"{pruned.through_id + 1}"
    )
