"""One typed request model per MLflow model registry RPC (field names as MLflow's protocol)."""

from __future__ import annotations

from cairn.server.mlflow.messages import IdList, Int64, KeyValue, Message

Version = str | int


class CreateRegisteredModel(Message):
    """POST /mlflow/registered-models/create"""

    name: str
    tags: list[KeyValue] = []
    description: str | None = None


class RegisteredModelRef(Message):
    """GET /mlflow/registered-models/get, DELETE /mlflow/registered-models/delete"""

    name: str


class RenameRegisteredModel(Message):
    """POST /mlflow/registered-models/rename"""

    name: str
    new_name: str
    user_id: str | None = None


class UpdateRegisteredModel(Message):
    """PATCH /mlflow/registered-models/update"""

    name: str
    description: str | None = None


class SearchRegisteredModels(Message):
    """GET /mlflow/registered-models/search (also POST)"""

    filter: str | None = None
    max_results: Int64 = 100
    order_by: list[str] = []
    page_token: str | None = None


class SetRegisteredModelTag(Message):
    """POST /mlflow/registered-models/set-tag"""

    name: str
    key: str
    value: str | None = None


class DeleteRegisteredModelTag(Message):
    """DELETE /mlflow/registered-models/delete-tag"""

    name: str
    key: str


class RegisteredModelAlias(Message):
    """POST (set: name, alias, version), GET (get the version), DELETE (remove)
    /mlflow/registered-models/alias"""

    name: str
    alias: str
    version: Version | None = None
    user_id: str | None = None


class GetLatestVersions(Message):
    """POST /mlflow/registered-models/get-latest-versions (also GET)"""

    name: str
    stages: IdList = []


class CreateModelVersion(Message):
    """POST /mlflow/model-versions/create"""

    name: str
    source: str
    run_id: str | None = None
    tags: list[KeyValue] = []
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None
    user_id: str | None = None


class ModelVersionRef(Message):
    """GET /mlflow/model-versions/get, get-download-uri; DELETE /mlflow/model-versions/delete"""

    name: str
    version: Version
    user_id: str | None = None


class UpdateModelVersion(Message):
    """PATCH /mlflow/model-versions/update"""

    name: str
    version: Version
    description: str | None = None


class SetModelVersionTag(Message):
    """POST /mlflow/model-versions/set-tag"""

    name: str
    version: Version
    key: str
    value: str | None = None


class DeleteModelVersionTag(Message):
    """DELETE /mlflow/model-versions/delete-tag"""

    name: str
    version: Version
    key: str


class TransitionModelVersionStage(Message):
    """POST /mlflow/model-versions/transition-stage"""

    name: str
    version: Version
    stage: str
    archive_existing_versions: bool = False
    user_id: str | None = None


class SearchModelVersions(Message):
    """GET /mlflow/model-versions/search (also POST)"""

    filter: str | None = None
    max_results: Int64 = 10_000
    order_by: list[str] = []
    page_token: str | None = None


class CreateTransitionRequest(Message):
    """POST /mlflow/transition-requests/create (MLflow's Databricks-era API)"""

    name: str
    version: Version
    stage: str
    comment: str | None = None


class ListTransitionRequests(Message):
    """GET /mlflow/transition-requests/list"""

    name: str
    version: Version


class DecideTransitionRequest(Message):
    """POST /mlflow/transition-requests/approve and /reject"""

    name: str
    version: Version
    stage: str
    archive_existing_versions: bool | None = None
    comment: str | None = None


class DeleteTransitionRequest(Message):
    """DELETE /mlflow/transition-requests/delete (fields in the query or the body)"""

    name: str | None = None
    version: Version | None = None
    stage: str | None = None
    creator: str | None = None
    comment: str | None = None
