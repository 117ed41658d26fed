"""What the CLI commands that talk to a server share (`cairn models`, `jobs`, `alerts`,
`retention`, `webhooks`…): the SDK's REST client opened on the configured tracking target,
one call to Cairn's own API, and JSON output.

The client signs in as the user of ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``
(or with the API token in ``MLFLOW_TRACKING_TOKEN``); a refused call becomes a click error
that names the server's error code and message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import orjson

from cairn.client.config import resolve_target
from cairn.client.errors import CairnClientError, CairnRestError
from cairn.client.rest import RestClient

V1 = "/api/v1"


@contextmanager
def v1_client(ctx: click.Context) -> Iterator[RestClient]:
    """A REST client on the target the command group was given (``ctx.obj``), closed after."""
    uri: str | None = ctx.obj
    try:
        rest = RestClient(resolve_target(uri), max_retries=0)
    except CairnClientError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield rest
    except CairnRestError as exc:
        raise click.ClickException(f"{exc.error_code}: {exc.message}") from None
    except CairnClientError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        rest.close()


def v1_call(rest: RestClient, method: str, path: str, body: Any = None, **params: Any) -> Any:
    """One request to ``/api/v1{path}`` (params that are None are left out): its JSON, or None."""
    query = {k: v for k, v in params.items() if v is not None}
    response = rest.request(method, V1 + path, body=body, params=query or None, retry=False)
    return orjson.loads(response.content) if response.content else None


def show_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
