"""The ``cairn`` command line: ``cairn server``, ``cairn demo``, ``cairn sync``, ``cairn gc``,
``cairn db upgrade``, ``cairn db current``; ``cairn db backup`` and ``cairn db restore``
(cli_backup.py); ``cairn users`` and ``cairn tokens``
(cli_access.py); ``cairn models`` (cli_models.py); ``cairn audit`` (cli_audit.py);
``cairn retention`` (cli_retention.py); ``cairn webhooks`` (cli_webhooks.py);
``cairn alerts`` (cli_alerts.py); ``cairn evals`` (cli_evals.py); ``cairn jobs`` and
``cairn worker`` (cli_jobs.py)."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from cairn._version import __version__
from cairn.cli_access import tokens, users
from cairn.cli_alerts import alerts
from cairn.cli_audit import audit
from cairn.cli_backup import backup, restore
from cairn.cli_evals import evals
from cairn.cli_export import export
from cairn.cli_import import import_
from cairn.cli_jobs import jobs, worker
from cairn.cli_models import models
from cairn.cli_retention import retention
from cairn.cli_webhooks import webhooks
from cairn.home import DEFAULT_HOME
from cairn.server.settings import (
    ACCESS_LOG,
    ALLOWED_HOSTS,
    ARTIFACTS_DESTINATION,
    AUTH,
    BACKEND_STORE_URI,
    CORS_ALLOWED_ORIGINS,
    DB_GROUP_COMMIT,
    DEFAULT_PERMISSION,
    LOG_FORMAT,
    LOG_FORMATS,
    MAX_ARTIFACT_BYTES,
    PERMISSIONS,
    PUBLIC_URL,
    QUEUE_URI,
    RUN_JOBS,
    SERVE_ARTIFACTS,
    TRUNCATE_LONG_VALUES,
    Setting,
    Settings,
)

console = Console(stderr=True, highlight=False)

DEFAULT_PORT = 5000
PORT_SEARCH = 100


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def choose_port(host: str, port: int | None, say: Callable[[str], None] = console.print) -> int:
    """An explicit port must be free; the default moves to the next free port, saying so
    (through ``say``: the console, or the server's log when it writes JSON)."""
    if port is not None:
        if not _port_free(host, port):
            raise click.ClickException(
                f"Port {port} on {host} is already in use. Stop what is using it, or choose "
                "another with --port."
            )
        return port
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + PORT_SEARCH):
        if _port_free(host, candidate):
            if candidate != DEFAULT_PORT:
                say(f"[yellow]Port {DEFAULT_PORT} is in use; using port {candidate} instead.")
            return candidate
    raise click.ClickException(
        f"No free port between {DEFAULT_PORT} and {DEFAULT_PORT + PORT_SEARCH - 1} on {host}"
    )


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = _address(host)
    return host == "localhost" if address is None else address.is_loopback


def is_wildcard(host: str) -> bool:
    address = _address(host)
    return host == "" or (address is not None and address.is_unspecified)


def default_allowed_hosts(host: str) -> tuple[str, ...]:
    """The Host names `cairn server --host HOST` answers to when none are configured: the
    loopback names, and the address it listens on; any name when it listens on all of them
    (0.0.0.0 or ::), since it cannot know by which names it is reached."""
    if is_wildcard(host):
        return ("*",)
    address = _address(host)
    own = f"[{address}]" if address is not None and address.version == 6 else host.lower()
    return LOOPBACK_NAMES if own in LOOPBACK_NAMES else (own, *LOOPBACK_NAMES)


def _redact(uri: str) -> str:
    from cairn.store.db import redact_uri

    return redact_uri(uri)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def main() -> None:
    """Cairn: experiment tracking and model lifecycle, wire-compatible with MLflow."""


