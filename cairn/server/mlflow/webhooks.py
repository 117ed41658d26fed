"""MLflow 3's webhook API (/mlflow/webhooks…), so the stock client's ``create_webhook``,
``list_webhooks``, ``get_webhook``, ``update_webhook``, ``delete_webhook`` and
``test_webhook`` work unchanged.

On this wire events are protobuf enums (``{"entity": "MODEL_VERSION", "action": "CREATED"}``,
or their numbers); Cairn's own events have no MLflow enum value, so they are left out of what
this API shows (hooks with only Cairn events are not listed) and kept when it updates a hook's
events. Hooks created here are global: admins only, as in MLflow. Secrets are never returned.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cairn.access import policy as p
from cairn.entities.numbers import decimal
from cairn.entities.webhooks import CAIRN_EVENTS, MLFLOW_ACCEPTED, Webhook
from cairn.server import wire
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.messages import Message
from cairn.server.state import identity, webhooks

ENTITIES = (
    "ENTITY_UNSPECIFIED",
    "REGISTERED_MODEL",
    "MODEL_VERSION",
    "MODEL_VERSION_TAG",
    "MODEL_VERSION_ALIAS",
    "PROMPT",
    "PROMPT_VERSION",
    "PROMPT_TAG",
    "PROMPT_VERSION_TAG",
    "PROMPT_ALIAS",
    "BUDGET_POLICY",
)
"""MLflow's ``WebhookEntity`` enum, by number."""
ACTIONS = ("ACTION_UNSPECIFIED", "CREATED", "UPDATED", "DELETED", "SET", "EXCEEDED")
STATUSES = ("STATUS_UNSPECIFIED", "ACTIVE", "DISABLED")


def _enum(value: object, names: tuple[str, ...]) -> object:
    """An enum as its lower-case name (numbers as protobuf's JSON allows); else as given,
    for the service to refuse naming the field."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value].lower()
    number = decimal(value, high=len(names) - 1) if isinstance(value, str) else None
    if number is not None:
        return names[number].lower()
    return value.lower() if isinstance(value, str) else value


def _events_in(items: object) -> object:
    if not isinstance(items, list):
        return items
    out: list[object] = []
    for item in items:
        if isinstance(item, dict):
            out.append(
                {
                    "entity": _enum(item.get("entity"), ENTITIES),
                    "action": _enum(item.get("action"), ACTIONS),
                }
            )
        else:
            out.append(item)
    return out


def _status_in(value: object) -> object:
    found = _enum(value, STATUSES)
    if found == "status_unspecified":
        return None
    return found.upper() if isinstance(found, str) else found


def webhook_json(hook: Webhook) -> wire.Json:
    out: wire.Json = {
        "webhook_id": hook.webhook_id,
        "name": hook.name,
        "url": hook.url,
        "events": [
            {"entity": e.upper(), "action": a.upper()}
            for e, a in hook.events
            if (e, a) in MLFLOW_ACCEPTED
        ],
        "status": str(hook.status),
        "creation_timestamp": hook.created_at,
        "last_updated_timestamp": hook.updated_at,
    }
    if hook.description:
        out["description"] = hook.description
    return out


class Webhooks(Message):
    """POST /mlflow/webhooks (CreateWebhook) and GET /mlflow/webhooks (ListWebhooks)"""

    name: Any = None
    url: Any = None
    events: Any = None
    description: Any = None
    secret: Any = None
    status: Any = None
    max_results: Any = None
    page_token: Any = None


class GetWebhook(Message):
    """GET /mlflow/webhooks/{webhook_id}"""


class UpdateWebhook(Message):
    """PATCH /mlflow/webhooks/{webhook_id}"""

    name: Any = None
    description: Any = None
    url: Any = None
    events: Any = None
    secret: Any = None
    status: Any = None


class DeleteWebhook(Message):
    """DELETE /mlflow/webhooks/{webhook_id}"""


class WebhookEventIn(Message):
    entity: Any = None
    action: Any = None


class TestWebhook(Message):
    """POST /mlflow/webhooks/{webhook_id}/test"""

    event: WebhookEventIn | None = None


def _hook_id(request: Request) -> str:
    found: str = request.path_params["webhook_id"]
    return found


async def collection(request: Request, msg: Webhooks) -> wire.Json:
    if request.method == "GET":
        return await list_(request, msg)
    return await create(request, msg)


async def create(request: Request, msg: Webhooks) -> wire.Json:
    hook = await run_in_threadpool(
        webhooks(request).create,
        identity(request),
        msg.name,
        msg.url,
        _events_in(msg.events),
        msg.description,
        msg.secret,
        _status_in(msg.status),
    )
    return {"webhook": webhook_json(hook)}


async def list_(request: Request, msg: Webhooks) -> wire.Json:
    found, token = await run_in_threadpool(
        webhooks(request).list_webhooks, identity(request), msg.max_results, msg.page_token
    )
    shown = [webhook_json(h) for h in found]
    return wire.page("webhooks", [h for h in shown if h["events"]], token)


async def get(request: Request, msg: GetWebhook) -> wire.Json:
    hook = await run_in_threadpool(webhooks(request).get, identity(request), _hook_id(request))
    return {"webhook": webhook_json(hook)}


async def update(request: Request, msg: UpdateWebhook) -> wire.Json:
    hook = await run_in_threadpool(
        lambda: webhooks(request).update(
            identity(request),
            _hook_id(request),
            name=msg.name,
            url=msg.url,
            events=_events_in(msg.events) if msg.events else None,
            description=msg.description,
            secret=msg.secret or None,
            status=_status_in(msg.status),
            keep_events=CAIRN_EVENTS,
        )
    )
    return {"webhook": webhook_json(hook)}


async def delete(request: Request, msg: DeleteWebhook) -> wire.Json:
    await run_in_threadpool(webhooks(request).delete, identity(request), _hook_id(request))
    return {}


async def test(request: Request, msg: TestWebhook) -> wire.Json:
    event: dict[str, object] | None = None
    if msg.event is not None and (msg.event.entity or msg.event.action):
        event = {
            "entity": _enum(msg.event.entity, ENTITIES),
            "action": _enum(msg.event.action, ACTIONS),
        }
    result = await run_in_threadpool(
        webhooks(request).test, identity(request), _hook_id(request), event
    )
    return {"result": result.to_json()}


HOOK = "/webhooks/{webhook_id}"

ENDPOINTS = [
    Endpoint(
        ("GET", "POST"),
        "/webhooks",
        Webhooks,
        collection,
        "List (GET) or create (POST) webhooks (admins; see docs/webhooks.md)",
        need={"GET": p.WEBHOOK_READ, "POST": p.WEBHOOK_WRITE},
    ),
    Endpoint(("GET",), HOOK, GetWebhook, get, "Get a webhook", need=p.WEBHOOK_READ),
    Endpoint(("PATCH",), HOOK, UpdateWebhook, update, "Update a webhook", need=p.WEBHOOK_WRITE),
    Endpoint(("DELETE",), HOOK, DeleteWebhook, delete, "Delete a webhook", need=p.WEBHOOK_WRITE),
    Endpoint(
        ("POST",),
        HOOK + "/test",
        TestWebhook,
        test,
        "Send a test event to a webhook",
        need=p.WEBHOOK_WRITE,
    ),
]
