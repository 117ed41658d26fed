"""`cairn alerts`: metric alert rules and the alerts they fire, over HTTP.

Like ``cairn models``, these commands talk to a server through the SDK's REST client, signed
in as the user of ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (or the API token
in ``MLFLOW_TRACKING_TOKEN``). See docs/alerts.md.
"""

from __future__ import annotations

from typing import Any

import click

from cairn.cli_http import show_json, v1_call, v1_client

KINDS = ("threshold", "drop", "non_finite", "stalled", "failed_run")


@click.group()
@click.option(
    "--tracking-uri",
    envvar=["CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"],
    default=None,
    help="The server (http://host:port) [default: $CAIRN_TRACKING_URI, then $MLFLOW_TRACKING_URI].",
)
@click.pass_context
def alerts(ctx: click.Context, tracking_uri: str | None) -> None:
    """Metric alert rules and alerts (over HTTP, as the user in
    MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)."""
    ctx.obj = tracking_uri


@alerts.group()
def rules() -> None:
    """Alert rules: list, create, delete."""


@rules.command("list")
@click.option("--experiment-id", default=None, help="Only the rules of this experiment.")
@click.option("--model", "model_name", default=None, help="Only the rules of this model.")
@click.option("--max-results", default=100, show_default=True, help="Rules per page.")
@click.pass_context
def rules_list(
    ctx: click.Context, experiment_id: str | None, model_name: str | None, max_results: int
) -> None:
    """Print the rules the caller may read as JSON, newest first (every page)."""
    found: list[Any] = []
    with v1_client(ctx) as rest:
        token: str | None = None
        for _ in range(10_000):
            page = v1_call(
                rest, "GET", "/alerts/rules", experiment_id=experiment_id,
                model_name=model_name, max_results=max_results, page_token=token,
            )  # fmt: skip
            found.extend(page["rules"])
            token = page.get("next_page_token")
            if not token:
                break
    show_json(found)


@rules.command("create")
@click.option("--name", required=True, help="The rule's name, shown on its alerts.")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the rule watches.")
@click.option("--experiment-id", default=None, help="Scope: this experiment's runs.")
@click.option("--model", "model_name", default=None, help="Scope: this model's versions.")
@click.option(
    "--filter", "filter_", default=None, help="Experiment scope: e.g. \"tags.team = 'lims'\"."
)
@click.option("--metric", default=None, help="threshold, drop, non_finite: the metric key.")
@click.option("--op", default=None, help="threshold: >, >=, <, <=, == or !=.")
@click.option("--value", type=float, default=None, help="threshold bound, or drop amount.")
@click.option("--against", type=click.Choice(("best", "previous")), default=None, help="drop.")
@click.option("--measure", type=click.Choice(("percent", "absolute")), default=None, help="drop.")
@click.option(
    "--direction",
    type=click.Choice(("max", "min")),
    default=None,
    help="drop: max = higher is better [default: guessed from the metric's name].",
)
@click.option("--minutes", type=int, default=None, help="stalled: minutes without a metric.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.pass_context
def rules_create(ctx: click.Context, /, **options: Any) -> None:
    """Create a rule (MANAGE on its experiment or model) and print it as JSON."""
    body: dict[str, Any] = {
        "name": options["name"],
        "kind": options["kind"],
        "experiment_id": options["experiment_id"],
        "model_name": options["model_name"],
        "filter": options["filter_"],
        "metric": options["metric"],
        "op": options["op"],
        "value": options["value"],
        "against": options["against"],
        "measure": options["measure"],
        "direction": options["direction"],
        "minutes": options["minutes"],
        "enabled": not options["disabled"],
    }
    with v1_client(ctx) as rest:
        made = v1_call(
            rest, "POST", "/alerts/rules", {k: v for k, v in body.items() if v is not None}
        )
    show_json(made)


@rules.command("delete")
@click.argument("rule_id")
@click.pass_context
def rules_delete(ctx: click.Context, rule_id: str) -> None:
    """Delete rule RULE_ID (its open alerts are resolved)."""
    with v1_client(ctx) as rest:
        v1_call(rest, "DELETE", f"/alerts/rules/{rule_id}")
    click.echo(f"Deleted alert rule {rule_id}")


@alerts.command("list")
@click.option(
    "--state",
    type=click.Choice(("firing", "resolved", "all")),
    default="firing",
    show_default=True,
)
@click.option("--experiment-id", default=None, help="Only the alerts of this experiment.")
@click.option("--model", "model_name", default=None, help="Only the alerts of this model.")
@click.option("--max-results", default=100, show_default=True, help="At most this many.")
@click.pass_context
def alerts_list(
    ctx: click.Context,
    state: str,
    experiment_id: str | None,
    model_name: str | None,
    max_results: int,
) -> None:
    """Print the alerts the caller may read as JSON, newest first."""
    with v1_client(ctx) as rest:
        page = v1_call(
            rest, "GET", "/alerts", state=state, experiment_id=experiment_id,
            model_name=model_name, max_results=max_results,
        )  # fmt: skip
    show_json(page["alerts"])
