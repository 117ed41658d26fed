"""The audit trail over HTTP: list the change events (admins everything, MANAGE holders the
events of what they manage), verify the hash chain, export it as JSON Lines or CSV."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.events import ChangeEvent, EventQuery
from cairn.events.export import MEDIA_TYPES, export_chunks
from cairn.events.service import DEFAULT_PAGE, MAX_PAGE, parse_time
from cairn.server.state import audit, audit_scope

router = APIRouter(prefix="/api/v1", tags=["audit"])


class EventOut(BaseModel):
    id: int = Field(description="Gap-free, in commit order")
    time: int = Field(description="Milliseconds since the epoch")
    actor: str = Field(description="Who made the change: a user name, or `system`")
    actor_kind: str = Field(description="`user`, `token` (an API token of `actor`) or `system`")
    address: str | None = Field(description="The client address (or `cli:<os user>`)")
    request_id: str | None = Field(description="The request's `X-Request-Id`")
    action: str = Field(description="`<entity>.<verb>`: `run.create`, `experiment.rename`…")
    entity_type: str
    entity_id: str = Field(description="Model versions: `<model name>/<version>`")
    experiment_id: str | None
    model_name: str | None
    before: dict[str, Any] | None = Field(description="The changed metadata before (no secrets)")
    after: dict[str, Any] | None = Field(description="The changed metadata after (no secrets)")
    claimed_user: str | None = Field(
        description="The user a client said it was (a run's `mlflow.user`): kept, not trusted"
    )
    prev_hash: str
    hash: str


class EventList(BaseModel):
    events: list[EventOut]
    next_page_token: str | None = None


class ChainReportOut(BaseModel):
    ok: bool
    checked: int = Field(description="How many events were checked")
    first_id: int | None = Field(description="The first event kept (after retention prunes)")
    head_id: int = Field(description="The last event's id, as the chain's head row records it")
    head_hash: str = Field(
        description="The last event's hash: keep a copy elsewhere to detect a rewrite later"
    )
    broken_at: int | None = Field(description="The id of the first broken link")
    reason: str | None


Text = Annotated[str | None, Query(max_length=1024)]
When = Annotated[
    str | None,
    Query(description="Milliseconds since the epoch, or an ISO-8601 date or date-time (UTC)"),
]


def _query(
    actor: str | None,
    action: str | None,
    entity_type: str | None,
    entity_id: str | None,
    experiment_id: str | None,
    model_name: str | None,
    since: str | None,
    until: str | None,
) -> EventQuery:
    return EventQuery(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        experiment_id=experiment_id,
        model_name=model_name,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
    )


def _out(event: ChangeEvent) -> EventOut:
    return EventOut.model_validate(event.to_json())


_FILTERS = (
    "Filters: `actor`, `action`, `entity_type`, `entity_id`, `experiment_id`, `model_name` "
    "(exact), `since` (inclusive) and `until` (exclusive), as milliseconds or ISO-8601 dates "
    "(UTC). A run's history: `entity_type=run&entity_id=<run id>`; a model version's: "
    "`entity_type=model_version&entity_id=<name>/<version>`."
)


@router.get(
    "/audit",
    response_model=EventList,
    summary="The audit trail: change events, newest first",
    description="Every change Cairn made, who made it, and what changed. Admins read every "
    "event; other signed-in users read the events of the experiments and registered models "
    "they hold MANAGE on (an empty list when they manage none); with access control off, "
    f"everyone reads everything. {_FILTERS} Paged by `page_token` (from `next_page_token`; "
    f"tied to the filters); `max_results` 1 to {MAX_PAGE}, default {DEFAULT_PAGE}.",
)
@requires(p.USER_READ)
async def list_events(
    request: Request,
    actor: Text = None,
    action: Text = None,
    entity_type: Text = None,
    entity_id: Text = None,
    experiment_id: Text = None,
    model_name: Text = None,
    since: When = None,
    until: When = None,
    max_results: int = DEFAULT_PAGE,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> EventList:
    query = _query(actor, action, entity_type, entity_id, experiment_id, model_name, since, until)

    def read() -> EventList:
        scoped = replace(query, scope=audit_scope(request))
        page = audit(request).page(scoped, max_results, page_token)
        events = [_out(e) for e in page.events]
        return EventList(events=events, next_page_token=page.next_page_token)

    return await run_in_threadpool(read)


@router.get(
    "/audit/verify",
    response_model=ChainReportOut,
    summary="Check the audit trail's hash chain (admins)",
    description="Walks every kept event in one snapshot and checks each link: consecutive ids, "
    "each `prev_hash` the hash before it, each hash the hash of its own fields (keyed with "
    "`CAIRN_AUDIT_KEY` when set), the last event the chain's head. `ok: false` names the first "
    "broken link. Reads the whole log: expect seconds per million events.",
)
@requires(p.ADMIN_READ)
async def verify(request: Request) -> ChainReportOut:
    report = await run_in_threadpool(audit(request).verify)
    return ChainReportOut.model_validate(report.to_json())


@router.get(
    "/audit/export",
    summary="Export the audit trail as JSON Lines or CSV (admins)",
    description="Every event matching the filters, oldest first, streamed as a file: JSON "
    "Lines (one event object a line, as `/api/v1/audit` gives them) or CSV (a header row; "
    f"`before`/`after` as JSON text). {_FILTERS}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
@requires(p.ADMIN_READ)
async def export(
    request: Request,
    format: Literal["jsonl", "csv"] = "jsonl",
    actor: Text = None,
    action: Text = None,
    entity_type: Text = None,
    entity_id: Text = None,
    experiment_id: Text = None,
    model_name: Text = None,
    since: When = None,
    until: When = None,
) -> StreamingResponse:
    query = _query(actor, action, entity_type, entity_id, experiment_id, model_name, since, until)
    events = audit(request).export(query)  # checks the filters now, reads as it streams
    name = f"cairn-audit-{int(time.time())}.{format}"
    return StreamingResponse(
        export_chunks(events, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
