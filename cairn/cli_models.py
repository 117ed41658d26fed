"""`cairn models`: promotion and alias policies, approval requests and rollback, over HTTP.

These commands talk to a server through the SDK's REST client, signed in as the user of
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (or the API token in
``MLFLOW_TRACKING_TOKEN``), so approvals are made by a real user (see docs/audit.md).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import click
import orjson

from cairn.cli_http import show_json, v1_call, v1_client

METRIC_CHECK = re.compile(r"^\s*([^<>=!\s]+)\s*(>=|<=|==|>|<)\s*(\S+)\s*$")


def _name(name: str) -> str:
    return quote(name, safe="")


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def models(ctx: click.Context, tracking_uri: str | None) -> None:
    """Promotion and alias policies, approval requests and rollback of registered models
    (over HTTP, as the user in MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)."""
    ctx.obj = tracking_uri


# ------------------------------------------------------------------------------- policy
@models.group()
def policy() -> None:
    """A registered model's promotion policy."""


@policy.command("show")
@click.argument("name")
@click.pass_context
def policy_show(ctx: click.Context, name: str) -> None:
    """Print NAME's promotion policy as JSON."""
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "GET", f"/models/{_name(name)}/promotion-policy"))


def _metric_check(text: str) -> dict[str, Any]:
    found = METRIC_CHECK.match(text)
    if not found:
        raise click.BadParameter(f"{text!r}: expected KEY>=NUMBER (or >, <=, <, ==)")
    key, op, value = found.groups()
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(f"{text!r}: {value!r} is not a number") from None
    return {"kind": "metric", "key": key, "op": op, "value": number}


def _tag_check(text: str) -> dict[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE")
    return {"kind": "tag", "key": key, "value": value}


@policy.command("set")
@click.argument("name")
@click.option("--stage", "stages", multiple=True, help="A stage that needs approval (repeat).")
@click.option("--alias", "aliases", multiple=True, help="An alias that needs approval (repeat).")
@click.option("--approvals", default=1, show_default=True, help="Approvals required.")
@click.option(
    "--approver-role", default=None, help="Approvers hold this role [default: MANAGE holders]."
)
@click.option("--require-tag", multiple=True, help="Evidence: the run's tag KEY=VALUE (repeat).")
@click.option(
    "--require-metric", multiple=True, help='Evidence: "KEY>=NUMBER" on the run (repeat).'
)
@click.option(
    "--require-evaluation",
    multiple=True,
    metavar="COLLECTION",
    help="Evidence: the version passed a job of this evaluation collection (repeat).",
)
@click.pass_context
def policy_set(
    ctx: click.Context,
    name: str,
    stages: tuple[str, ...],
    aliases: tuple[str, ...],
    approvals: int,
    approver_role: str | None,
    require_tag: tuple[str, ...],
    require_metric: tuple[str, ...],
    require_evaluation: tuple[str, ...],
) -> None:
    """Set NAME's promotion policy (needs MANAGE on the model); prints it."""
    evidence = [_tag_check(t) for t in require_tag] + [_metric_check(m) for m in require_metric]
    evidence += [{"kind": "evaluation", "key": c, "value": "passed"} for c in require_evaluation]
    body = {
        "stages": list(stages),
        "aliases": list(aliases),
        "required_approvals": approvals,
        "approver_role": approver_role,
        "evidence": evidence,
    }
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "PUT", f"/models/{_name(name)}/promotion-policy", body))


@policy.command("clear")
@click.argument("name")
@click.pass_context
def policy_clear(ctx: click.Context, name: str) -> None:
    """Remove NAME's promotion policy (needs MANAGE on the model)."""
    with v1_client(ctx) as rest:
        v1_call(rest, "DELETE", f"/models/{_name(name)}/promotion-policy")
    click.echo(f"Promotion policy of {name} removed.", err=True)


# ------------------------------------------------------------------------- alias policy
@models.group("alias-policy")
def alias_policy() -> None:
    """A registered model's alias policy: aliases Cairn keeps by itself (`latest` on the
    newest version, `best` on the version whose source run has the best value of a metric)."""


@alias_policy.command("show")
@click.argument("name")
@click.pass_context
def alias_policy_show(ctx: click.Context, name: str) -> None:
    """Print NAME's alias policy as JSON (needs MANAGE on the model)."""
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "GET", f"/models/{_name(name)}/alias-policy"))


