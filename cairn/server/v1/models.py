"""Cairn's model registry API: the promotion history of a registered model.

Every version creation and deletion, stage transition, alias set/move/delete, rename and
model deletion is an event, newest first. A deleted model's events stay: its name answers
with them until a new model takes the name.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.server.state import registry

router = APIRouter(prefix="/api/v1", tags=["models"])


class ModelEventOut(BaseModel):
    """One change. Stage events: ``from``/``to`` are stages. Alias events: ``to`` (set,
    moved) or ``from`` (deleted) is the alias, ``version`` the version it points (pointed)
    to, and a move's ``from`` is the previous version. Renames: old and new name."""

    version: str | None
    kind: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None
    actor: str | None
    time: int

    model_config = ConfigDict(populate_by_name=True)


class ModelHistory(BaseModel):
    model: str
    events: list[ModelEventOut]
    next_page_token: str | None = None


@router.get(
    "/models/{name}/history",
    response_model=ModelHistory,
    summary="Promotion history of a registered model, newest first",
    responses={404: {"description": "No model (and no deleted model's events) by that name"}},
)
async def model_history(
    request: Request,
    name: str,
    max_results: int = Query(100, ge=1, le=1000),
    page_token: str | None = None,
) -> ModelHistory:
    page = await run_in_threadpool(registry(request).history, name, max_results, page_token)
    events = [
        ModelEventOut(
            version=None if e.version is None else str(e.version),
            kind=e.kind,
            from_=e.from_value,
            to=e.to_value,
            actor=e.actor,
            time=e.time,
        )
        for e in page.items
    ]
    return ModelHistory(model=name, events=events, next_page_token=page.next_page_token)