def _setting_help(setting: Setting[Any]) -> str:
    """An option's help from the settings table: meaning, default, and its variable."""
    return f"{setting.help} [default: {setting.shown_default}; also ${setting.env}]."


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"Port to listen on [default: {DEFAULT_PORT}, or the next free port if it is taken; "
    "an explicit port that is taken is an error].",
)
@click.option("--backend-store-uri", default=None, help=_setting_help(BACKEND_STORE_URI))
@click.option("--artifacts-destination", default=None, help=_setting_help(ARTIFACTS_DESTINATION))
@click.option(
    "--serve-artifacts/--no-serve-artifacts", default=None, help=_setting_help(SERVE_ARTIFACTS)
)
@click.option("--public-url", default=None, help=_setting_help(PUBLIC_URL))
@click.option(
    "--max-artifact-bytes",
    type=click.IntRange(0),
    default=None,
    help=_setting_help(MAX_ARTIFACT_BYTES),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes. On SQLite one worker group-commits best; use more on PostgreSQL.",
)
@click.option(
    "--truncate-long-values/--reject-long-values",
    default=None,
    help=_setting_help(TRUNCATE_LONG_VALUES),
)
@click.option("--allowed-hosts", default=None, help=_setting_help(ALLOWED_HOSTS))
@click.option("--cors-allowed-origins", default=None, help=_setting_help(CORS_ALLOWED_ORIGINS))
@click.option("--auth/--no-auth", default=None, help=_setting_help(AUTH))
@click.option(
    "--default-permission",
    type=click.Choice(PERMISSIONS, case_sensitive=False),
    default=None,
    help=_setting_help(DEFAULT_PERMISSION),
)
@click.option("--queue-uri", default=None, help=_setting_help(QUEUE_URI))
@click.option("--worker/--no-worker", "run_jobs", default=None, help=_setting_help(RUN_JOBS))
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS, case_sensitive=False),
    default=None,
    help=_setting_help(LOG_FORMAT),
)
@click.option("--access-log/--no-access-log", default=None, help=_setting_help(ACCESS_LOG))
@click.option("--group-commit/--no-group-commit", default=None, help=_setting_help(DB_GROUP_COMMIT))
def server(
    host: str,
    port: int | None,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    serve_artifacts: bool | None,
    public_url: str | None,
    max_artifact_bytes: int | None,
    workers: int,
    truncate_long_values: bool | None,
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    auth: bool | None,
    default_permission: str | None,
    queue_uri: str | None,
    run_jobs: bool | None,
    log_format: str | None,
    access_log: bool | None,
    group_commit: bool | None,
) -> None:
    """Run the tracking server (REST API compatible with the mlflow client).

    Every option but --host, --port and --workers can also be set by its
    CAIRN_* variable (docs/server.md lists them all); an option given wins.
    """
    import uvicorn

    from cairn.entities.errors import CairnError
    from cairn.server.logs import configure as configure_logging
    from cairn.server.settings import data_dir
    from cairn.store.db import Database
    from cairn.store.migrate import ensure_schema

    try:
        env_settings = Settings.from_env()
    except CairnError as exc:
        raise click.UsageError(exc.message) from None
    given: dict[str, Any] = {
        BACKEND_STORE_URI.name: backend_store_uri,
        ARTIFACTS_DESTINATION.name: artifacts_destination,
        SERVE_ARTIFACTS.name: serve_artifacts,
        MAX_ARTIFACT_BYTES.name: max_artifact_bytes,
        TRUNCATE_LONG_VALUES.name: truncate_long_values,
        AUTH.name: auth,
        DEFAULT_PERMISSION.name: default_permission.upper() if default_permission else None,
        QUEUE_URI.name: queue_uri,
        RUN_JOBS.name: run_jobs,
        LOG_FORMAT.name: log_format.lower() if log_format else None,
        ACCESS_LOG.name: access_log,
        DB_GROUP_COMMIT.name: group_commit,
    }
    for setting, option, raw in (
        (ALLOWED_HOSTS, "--allowed-hosts", allowed_hosts),
        (CORS_ALLOWED_ORIGINS, "--cors-allowed-origins", cors_allowed_origins),
        (PUBLIC_URL, "--public-url", public_url),
    ):
        if raw:
            try:
                given[setting.name] = setting.convert(raw, option)
            except CairnError as exc:
                raise click.UsageError(exc.message) from None
    hosts_configured = bool(allowed_hosts) or bool(os.environ.get(ALLOWED_HOSTS.env))
    if not hosts_configured:  # the in-process default (any) is not safe for a listening server
        given[ALLOWED_HOSTS.name] = default_allowed_hosts(host)
    settings = replace(
        env_settings,
        **{name: value for name, value in given.items() if value not in (None, "")},
        shared_store=workers > 1 or env_settings.shared_store,
    )
    uri = settings.backend_store_uri
    if uri.startswith("sqlite:///") and backend_store_uri is None:
        data_dir().mkdir(parents=True, exist_ok=True)
    destination = settings.artifacts_destination
    configure_logging(settings)
    banner = logging.getLogger("cairn.server")

    def say(markup: str, level: int = logging.INFO) -> None:
        """A line of the start banner: printed, or a log record in the JSON log."""
        if settings.log_format == "json":
            banner.log(level, Text.from_markup(markup).plain)
        else:
            console.print(markup)

    chosen = choose_port(host, port, say)
    db = Database(uri)
    try:
        revision = ensure_schema(db.write_engine)
    except Exception as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.close()

    shown_host = f"[{host}]" if ":" in host else host
    say(f"[bold]Cairn {__version__}[/bold] listening on [cyan]http://{shown_host}:{chosen}[/cyan]")
    say(f"  store:   {_redact(uri)} (schema {revision})")
    mode = "proxied" if settings.serve_artifacts else "direct"
    say(f"  artifacts: {destination} ({mode})")
    say(f"  workers: {workers}")
    if settings.run_jobs:
        say("  jobs:    run here (one worker thread per server process)")
    else:
        say("  jobs:    enqueued only (--no-worker): run `cairn worker` processes")
    say(f"  allowed hosts: {', '.join(settings.allowed_hosts)}")
    if settings.auth:
        say(
            f"  access control: on (users need to sign in; default permission "
            f"{settings.default_permission})"
        )
    if not settings.auth and not is_loopback(host):
        say(
            f"[bold red]Warning:[/bold red] listening on {shown_host}, not only on this "
            "machine, without access control: anyone who can reach this address can read, "
            "change and delete everything this server holds. Start it with --auth "
            "(docs/security.md), or keep it on a trusted network.",
            logging.WARNING,
        )
    if "*" in settings.allowed_hosts:
        say(
            "[bold yellow]Warning:[/bold yellow] any Host header is answered, so a web page "
            "that re-points its name at this server (DNS rebinding) can use it through a "
            "visitor's browser. Set --allowed-hosts (or $CAIRN_ALLOWED_HOSTS) to the names "
            "clients use, e.g. --allowed-hosts cairn.example.com,localhost",
            logging.WARNING,
        )
    os.environ.update(settings.to_env())
    json_log = settings.log_format == "json"
    common = {
        "host": host,
        "port": chosen,
        "access_log": settings.access_log and not json_log,  # JSON: Cairn's own records
        "log_level": "info" if settings.access_log else "warning",
        **({"log_config": None} if json_log else {}),
        "timeout_keep_alive": 30,
    }
    if workers == 1:
        from cairn.server.app import create_app

        uvicorn.run(create_app(settings, freeze_heap=True), **common)  # type: ignore[arg-type]
    else:
        uvicorn.run(
            "cairn.server.app:app_from_env",
            factory=True,
            workers=workers,
            **common,  # type: ignore[arg-type]
        )