@alias_policy.command("set")
@click.argument("name")
@click.option("--latest/--no-latest", default=False, help="Keep an alias on the newest version.")
@click.option(
    "--latest-alias", default="latest", show_default=True, help="The alias --latest keeps."
)
@click.option(
    "--best-metric",
    default=None,
    help="Keep an alias on the version whose source run has the best value of this metric.",
)
@click.option(
    "--direction",
    type=click.Choice(["max", "min"]),
    default="max",
    show_default=True,
    help="Which way --best-metric gets better.",
)
@click.option(
    "--best-alias", default="best", show_default=True, help="The alias --best-metric keeps."
)
@click.pass_context
def alias_policy_set(
    ctx: click.Context,
    name: str,
    latest: bool,
    latest_alias: str,
    best_metric: str | None,
    direction: str,
    best_alias: str,
) -> None:
    """Set NAME's alias policy (needs MANAGE on the model); prints it. The aliases move in
    the background as the `system` actor; where NAME's promotion policy covers an alias, an
    approval request is made instead."""
    body = {
        "latest": latest,
        "latest_alias": latest_alias,
        "best_metric": best_metric,
        "best_direction": direction,
        "best_alias": best_alias,
    }
    with v1_client(ctx) as rest:
        show_json(v1_call(rest, "PUT", f"/models/{_name(name)}/alias-policy", body))


@alias_policy.command("clear")
@click.argument("name")
@click.pass_context
def alias_policy_clear(ctx: click.Context, name: str) -> None:
    """Remove NAME's alias policy (needs MANAGE on the model); its aliases stay put, except
    the reserved `latest`, which is removed."""
    with v1_client(ctx) as rest:
        v1_call(rest, "DELETE", f"/models/{_name(name)}/alias-policy")
    click.echo(f"Alias policy of {name} removed.", err=True)


# ----------------------------------------------------------------------------- requests
@models.group()
def requests() -> None:
    """Approval requests: list, approve, reject, cancel."""


@requests.command("list")
@click.option(
    "--state",
    type=click.Choice(["pending", "approved", "rejected", "cancelled", "all"]),
    default="pending",
    show_default=True,
)
@click.option("--model", "model_name", default=None, help="Only this registered model's.")
@click.option("--max-results", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def requests_list(ctx: click.Context, state: str, model_name: str | None, max_results: int) -> None:
    """One JSON line per request, newest first (of the models you may read)."""
    with v1_client(ctx) as rest:
        found = v1_call(
            rest,
            "GET",
            "/approval-requests",
            state=state,
            model_name=model_name,
            max_results=max_results,
        )
    for request in found["requests"]:
        click.echo(orjson.dumps(request).decode())
    if found.get("next_page_token"):
        click.echo("(more: raise --max-results)", err=True)


def _decide(ctx: click.Context, verb: str, request_id: str, comment: str | None) -> None:
    with v1_client(ctx) as rest:
        show_json(
            v1_call(
                rest,
                "POST",
                f"/approval-requests/{quote(request_id, safe='')}/{verb}",
                {"comment": comment},
            )
        )


COMMENT = click.option("--comment", default=None, help="Why (kept with the decision).")


@requests.command("approve")
@click.argument("request_id")
@COMMENT
@click.pass_context
def requests_approve(ctx: click.Context, request_id: str, comment: str | None) -> None:
    """Approve REQUEST_ID (the approval that completes it applies the move)."""
    _decide(ctx, "approve", request_id, comment)


@requests.command("reject")
@click.argument("request_id")
@COMMENT
@click.pass_context
def requests_reject(ctx: click.Context, request_id: str, comment: str | None) -> None:
    """Reject REQUEST_ID."""
    _decide(ctx, "reject", request_id, comment)


@requests.command("cancel")
@click.argument("request_id")
@COMMENT
@click.pass_context
def requests_cancel(ctx: click.Context, request_id: str, comment: str | None) -> None:
    """Withdraw REQUEST_ID (its requester or a MANAGE holder)."""
    _decide(ctx, "cancel", request_id, comment)


# ----------------------------------------------------------------------------- rollback
@models.command()
@click.argument("name")
@click.option("--stage", default="Production", show_default=True)
@COMMENT
@click.pass_context
def rollback(ctx: click.Context, name: str, stage: str, comment: str | None) -> None:
    """Restore the previous STAGE version of NAME, through its promotion policy: moved at
    once, or an approval request (printed)."""
    with v1_client(ctx) as rest:
        show_json(
            v1_call(
                rest,
                "POST",
                f"/models/{_name(name)}/rollback",
                {"stage": stage, "comment": comment},
            )
        )
