"""Saved views of an experiment's runs table, per user (the web UI's *Save view*).

``GET /api/v1/views?experiment_id=…`` lists the caller's views of the experiment,
``PUT /api/v1/views`` saves one (create or replace by name), ``DELETE
/api/v1/views?experiment_id=…&name=…`` forgets one. READ on the experiment is needed; each
user sees only their own views (with access control off, everyone is the local user).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import Need, requires
from cairn.entities.access import Permission
from cairn.entities.saved_views import SavedView
from cairn.server.state import identity, saved_views

router = APIRouter(prefix="/api/v1", tags=["saved views"])

_READ = p.experiment(Permission.READ, "experiment_id")
_WRITE = Need(_READ.level, _READ.checks, writes=True)
"""READ on the experiment, and a token that may change things (a view is the user's own)."""


class SavedViewIn(BaseModel):
    experiment_id: str = Field(description="The experiment whose runs table the view is of")
    name: str = Field(description="1 to 100 characters; saving an existing name replaces it")
    query: str = Field(
        description="The view as the runs page's URL query: q, order, cols, pin, deleted, mode, "
        "group, agg (at most 8,000 characters)"
    )

    model_config = ConfigDict(extra="forbid")


class SavedViewOut(BaseModel):
    experiment_id: str
    name: str
    query: str
    updated_at: int = Field(description="When it was last saved (ms since the epoch)")


class SavedViewsOut(BaseModel):
    views: list[SavedViewOut]


def _out(v: SavedView) -> SavedViewOut:
    return SavedViewOut(
        experiment_id=v.experiment_id, name=v.name, query=v.query, updated_at=v.updated_at
    )


@router.get(
    "/views",
    response_model=SavedViewsOut,
    summary="Your saved views of an experiment's runs table",
    responses={404: {"description": "No such experiment"}},
)
@requires(_READ)
async def list_views(
    request: Request,
    experiment_id: Annotated[str, Query(description="The experiment")],
) -> SavedViewsOut:
    owner = identity(request).username
    found = await run_in_threadpool(saved_views(request).list_views, owner, experiment_id)
    return SavedViewsOut(views=[_out(v) for v in found])


@router.put(
    "/views",
    response_model=SavedViewOut,
    summary="Save a view of an experiment's runs table (create or replace by name)",
    responses={
        400: {"description": "A bad field, named"},
        404: {"description": "No such experiment"},
    },
)
@requires(_WRITE)
async def put_view(request: Request, body: SavedViewIn) -> SavedViewOut:
    owner = identity(request).username
    view = await run_in_threadpool(
        saved_views(request).put_view, owner, body.experiment_id, body.name, body.query
    )
    return _out(view)


@router.delete(
    "/views",
    status_code=204,
    summary="Forget one of your saved views",
    responses={404: {"description": "No such experiment or view"}},
)
@requires(_WRITE)
async def delete_view(
    request: Request,
    experiment_id: Annotated[str, Query(description="The experiment")],
    name: Annotated[str, Query(description="The view's name")],
) -> Response:
    owner = identity(request).username
    await run_in_threadpool(saved_views(request).delete_view, owner, experiment_id, name)
    return Response(status_code=204)