@main.command()
@click.option(
    "--older-than",
    default="30d",
    show_default=True,
    help="Purge what was deleted longer ago than this: 30d, 12h, 90m, 45s, 2w (0 for all).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be purged.")
@click.option(
    "--backend-store-uri",
    envvar="CAIRN_BACKEND_STORE_URI",
    default=None,
    help="SQLAlchemy URI of the store [default: the data directory's SQLite file].",
)
@click.option(
    "--artifacts-destination",
    envvar="CAIRN_ARTIFACTS_DESTINATION",
    default=None,
    help="The server's artifact store [default: the data directory's artifacts/].",
)
def gc(
    older_than: str,
    dry_run: bool,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
) -> None:
    """Permanently remove deleted runs and experiments, with their artifacts.

    Runs deleted longer ago than --older-than are purged with everything logged to them;
    so are deleted experiments (their names become free again). Artifacts go first, local
    or S3, so an interrupted gc can simply be run again.
    """
    from rich.progress import Progress

    from cairn.artifacts.uri import repository_for
    from cairn.cli_db import open_database
    from cairn.entities.errors import CairnError
    from cairn.server.settings import default_artifacts_destination
    from cairn.services.artifacts import ArtifactService
    from cairn.services.gc import GarbageCollector, parse_age

    try:
        age = parse_age(older_than)
    except CairnError as exc:
        raise click.BadParameter(exc.message, param_hint="--older-than") from exc
    try:
        with open_database(backend_store_uri, upgrade=False) as database:
            repo = repository_for(artifacts_destination or default_artifacts_destination())
            collector = GarbageCollector(database, ArtifactService(repo))
            plan = collector.plan(age)
            total = len(plan.runs) + len(plan.experiments)
            console.print(
                f"{len(plan.runs)} run(s) and {len(plan.experiments)} experiment(s) deleted "
                f"more than {older_than} ago"
            )
            if dry_run:
                for run in plan.runs:
                    click.echo(f"run {run.run_uuid} (experiment {run.experiment_id})")
                for exp in plan.experiments:
                    click.echo(f"experiment {exp.experiment_id} '{exp.name}'")
                return
            with Progress(console=console, transient=False) as progress:
                task = progress.add_task("purging", total=total)
                outcome = collector.run(plan, lambda _what: progress.advance(task))
            for note in outcome.skipped:
                console.print(f"[yellow]skipped[/yellow] {note}")
            console.print(
                f"purged {outcome.runs_purged} run(s), {outcome.experiments_purged} "
                f"experiment(s), {outcome.files_removed} artifact file(s)"
            )
    except CairnError as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
