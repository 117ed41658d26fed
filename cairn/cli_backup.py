"""``cairn db backup`` and ``cairn db restore``: the embedded SQLite store and its local
artifact folder (cairn/services/backup.py does the work; this file shows its progress)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import click
from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cairn.services.backup import BackupError, UnsupportedStore
from cairn.sync.progress import AmountColumn

console = Console(stderr=True, highlight=False)

STORE_HELP = "SQLAlchemy URI of the store [default: the data directory's SQLite file]."
ARTIFACTS_HELP = "The server's artifact store [default: the data directory's artifacts/]."


class Refused(click.ClickException):
    """A store these commands do not handle (PostgreSQL, MySQL): exit code 2."""

    exit_code = 2


class RichProgress:
    """The service's progress as rich bars: pages for the database, bytes for artifacts."""

    def __init__(self) -> None:
        self._bars = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            AmountColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bars.stop()

    def begin(self, description: str, total: int) -> None:
        unit = "bytes" if "bytes" in description else "items"
        self._task = self._bars.add_task(description, total=total, unit=unit)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, amount)

    def note(self, message: str) -> None:
        self._bars.console.print(f"[yellow]{message}")


def _locations(backend_store_uri: str | None, artifacts_destination: str | None) -> tuple[str, str]:
    from cairn.server.settings import default_artifacts_destination, default_backend_uri

    return (
        backend_store_uri or default_backend_uri(),
        artifacts_destination or default_artifacts_destination(),
    )


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--backend-store-uri", envvar="CAIRN_BACKEND_STORE_URI", default=None,
              help=STORE_HELP)  # fmt: skip
@click.option("--artifacts-destination", envvar="CAIRN_ARTIFACTS_DESTINATION", default=None,
              help=ARTIFACTS_HELP)  # fmt: skip
def backup(dest: Path, backend_store_uri: str | None, artifacts_destination: str | None) -> None:
    """Back up a SQLite store and its artifacts into DEST (a new or empty folder).

    Safe while a server runs and writes: the database is copied with SQLite's online backup
    API (a consistent snapshot) and checked with PRAGMA integrity_check. DEST gets the
    database file, artifacts/ and manifest.json (versions, sizes, the database's SHA-256).
    An artifact store that is not a local folder (s3://…) is left out, with a note. For
    PostgreSQL or MySQL use pg_dump or mysqldump (docs/server.md, "Backup and restore").
    """
    from cairn.services.backup import backup as do_backup

    uri, artifacts = _locations(backend_store_uri, artifacts_destination)
    try:
        with RichProgress() as progress:
            manifest = do_backup(dest, uri, artifacts, progress)
    except UnsupportedStore as exc:
        raise Refused(exc.message) from None
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    database, copied = manifest["database"], manifest["artifacts"]
    files = f"{copied['files']} artifact file(s)" if copied["included"] else "no artifacts"
    console.print(
        f"backed up {manifest['source_uri']} (schema {manifest['schema_revision'] or 'empty'}, "
        f"{decimal(database['bytes'])}) and {files} to {dest.expanduser().resolve()}"
    )


@click.command()
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--backend-store-uri", envvar="CAIRN_BACKEND_STORE_URI", default=None,
              help=STORE_HELP)  # fmt: skip
@click.option("--artifacts-destination", envvar="CAIRN_ARTIFACTS_DESTINATION", default=None,
              help=ARTIFACTS_HELP)  # fmt: skip
@click.option("--force", is_flag=True,
              help="Replace an existing database and artifact folder (they are renamed to "
              "<name>.before-restore-<time>, not deleted).")  # fmt: skip
def restore(
    src: Path, backend_store_uri: str | None, artifacts_destination: str | None, force: bool
) -> None:
    """Restore a `cairn db backup` folder SRC into a SQLite store.

    Checks the manifest, the database's SHA-256 and that this Cairn knows its schema before
    changing anything; refuses an existing database or non-empty artifact folder unless
    --force, and a database a running server has open (stop it first). The restored store
    is then upgraded to this Cairn's schema if the backup is older.
    """
    from cairn.cli_db import open_database
    from cairn.entities.errors import CairnError
    from cairn.services.backup import restore as do_restore
    from cairn.store.migrate import current_revision

    uri, artifacts = _locations(backend_store_uri, artifacts_destination)
    try:
        with RichProgress() as progress:
            restored = do_restore(src, uri, artifacts, force=force, progress=progress)
    except UnsupportedStore as exc:
        raise Refused(exc.message) from None
    except BackupError as exc:
        raise click.ClickException(exc.message) from None
    for path in restored.kept:
        console.print(f"kept the replaced {path.name.split('.before-restore-')[0]} as {path}")
    try:
        with open_database(uri) as database:
            revision = current_revision(database.engine)
    except CairnError as exc:
        raise click.ClickException(exc.message) from None
    where = f" and artifacts into {restored.artifacts}" if restored.artifacts else ""
    console.print(
        f"restored {restored.database} (schema {restored.manifest.get('schema_revision')} → "
        f"{revision}){where}"
    )
