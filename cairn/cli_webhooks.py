"""`cairn webhooks`: list, create, delete, test webhooks and read their delivery log, over HTTP.

The commands talk to a server through the SDK's REST client, signed in as the user of
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (or ``MLFLOW_TRACKING_TOKEN``); see
docs/webhooks.md.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import click

from cairn.cli_http import show_json, v1_call, v1_client


def _id(value: str) -> str:
    return quote(value, safe="")


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def webhooks(ctx: click.Context, tracking_uri: str | None) -> None:
    """Webhooks and their deliveries (over HTTP, as the user in
    MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN). See docs/webhooks.md."""
    ctx.obj = tracking_uri


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--max-results", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool, max_results: int) -> None:
    """The webhooks the caller may see, newest first."""
    with v1_client(ctx) as rest:
        found = v1_call(rest, "GET", "/webhooks", max_results=max_results)
    if as_json:
        show_json(found)
        return
    for hook in found["webhooks"]:
        events = ",".join(f"{e['entity']}.{e['action']}" for e in hook["events"])
        scope = hook["scope"] or {}
        where = " ".join(f"{k}={v}" for k, v in scope.items()) or "global"
        click.echo(
            f"{hook['webhook_id']}  {hook['status']:<8}  {hook['name']}  {hook['url']}  "
            f"[{events}]  {where}"
        )


@webhooks.command("create")
@click.option("--name", required=True, help="The webhook's name.")
@click.option("--url", required=True, help="Where to POST events (http or https).")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    help="An event to subscribe to, e.g. model_version.created or run.finished (repeat).",
)
@click.option("--description", default=None)
@click.option(
    "--secret-stdin",
    is_flag=True,
    help="Read the signing secret from standard input (never from the command line).",
)
@click.option("--experiment-id", default=None, help="Only this experiment's events.")
@click.option("--model-name", default=None, help="Only this registered model's events.")
@click.option("--disabled", is_flag=True, help="Create it DISABLED.")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    url: str,
    events: tuple[str, ...],
    description: str | None,
    secret_stdin: bool,
    experiment_id: str | None,
    model_name: str | None,
    disabled: bool,
) -> None:
    """Create a webhook and print it as JSON (the secret is never printed)."""
    body: dict[str, Any] = {"name": name, "url": url, "events": list(events)}
    if description is not None:
        body["description"] = description
    if secret_stdin:
        secret = sys.stdin.readline().rstrip("\n")
        if not secret:
            raise click.BadParameter("no secret on standard input", param_hint="--secret-stdin")
        body["secret"] = secret
    if experiment_id or model_name:
        body["scope"] = {"experiment_id": experiment_id, "model_name": model_name}
    if disabled:
        body["status"] = "DISABLED"
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "POST", "/webhooks", body))


@webhooks.command("delete")
@click.argument("webhook_id")
@click.pass_context
def delete(ctx: click.Context, webhook_id: str) -> None:
    """Delete WEBHOOK_ID and its delivery log."""
    with v1_client(ctx) as rest:
        v1_call(rest, "DELETE", f"/webhooks/{_id(webhook_id)}")
    click.echo(f"Deleted webhook {webhook_id}")


@webhooks.command("test")
@click.argument("webhook_id")
@click.option("--event", default=None, help="The event to send [default: the hook's first].")
@click.pass_context
def test(ctx: click.Context, webhook_id: str, event: str | None) -> None:
    """Send an example event to WEBHOOK_ID now; exit 1 when the receiver did not accept it."""
    body: dict[str, Any] = {}
    if event:
        entity, _, action = event.partition(".")
        body["event"] = {"entity": entity, "action": action}
    with v1_client(ctx) as rest:
        result = v1_call(rest, "POST", f"/webhooks/{_id(webhook_id)}/test", body)
    show_json(result)
    if not result.get("success"):
        ctx.exit(1)


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--max-results", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def deliveries(ctx: click.Context, webhook_id: str, as_json: bool, max_results: int) -> None:
    """WEBHOOK_ID's deliveries, newest first: state, attempts, status, latency, error."""
    with v1_client(ctx) as rest:
        found = v1_call(
            rest, "GET", f"/webhooks/{_id(webhook_id)}/deliveries", max_results=max_results
        )
    if as_json:
        show_json(found)
        return
    for d in found["deliveries"]:
        status = d["last_status_code"] if d["last_status_code"] is not None else "-"
        latency = f"{d['latency_ms']} ms" if d["latency_ms"] is not None else "-"
        error = f"  {d['error']}" if d["error"] else ""
        click.echo(
            f"{d['delivery_id']}  {d['state']:<9}  {d['entity']}.{d['action']}  "
            f"attempts={d['attempts']}  status={status}  {latency}{error}"
        )


@webhooks.command("redeliver")
@click.argument("delivery_id")
@click.pass_context
def redeliver(ctx: click.Context, delivery_id: str) -> None:
    """Send a finished delivery again (same delivery id and body)."""
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "POST", f"/webhooks/deliveries/{_id(delivery_id)}/redeliver"))
