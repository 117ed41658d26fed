"""The stock client's webhook calls (mlflow 3.x): create, get, list (paged), update, test,
delete, and the refusals a receiver of MLflow's API expects. Prints what it saw as JSON on its
last line.

MLFLOW_TRACKING_URI points at the server; RECEIVER_URL at a loopback receiver the server is
allowed to reach; WEBHOOK_SECRET is the secret to sign with.
"""

from __future__ import annotations

import json
import os

from mlflow import MlflowClient
from mlflow.entities.webhook import WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException


def refused(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
    except MlflowException as exc:
        return str(exc.error_code)
    return "accepted"


def main() -> None:
    client = MlflowClient()
    url, secret = os.environ["RECEIVER_URL"], os.environ["WEBHOOK_SECRET"]
    hook = client.create_webhook(
        name="registry-hook",
        url=url,
        events=["model_version.created", WebhookEvent("model_version_alias", "created")],
        description="tells CI",
        secret=secret,
    )
    got = client.get_webhook(hook.webhook_id)
    second = client.create_webhook(name="second", url=url, events=["registered_model.created"])
    page = client.list_webhooks(max_results=1)
    rest = client.list_webhooks(max_results=1, page_token=page.token)
    updated = client.update_webhook(
        hook.webhook_id, description="tells CI and chat", status=WebhookStatus.DISABLED
    )
    updated = client.update_webhook(
        hook.webhook_id, status=WebhookStatus.ACTIVE, events=["model_version_tag.set"]
    )
    result = client.test_webhook(hook.webhook_id)
    result_event = client.test_webhook(
        hook.webhook_id, event=WebhookEvent("registered_model", "created")
    )
    client.delete_webhook(second.webhook_id)
    after_delete = [w.webhook_id for w in client.list_webhooks()]
    print(
        json.dumps(
            {
                "id": hook.webhook_id,
                "name": got.name,
                "url": got.url,
                "events": sorted(str(e) for e in got.events),
                "status": str(got.status),
                "description": got.description,
                "secret": got.secret,
                "created": got.creation_timestamp,
                "page_sizes": [len(page), len(rest)],
                "token": bool(page.token),
                "updated_description": updated.description,
                "updated_events": [str(e) for e in updated.events],
                "updated_status": str(updated.status),
                "test": [result.success, result.response_status, result.response_body],
                "test_event": [result_event.success, result_event.response_status],
                "after_delete": after_delete,
                "missing": refused(lambda: client.get_webhook("no-such-hook")),
                "bad_url": refused(
                    lambda: client.create_webhook(
                        name="x", url="ftp://example.com/", events=["model_version.created"]
                    )
                ),
                "metadata_url": refused(
                    lambda: client.create_webhook(
                        name="x",
                        url="http://169.254.169.254/latest/meta-data/",
                        events=["model_version.created"],
                    )
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
