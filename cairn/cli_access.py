"""`cairn users` and `cairn tokens`: manage who may use a server with access control on
(`cairn server --auth`), straight on its database — for the first admin, for scripts, and
for when nobody can sign in any more."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from cairn.access.service import AccessService
from cairn.entities.errors import CairnError

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
def _service(backend_store_uri: str | None) -> Iterator[AccessService]:
    from cairn.cli_db import open_database

    try:
        with open_database(backend_store_uri) as database:
            yield AccessService(database)
    except CairnError as exc:
        raise click.ClickException(exc.message) from None


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@click.group()
def users() -> None:
    """Create and manage users (for `cairn server --auth`)."""


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an admin (may do everything).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
@_store_option
def users_create(
    username: str, admin: bool, password_stdin: bool, backend_store_uri: str | None
) -> None:
    """Create USERNAME (the password is prompted for, at least 12 characters)."""
    password = _password(password_stdin)
    with _service(backend_store_uri) as access:
        user = access.create_user(username, password, is_admin=admin)
    kind = "admin" if user.is_admin else "user"
    console.print(f"Created {kind} [bold]{user.username}[/bold] (id {user.id})")


@users.command("list")
@_store_option
def users_list(backend_store_uri: str | None) -> None:
    """List the users."""
    with _service(backend_store_uri) as access:
        found = access.list_users()
    table = Table("username", "admin", "active", "created")
    for user in found:
        table.add_row(
            user.username,
            "yes" if user.is_admin else "",
            "yes" if user.active else "no",
            _when(user.created_at),
        )
    Console().print(table)


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@_store_option
def users_set_password(username: str, password_stdin: bool, backend_store_uri: str | None) -> None:
    """Set USERNAME's password (and end their sessions)."""
    password = _password(password_stdin)
    with _service(backend_store_uri) as access:
        access.update_password(username, password)
    console.print(f"Password of [bold]{username}[/bold] changed")


@users.command("set-admin")
@click.argument("username")
@click.option("--yes/--no", "is_admin", default=True, show_default=True, help="Admin or not.")
@_store_option
def users_set_admin(username: str, is_admin: bool, backend_store_uri: str | None) -> None:
    """Make USERNAME an admin (--no: take it back; the last admin stays)."""
    with _service(backend_store_uri) as access:
        user = access.set_admin(username, is_admin)
    console.print(f"{user.username}: admin = {'yes' if user.is_admin else 'no'}")


@users.command("delete")
@click.argument("username")
@_store_option
def users_delete(username: str, backend_store_uri: str | None) -> None:
    """Delete USERNAME with their tokens and grants (not what they created)."""
    with _service(backend_store_uri) as access:
        access.delete_user(username)
    console.print(f"Deleted user [bold]{username}[/bold]")


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (shown once, stored hashed)."""


@tokens.command("create")
@click.argument("username")
@click.argument("name")
@click.option("--read-only", is_flag=True, help="The token may read but change nothing.")
@click.option(
    "--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Days until it expires."
)
@_store_option
def tokens_create(
    username: str,
    name: str,
    read_only: bool,
    expires_in_days: int | None,
    backend_store_uri: str | None,
) -> None:
    """Create a token NAME for USERNAME and print its secret (once) on standard output."""
    import time

    expires = None
    if expires_in_days is not None:
        expires = int(time.time() * 1000) + expires_in_days * 86_400_000
    with _service(backend_store_uri) as access:
        user = access.get_user(username)
        token, secret = access.create_token(user.id, name, expires, read_only)
    console.print(
        f"Token [bold]{token.name}[/bold] for {username} (id {token.id}"
        f"{', read-only' if read_only else ''}; expires {_when(token.expires_at)}). "
        "This is the only time its secret is shown:"
    )
    click.echo(secret)


@tokens.command("list")
@click.argument("username")
@_store_option
def tokens_list(username: str, backend_store_uri: str | None) -> None:
    """List USERNAME's tokens (never their secrets)."""
    with _service(backend_store_uri) as access:
        found = access.list_tokens(access.get_user(username).id)
    table = Table("id", "name", "prefix", "scope", "created", "last used", "expires", "revoked")
    for t in found:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            "read-only" if t.read_only else "full",
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.expires_at),
            _when(t.revoked_at),
        )
    Console().print(table)


@tokens.command("revoke")
@click.argument("token_id", type=int)
@_store_option
def tokens_revoke(token_id: int, backend_store_uri: str | None) -> None:
    """Revoke the token TOKEN_ID (see `cairn tokens list`)."""
    from cairn.entities.access import SYSTEM

    with _service(backend_store_uri) as access:
        token = access.revoke_token(SYSTEM, token_id)
    console.print(f"Revoked token {token.id} ({token.name})")
