"""Model policies: the aliases Cairn keeps on a registered model's versions by itself
(``latest`` on the newest version, ``best`` on the version whose source run has the best
value of a metric). See docs/audit.md, "Model policies".
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.entities.model_policies import AliasPolicy
from cairn.server.state import approvals, identity, model_policies

router = APIRouter(prefix="/api/v1", tags=["model policies"])


class AliasPolicyIn(BaseModel):
    """Turn on ``latest``, name a ``best_metric``, or both."""

    latest: StrictBool = Field(
        default=False, description="Keep `latest_alias` on the newest version that exists"
    )
    latest_alias: str = Field(
        default="latest", description="The alias `latest` keeps (default `latest`)"
    )
    best_metric: str | None = Field(
        default=None,
        description=(
            "Keep `best_alias` on the version whose source run has the best latest value of "
            "this metric; null: no `best` rule"
        ),
    )
    best_direction: Literal["max", "min"] = Field(
        default="max", description="`max`: the highest value is best; `min`: the lowest"
    )
    best_alias: str = Field(default="best", description="The alias `best` keeps (default `best`)")


class AliasPolicyOut(BaseModel):
    model_name: str
    latest: bool
    latest_alias: str
    best_metric: str | None
    best_direction: Literal["max", "min"]
    best_alias: str
    updated_at: int = Field(description="When it was last set (ms since the epoch)")
    updated_by: str


def _out(policy: AliasPolicy) -> AliasPolicyOut:
    return AliasPolicyOut.model_validate(policy.to_json())


PATH = "/models/{name}/alias-policy"


class PolicySummaryOut(BaseModel):
    """Whether a model has each policy, and the metrics they judge its versions by."""

    promotion_policy: bool = Field(description="The model has a promotion policy")
    alias_policy: bool = Field(description="The model has an alias policy")
    metrics: list[str] = Field(
        description="The alias policy's `best_metric`, then the keys of the promotion "
        "policy's `metric` evidence (each once)"
    )


@router.get(
    "/models/{name}/policy-summary",
    response_model=PolicySummaryOut,
    summary="Which policies a registered model has, and the metrics they use (READ)",
    description=(
        "For pages that only need to know: the runs table's default metric columns, and the "
        "model page before it asks for a policy (a model without one answers here with false "
        "instead of a 404 from the policy's own route)."
    ),
)
@requires(p.model(Permission.READ, "name"))
async def policy_summary(request: Request, name: str) -> PolicySummaryOut:
    def read() -> PolicySummaryOut:
        promotion = approvals(request).find_policy(name)
        alias = model_policies(request).find_policy(name)
        keys = [alias.best_metric] if alias is not None and alias.best_metric else []
        for e in promotion.evidence if promotion is not None else ():
            if e.kind == "metric" and e.key:
                keys.append(e.key)
        return PolicySummaryOut(
            promotion_policy=promotion is not None,
            alias_policy=alias is not None,
            metrics=list(dict.fromkeys(keys)),
        )

    return await run_in_threadpool(read)


@router.get(
    PATH,
    response_model=AliasPolicyOut,
    summary="A registered model's alias policy (MANAGE on the model)",
    responses={404: {"description": "No such model, or it has no alias policy"}},
)
@requires(p.model(Permission.MANAGE, "name"))
async def get_alias_policy(request: Request, name: str) -> AliasPolicyOut:
    return _out(await run_in_threadpool(model_policies(request).get_policy, name))


@router.put(
    PATH,
    response_model=AliasPolicyOut,
    summary="Set a registered model's alias policy (MANAGE on the model)",
    description=(
        "Replaces the policy. `latest`: Cairn keeps `latest_alias` on the newest version. "
        "`best_metric`: Cairn keeps `best_alias` on the version whose source run has the best "
        "latest value of that metric (`best_direction` `max` or `min`; a tie goes to the newest "
        "version; versions without a finite value are left out; with none the alias is "
        "removed). The aliases move in the background, as the `system` actor, when versions "
        "are created or deleted and when source runs log the metric; where the promotion "
        "policy covers the alias, an approval request is made instead. Bad input: 400 naming "
        "the field."
    ),
)
@requires(p.model(Permission.MANAGE, "name"))
async def set_alias_policy(request: Request, name: str, body: AliasPolicyIn) -> AliasPolicyOut:
    who = identity(request)
    service = model_policies(request)
    data = body.model_dump()
    return _out(await run_in_threadpool(service.set_policy, who.username, name, data))


@router.delete(
    PATH,
    status_code=204,
    summary="Remove a registered model's alias policy (MANAGE on the model)",
    description=(
        "The aliases it placed stay where they are and no longer move by themselves, except "
        "the reserved `latest`, which is removed (nobody else may move it)."
    ),
    responses={404: {"description": "No such model, or it has no alias policy"}},
)
@requires(p.model(Permission.MANAGE, "name"))
async def delete_alias_policy(request: Request, name: str) -> Response:
    who = identity(request)
    await run_in_threadpool(model_policies(request).delete_policy, who.username, name)
    return Response(status_code=204)
