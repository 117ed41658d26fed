"""Webhooks through Cairn's own API: everything MLflow's webhook API does, plus Cairn's own
events, hooks scoped to one experiment or registered model (their MANAGE holders may own
them), the delivery log and manual redelivery. See docs/webhooks.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.webhooks import ALL_EVENTS, CAIRN_EVENTS, MLFLOW_EVENTS, Delivery, Webhook
from cairn.server.state import identity, webhooks
from cairn.services.webhooks import DEFAULT_PAGE, MAX_PAGE

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE}")]
Token = Annotated[str | None, Query(max_length=4096)]


class EventPair(BaseModel):
    entity: str = Field(description="e.g. `model_version`, `run`")
    action: str = Field(description="e.g. `created`, `finished`")


class ScopeIn(BaseModel):
    experiment_id: str | None = Field(default=None, description="Only this experiment's events")
    model_name: str | None = Field(default=None, description="Only this registered model's")


class WebhookIn(BaseModel):
    name: Any = Field(description="Letters, digits, spaces, `.`, `_`, `-`; up to 256")
    url: Any = Field(description="http(s) URL of a public address (see SSRF rules)")
    events: Any = Field(
        description='Pairs `{"entity": …, "action": …}` or strings `"entity.action"`'
    )
    description: Any = None
    secret: Any = Field(
        default=None, description="Signs deliveries (`X-MLflow-Signature`); never returned"
    )
    status: Any = Field(default=None, description="ACTIVE (default) or DISABLED")
    scope: ScopeIn | None = Field(
        default=None, description="Null: every event (admins only); else one experiment/model"
    )


class WebhookPatch(BaseModel):
    name: Any = None
    url: Any = None
    events: Any = None
    description: Any = None
    secret: Any = Field(default=None, description='A new secret; `""` removes it')
    status: Any = None


class WebhookOut(BaseModel):
    webhook_id: str
    name: str
    url: str
    events: list[EventPair]
    status: Literal["ACTIVE", "DISABLED"]
    description: str | None
    has_secret: bool = Field(
        description="Whether deliveries are signed (the secret is never shown)"
    )
    scope: dict[str, str] | None = Field(description="Null for a global hook")
    consecutive_failures: int = Field(description="Deliveries in a row that failed for good")
    created_by: str
    creation_timestamp: int
    updated_by: str
    last_updated_timestamp: int


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]
    next_page_token: str | None = None


class AttemptOut(BaseModel):
    number: int
    time: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="`X-MLflow-Delivery-Id` of every attempt")
    webhook_id: str
    event_id: int | None = Field(description="The change event; null for a test delivery")
    entity: str
    action: str
    body: str = Field(description="The exact JSON sent")
    state: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None = Field(description="The start of the last answer (1 KiB)")
    error: str | None
    next_attempt_at: int | None
    created_at: int
    updated_at: int
    attempt_log: list[AttemptOut]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next_page_token: str | None = None


class TestIn(BaseModel):
    event: EventPair | None = Field(default=None, description="Default: the hook's first event")


class TestOut(BaseModel):
    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None
    delivery_id: str


class EventsOut(BaseModel):
    mlflow: list[EventPair] = Field(description="MLflow 3's pairs that Cairn emits")
    cairn: list[EventPair] = Field(description="Cairn's own pairs")
    accepted: list[EventPair] = Field(description="Every pair a hook may subscribe to")


def _pairs(found: tuple[tuple[str, str], ...]) -> list[EventPair]:
    return [EventPair(entity=e, action=a) for e, a in found]


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut.model_validate(hook.to_json())


def _delivery(found: Delivery) -> DeliveryOut:
    return DeliveryOut.model_validate(found.to_json())


@router.get(
    "/webhooks/events",
    response_model=EventsOut,
    summary="The events a webhook can subscribe to",
)
@requires(p.WEBHOOK_READ)
async def events() -> EventsOut:
    return EventsOut(
        mlflow=_pairs(MLFLOW_EVENTS), cairn=_pairs(CAIRN_EVENTS), accepted=_pairs(ALL_EVENTS)
    )


@router.get(
    "/webhooks/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="One delivery with every attempt",
)
@requires(p.WEBHOOK_READ)
async def get_delivery(request: Request, delivery_id: str) -> DeliveryOut:
    found = await run_in_threadpool(webhooks(request).get_delivery, identity(request), delivery_id)
    return _delivery(found)


@router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Send a delivery again",
    description="Makes a finished delivery pending again, due now, with the same delivery id "
    "and body (a receiver that already processed it can tell by `X-MLflow-Delivery-Id`). "
    "A pending delivery is refused (400 `INVALID_STATE`).",
)
@requires(p.WEBHOOK_WRITE)
async def redeliver(request: Request, delivery_id: str) -> DeliveryOut:
    found = await run_in_threadpool(webhooks(request).redeliver, identity(request), delivery_id)
    return _delivery(found)


@router.get(
    "/webhooks",
    response_model=WebhookList,
    summary="Webhooks, newest first",
    description="Admins see every hook; other users the hooks scoped to the experiments and "
    "registered models they hold MANAGE on.",
)
@requires(p.WEBHOOK_READ)
async def list_webhooks(
    request: Request, max_results: Page = DEFAULT_PAGE, page_token: Token = None
) -> WebhookList:
    found, token = await run_in_threadpool(
        webhooks(request).list_webhooks, identity(request), max_results, page_token
    )
    return WebhookList(webhooks=[_out(h) for h in found], next_page_token=token)


@router.post(
    "/webhooks",
    response_model=WebhookOut,
    status_code=201,
    summary="Create a webhook",
    description="Global hooks (no `scope`) are for admins; a hook scoped to an experiment or "
    "registered model may be made by its MANAGE holders. The URL is checked against the SSRF "
    "rules (400 naming `url`).",
)
@requires(p.WEBHOOK_WRITE)
async def create(request: Request, body: WebhookIn) -> WebhookOut:
    scope = body.scope or ScopeIn()
    hook = await run_in_threadpool(
        webhooks(request).create,
        identity(request),
        body.name,
        body.url,
        body.events,
        body.description,
        body.secret,
        body.status,
        scope.experiment_id,
        scope.model_name,
    )
    return _out(hook)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="One webhook")
@requires(p.WEBHOOK_READ)
async def get(request: Request, webhook_id: str) -> WebhookOut:
    return _out(await run_in_threadpool(webhooks(request).get, identity(request), webhook_id))


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    summary="Change a webhook",
    description="Only the fields given change; `events` replaces the list; setting `status` "
    "to ACTIVE re-enables an auto-disabled hook and clears its failure count.",
)
@requires(p.WEBHOOK_WRITE)
async def update(request: Request, webhook_id: str, body: WebhookPatch) -> WebhookOut:
    hook = await run_in_threadpool(
        lambda: webhooks(request).update(
            identity(request),
            webhook_id,
            name=body.name,
            url=body.url,
            events=body.events,
            description=body.description,
            secret=body.secret,
            status=body.status,
        )
    )
    return _out(hook)


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
@requires(p.WEBHOOK_WRITE)
async def delete(request: Request, webhook_id: str) -> Response:
    await run_in_threadpool(webhooks(request).delete, identity(request), webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=TestOut,
    summary="Send a test event now",
    description="One signed delivery of an example payload, kept in the delivery log; no "
    "retries, and it does not count toward auto-disabling.",
)
@requires(p.WEBHOOK_WRITE)
async def send_test(request: Request, webhook_id: str, body: TestIn | None = None) -> TestOut:
    event = body.event.model_dump() if body and body.event else None
    result = await run_in_threadpool(webhooks(request).test, identity(request), webhook_id, event)
    return TestOut(
        success=result.success,
        response_status=result.response_status,
        response_body=result.response_body,
        error_message=result.error_message,
        delivery_id=result.delivery_id,
    )


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryList,
    summary="A webhook's deliveries, newest first",
    description="Each with its state, attempts (status code, latency, the start of the "
    "answer, the error), paged by `page_token`.",
)
@requires(p.WEBHOOK_READ)
async def deliveries(
    request: Request, webhook_id: str, max_results: Page = DEFAULT_PAGE, page_token: Token = None
) -> DeliveryList:
    found, token = await run_in_threadpool(
        webhooks(request).deliveries, identity(request), webhook_id, max_results, page_token
    )
    return DeliveryList(deliveries=[_delivery(d) for d in found], next_page_token=token)