@click.option(
    "--tracking-uri",
    default=None,
    help="Where to put the demo data: a Cairn server (http://127.0.0.1:5000) or a folder for "
    "the embedded store [default: $CAIRN_TRACKING_URI, $MLFLOW_TRACKING_URI, or the embedded "
    f"store in {DEFAULT_HOME}, the one `cairn server` opens by default].",
)
@click.option(
    "--curve-steps",
    type=click.IntRange(10, 1_000_000),
    default=20_000,
    show_default=True,
    help="Steps per metric in the long training-curve runs.",
)
def demo(tracking_uri: str | None, curve_steps: int) -> None:
    """Fill a store with example experiments, runs, datasets and registered models.

    Runs the LIMS contamination classifier (two versions, Staging → Production), the
    security prompt classifier (five classes, text datasets, the best alias), a nested
    hyper-parameter sweep and long training curves. Running it again adds new runs and
    model versions.
    """
    try:
        import matplotlib  # noqa: F401
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"cairn demo needs the ml extra ({exc.name} is missing): pip install 'cairn-ml[ml]'"
        ) from exc
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    import cairn as sdk
    from cairn.demo import run_demo, scenarios

    if tracking_uri:
        sdk.set_tracking_uri(tracking_uri)
    target = sdk.get_tracking_uri()
    console.print(f"[bold]Cairn demo[/bold] → [cyan]{target}[/cyan]")
    total = sum(s.steps for s in scenarios(curve_steps))
    columns = (
        TextColumn("[bold]{task.fields[scenario]:<17}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total, scenario="")

        def report(scenario: str, message: str) -> None:
            progress.console.print(f"  [green]✓[/green] [dim]{scenario}:[/dim] {message}")
            progress.update(task, advance=1, description=message[:60], scenario=scenario)

        try:
            result = run_demo(None, report, curve_steps)
        except sdk.CairnClientError as exc:
            raise click.ClickException(str(exc)) from exc
        progress.update(task, description="done", scenario="")
    console.print(
        f"\n[bold]Done.[/bold] {result.runs} runs in {len(result.experiments)} experiments "
        f"({', '.join(result.experiments)}), {result.datasets} datasets (used "
        f"{result.dataset_uses} times), registered models "
        f"{', '.join(result.models)}."
    )
    if target.startswith(("http://", "https://")):
        console.print(f"Open [cyan]{target}[/cyan] to explore them.")
    else:
        console.print("Run [bold]cairn server[/bold] in this folder and open the URL it prints.")


@main.command()
@click.argument("source", metavar="SOURCE")
@click.option("--to", "to", required=True, metavar="URL", help="The server to upload to.")
@click.option(
    "--source-artifacts",
    default=None,
    metavar="DIR",
    help="Where the source's mlflow-artifacts:/ files are [default: the artifacts/ folder "
    "next to the database].",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be sent; send nothing.")
def sync(source: str, to: str, source_artifacts: str | None, dry_run: bool) -> None:
    """Upload an offline store to a server, sending only what it does not have yet.

    SOURCE is a store directory (holding cairn.db and artifacts/, like ./cairn-data), a
    sqlite:///path.db URI or the .db file. Experiments (matched by name), runs, params, tags,
    metric histories, dataset inputs, artifacts and registered models (versions whose files
    are in a synced run) are copied; re-running sends nothing twice, and an interrupted sync
    resumes where it stopped. What was delivered is recorded in .cairn-sync/ next to the
    database.
    """
    from cairn.sync import SyncError, sync_store
    from cairn.sync.progress import RichProgress, print_report

    try:
        with RichProgress(console) as progress:
            report = sync_store(
                source, to, artifacts=source_artifacts, dry_run=dry_run, progress=progress
            )
    except SyncError as exc:
        raise click.ClickException(exc.message) from None
    print_report(Console(highlight=False), report)
    if report.failures:
        raise click.ClickException(f"{len(report.failures)} problem(s); see above")


@main.group()
def db() -> None:
    """Manage the database: its schema, backups of the embedded SQLite store."""


def _uri_option(fn: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--backend-store-uri",
        envvar="CAIRN_BACKEND_STORE_URI",
        default=None,
        help="SQLAlchemy URI of the store [default: the data directory's SQLite file].",
    )(fn)


@db.command()
@_uri_option
def upgrade(backend_store_uri: str | None) -> None:
    """Create the schema, or upgrade it to this version of Cairn."""
    from cairn.entities.errors import CairnError
    from cairn.server.settings import data_dir, default_backend_uri
    from cairn.store.db import Database
    from cairn.store.migrate import current_revision, head_revision
    from cairn.store.migrate import upgrade as do_upgrade

    uri = backend_store_uri or default_backend_uri()
    if backend_store_uri is None:
        data_dir().mkdir(parents=True, exist_ok=True)
    database = Database(uri)
    try:
        before = current_revision(database.write_engine)
        try:
            do_upgrade(database.write_engine)
        except CairnError as exc:
            raise click.ClickException(exc.message) from None
        console.print(f"{_redact(uri)}: schema {before or 'empty'} → {head_revision()}")
    finally:
        database.close()


@db.command()
@_uri_option
def current(backend_store_uri: str | None) -> None:
    """Show the schema revision of a store and the one this Cairn needs."""
    from cairn.server.settings import default_backend_uri
    from cairn.store.db import Database
    from cairn.store.migrate import current_revision, head_revision

    uri = backend_store_uri or default_backend_uri()
    database = Database(uri)
    try:
        click.echo(f"current: {current_revision(database.write_engine) or 'empty'}")
        click.echo(f"head:    {head_revision()}")
    finally:
        database.close()


db.add_command(backup)
db.add_command(restore)
main.add_command(users)
main.add_command(tokens)
main.add_command(audit)
main.add_command(import_)
main.add_command(export)
main.add_command(models)
main.add_command(retention)
main.add_command(webhooks)
main.add_command(jobs)
main.add_command(worker)
main.add_command(alerts)
main.add_command(evals)

if __name__ == "__main__":
    sys.exit(main())
