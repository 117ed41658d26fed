"""Red-team results over HTTP: log a red-team run (seed 000's call) and read a model's
vulnerability trend. See docs/red-team.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.server.state import identity, red_team

router = APIRouter(prefix="/api/v1", tags=["red team"])


class RedTeamLogIn(BaseModel):
    """Seed 000's body. Types are checked by the service, which names the field it refuses."""

    model_config = ConfigDict(extra="allow")

    model_name: Any = Field(
        description="The model tested: a registered model's name (the run is linked to its "
        "latest version) or any name (`distilbert`), kept as given"
    )
    test_results: Any = Field(
        description="One object per test: `attack_type` (prompt_injection, jailbreak, "
        "system_extraction, code_injection, benign, or your own), `detected` (the model "
        "flagged it) or `success` (the attack got through), optional `prompt`; other fields "
        "are kept in detailed_results.json"
    )
    attack_patterns: Any = Field(
        default=None, description="Optional list of strings or objects, kept as given"
    )
    experiment_name: Any = Field(default=None, description="Default `red-team`")
    model_version: Any = Field(
        default=None, description="A registered model's version to link (default: its latest)"
    )


class TypeTrend(BaseModel):
    count: int
    successful: int | None
    success_rate: float | None


class TrendPoint(BaseModel):
    run_id: str
    time: int | None = Field(description="The run's start (ms)")
    version: str | None = Field(description="The registered version tested, when known")
    experiment_id: str
    total: int | None = Field(description="Attack tests (the benign control set not counted)")
    successful: int | None = Field(description="Attacks that got through")
    detection_rate: float | None
    vulnerability_rate: float | None
    benign_false_positive_rate: float | None
    per_type: dict[str, TypeTrend]


class TrendChange(BaseModel):
    from_run_id: str
    to_run_id: str
    from_version: str | None
    to_version: str | None
    time: int | None
    newly_through: list[str] = Field(description="Attack types that now get through")
    stopped: list[str] = Field(description="Attack types that no longer get through")


class TrendOut(BaseModel):
    model_name: str
    points: list[TrendPoint] = Field(description="Oldest first")
    changes: list[TrendChange]


@router.post(
    "/red-team/log",
    summary="Log red-team results as a run (seed 000's call)",
    description=(
        "Logs a run in experiment `red-team` (or `experiment_name`) with the metrics "
        "`red_team_total_tests`, `red_team_successful_attacks`, `red_team_detection_rate`, "
        "`red_team_vulnerability_rate`, `attack_<type>_count`, `attack_<type>_success_rate`, "
        "`benign_false_positive_rate`, the artifacts `detailed_results.json` and "
        "`attack_analysis.json`, and the tags `cairn.red_team.model_name` (+ "
        "`cairn.red_team.model_version`). Needs EDIT on the experiment when it exists and on "
        "the registered model when `model_name` is one. Bad input is a 400 naming the field."
    ),
)
@requires(p.USER_WRITE)
async def log_results(request: Request, body: RedTeamLogIn) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    found: dict[str, Any] = await run_in_threadpool(red_team(request).log, identity(request), data)
    return found


@router.get(
    "/red-team/models/{name}",
    response_model=TrendOut,
    summary="A model's vulnerability trend across versions and time",
    description=(
        "Every red-team run of the model (runs tagged `cairn.red_team.model_name`, in any "
        "experiment the caller may read), oldest first, and between consecutive runs the "
        "attack types that newly got through or stopped getting through."
    ),
)
@requires(p.USER_READ)
async def model_trend(
    request: Request,
    name: str,
    max_points: int = Query(100, ge=1, le=500, description="The newest N runs"),
) -> TrendOut:
    found = await run_in_threadpool(red_team(request).trend, identity(request), name, max_points)
    return TrendOut.model_validate(found)
