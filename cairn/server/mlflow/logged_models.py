"""MLflow 3 logged models: search, as far as this version stores them.

mlflow 3 clients search logged models while resolving every ``runs:/<run>/<path>`` URI
(``name = '<first path segment>'``) and fall back to the run's own artifacts when nothing
matches. Creating logged models is not offered yet (the model registry issue), so there are
none to find: the search validates its input and answers the empty result MLflow gives.
"""

from __future__ import annotations

from starlette.requests import Request

from cairn.server import wire
from cairn.server.mlflow.endpoint import Endpoint
from cairn.server.mlflow.messages import Message
from cairn.store.experiments import parse_experiment_id
from cairn.store.search.parser import parse_filter, parse_order_by
from cairn.store.search.profiles import LOGGED_MODELS


class OrderByField(Message):
    field_name: str
    ascending: bool = True


class SearchLoggedModels(Message):
    """POST /mlflow/logged-models/search"""

    experiment_ids: list[str] = []
    filter: str | None = None
    max_results: int = 100
    order_by: list[OrderByField] = []
    page_token: str | None = None


async def search(request: Request, msg: SearchLoggedModels) -> wire.Json:
    for eid in msg.experiment_ids:
        parse_experiment_id(eid, "experiment_ids")
    parse_filter(msg.filter, LOGGED_MODELS)
    for o in msg.order_by:
        parse_order_by(o.field_name, LOGGED_MODELS)
    return {}


ENDPOINTS = [
    Endpoint(
        ("POST",),
        "/logged-models/search",
        SearchLoggedModels,
        search,
        "Search MLflow 3 logged models (none are stored by this version)",
    ),
]
