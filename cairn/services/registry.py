"""Model registry use cases: names, stages, aliases and version sources checked, then one
store transaction per call."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import unquote

from cairn.artifacts.paths import clean_path, join
from cairn.entities.access import ALL, Visibility
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.numbers import decimal
from cairn.entities.registry import ModelEvent, ModelVersion, RegisteredModel, Stage
from cairn.entities.tracking import Page
from cairn.services import validation as v
from cairn.services.artifacts import PROXY_SCHEME, ArtifactService
from cairn.store import registry as store
from cairn.store import registry_search
from cairn.store import runs as run_store
from cairn.store.db import Database

MAX_NAME_LENGTH = 256
MAX_TAG_VALUE_LENGTH = 5000
RUNS_SOURCE = re.compile(r"^runs:/([0-9a-zA-Z_-]+)(?:/(.*))?$")
URI_STAGES = {
    "none": "None",
    "staging": "Staging",
    "production": "Production",
    "archived": "Archived",
}
"""Stage names as a ``models:/NAME/STAGE`` URI may spell them (any case)."""
STORE_SCHEME = "artifacts:"
"""A source scheme naming a path inside the artifact store (``artifacts:/1/<run>/artifacts``)."""
LOGGED_MODEL_SOURCE = re.compile(r"^models:/(m-[0-9a-zA-Z]+)/?$")
RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)

ResolveLoggedModel = Callable[[str], str | None]


def validate_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise CairnError.invalid(f"Missing value for required parameter '{field}'.")
    if len(name) > MAX_NAME_LENGTH:
        raise CairnError.invalid(
            f"Registered model name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    return name


def parse_version(version: object) -> int:
    number = decimal(version)
    if number is None:
        raise CairnError.invalid(f"Parameter 'version' must be an integer, got {version!r}.")
    return number


def parse_stage(stage: object) -> Stage:
    try:
        return Stage.parse(stage)
    except ValueError as exc:
        raise CairnError.invalid(str(exc)) from exc


def validate_alias(alias: object) -> str:
    if not isinstance(alias, str) or not alias.strip():
        raise CairnError.invalid("Missing value for required parameter 'alias'.")
    if len(alias) > 255 or RESERVED_ALIAS.match(alias) or not re.match(r"^[\w\-]+$", alias):
        raise CairnError.invalid(
            f"Invalid alias name '{alias}': aliases are at most 255 letters, digits, '_' or "
            "'-', and may not be 'latest' or look like a version ('v1')."
        )
    return alias


def _tag(key: object, value: object) -> tuple[str, str]:
    k = v.validate_key("Tag", key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CairnError.invalid(f"Value of tag '{k}' must be a string")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise CairnError.invalid(f"Tag '{k}' value is longer than {MAX_TAG_VALUE_LENGTH}")
    return k, value


class RegistryService:
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactService,
        resolve_logged_model: ResolveLoggedModel | None = None,
    ):
        """``resolve_logged_model``: the artifact URI of a logged model id (``m-…``), or None
        when it is unknown; versions registered from ``models:/m-…`` are downloaded from it."""
        self.db = db
        self.artifacts = artifacts
        self.resolve_logged_model = resolve_logged_model

    # ----------------------------------------------------------------- registered models
    def create_model(
        self,
        name: object,
        description: str | None = None,
        tags: Iterable[tuple[object, object]] = (),
    ) -> RegisteredModel:
        n = validate_name(name)
        tag_map = dict(_tag(k, val) for k, val in tags)
        return self.db.write(lambda c: store.create_model(c, n, description, tag_map))

    def get_model(self, name: object) -> RegisteredModel:
        n = validate_name(name)
        return self.db.read(lambda c: store.get_model(c, n))

    def rename_model(
        self, name: object, new_name: object, actor: str | None = None
    ) -> RegisteredModel:
        n, new = validate_name(name), validate_name(new_name, "new_name")
        return self.db.write(lambda c: store.rename_model(c, n, new, actor))

    def update_model(self, name: object, description: str | None) -> RegisteredModel:
        n = validate_name(name)
        return self.db.write(lambda c: store.update_model(c, n, description))

    def delete_model(self, name: object, actor: str | None = None) -> None:
        n = validate_name(name)
        self.db.write(lambda c: store.delete_model(c, n, actor))

    def set_model_tag(self, name: object, key: object, value: object) -> None:
        n, (k, val) = validate_name(name), _tag(key, value)
        self.db.write(lambda c: store.set_model_tag(c, n, k, val))

    def delete_model_tag(self, name: object, key: object) -> None:
        n, k = validate_name(name), v.validate_key("Tag", key)
        self.db.write(lambda c: store.delete_model_tag(c, n, k))

    def search_models(
        self,
        filter_text: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        *,
        visibility: Visibility = ALL,
    ) -> Page[RegisteredModel]:
        """A page of the matching registered models ``visibility`` lets the caller read."""
        return self.db.read(
            lambda c: registry_search.search_models(
                c, filter_text, max_results, list(order_by), page_token, visibility
            )
        )

    # -------------------------------------------------------------------------- versions
    def create_version(
        self,
        name: object,
        source: object,
        run_id: str | None = None,
        tags: Iterable[tuple[object, object]] = (),
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the model's next version (status READY at once)."""
        n = validate_name(name)
        tag_map = dict(_tag(k, val) for k, val in tags)
        src, location, logged = self.check_source(source)
        fields = {
            "source": src,
            "run_id": run_id or None,
            "run_link": run_link or None,
            "description": description or None,
            "user_id": actor,
            "logged_model_id": model_id or logged,
            "storage_location": location,
        }
        return self.db.write(lambda c: store.create_version(c, n, fields, tag_map, actor))

    def check_source(self, source: object) -> tuple[str, str | None, str | None]:
        """(source, storage location, logged model id) for an acceptable source, else 400.

        Accepted: ``runs:/<run>/<path>`` (of a run this server does not have too, as MLflow
        accepts it, with no files behind it), ``models:/m-<id>``,
        ``mlflow-artifacts:/…``, ``artifacts:/…`` and storage URIs inside this server's
        artifact store; refused with MLflow's words (``Invalid model version source``,
        ``If supplying a source as an http, https, …``)."""
        if not isinstance(source, str) or not source.strip():
            raise CairnError.invalid("Missing value for required parameter 'source'.")
        refused = CairnError.invalid(
            f"Invalid model version source: '{source[:300]}'. If supplying a source as an "
            "http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, it must "
            "name a location inside this server's artifact store by an absolute path without "
            "'..'; runs:/<run_id>/<path> and models:/m-<id> URIs are accepted as well"
        )
        if any(ord(ch) < 32 for ch in source):
            raise refused
        if m := LOGGED_MODEL_SOURCE.match(source):
            model_id = m.group(1)
            found = self.resolve_logged_model(model_id) if self.resolve_logged_model else None
            return source, found, model_id
        if m := RUNS_SOURCE.match(source):
            run_uuid, path = m.group(1), m.group(2) or ""
            try:
                rel = clean_path(unquote(path), allow_root=True)
            except CairnError as exc:
                raise refused from exc
            try:
                row = self.db.read(lambda c: run_store.resolve(c, run_uuid))
            except CairnError as exc:
                if exc.error_code != ErrorCode.RESOURCE_DOES_NOT_EXIST:
                    raise refused from exc
                # MLflow registers a runs:/ source of a run it does not have (as it does any
                # URI outside a local path); there are no files behind it, so the version has
                # no storage location and downloading it answers that the files are missing
                return source, None, None
            base = (row.artifact_uri or "").rstrip("/")
            return source, join(base, rel) if rel else base, None
        if source.startswith(STORE_SCHEME) and source[len(STORE_SCHEME) :][:1] == "/":
            # ``artifacts:/<exp>/<run>/artifacts``: a path in the artifact store, as MLflow's
            # proxied server accepts it; stored, and downloaded, as its mlflow-artifacts:/ URI
            try:
                location = self.check_source(PROXY_SCHEME + source[len(STORE_SCHEME) :])[1]
            except CairnError as exc:
                raise refused from exc
            return source, location, None
        try:
            inside = self.artifacts.repo_path_of(source, "the source")
            if unquote(source) != source:
                inside = self.artifacts.repo_path_of(unquote(source), "the source")
        except CairnError as exc:
            raise refused from exc
        if not inside or (
            source.startswith(PROXY_SCHEME) and source[len(PROXY_SCHEME) :][:1] != "/"
        ):
            raise refused
        return source, source, None

    def get_version(self, name: object, version: object) -> ModelVersion:
        n, ver = validate_name(name), parse_version(version)
        return self.db.read(lambda c: store.get_version(c, n, ver))

    def update_version(
        self, name: object, version: object, description: str | None
    ) -> ModelVersion:
        n, ver = validate_name(name), parse_version(version)
        return self.db.write(lambda c: store.update_version(c, n, ver, description))

    def delete_version(self, name: object, version: object, actor: str | None = None) -> None:
        n, ver = validate_name(name), parse_version(version)
        self.db.write(lambda c: store.delete_version(c, n, ver, actor))

    def set_version_tag(self, name: object, version: object, key: object, value: object) -> None:
        n, ver, (k, val) = validate_name(name), parse_version(version), _tag(key, value)
        self.db.write(lambda c: store.set_version_tag(c, n, ver, k, val))

    def delete_version_tag(self, name: object, version: object, key: object) -> None:
        n, ver, k = validate_name(name), parse_version(version), v.validate_key("Tag", key)
        self.db.write(lambda c: store.delete_version_tag(c, n, ver, k))

    def transition_stage(
        self,
        name: object,
        version: object,
        stage: object,
        archive_existing: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        n, ver, st = validate_name(name), parse_version(version), parse_stage(stage)
        return self.db.write(
            lambda c: store.transition_stage(c, n, ver, st, archive_existing, actor)
        )

    def download_uri(self, name: object, version: object) -> str:
        """Where a version's files are: the resolved run path, the logged model's location,
        or the stored source."""
        n, ver = validate_name(name), parse_version(version)
        location, source, logged = self.db.read(lambda c: store.storage_location(c, n, ver))
        if location:
            return location
        if logged and self.resolve_logged_model:
            found = self.resolve_logged_model(logged)
            if found:
                return found
        return source

    def search_versions(
        self,
        filter_text: str | None = None,
        max_results: int = 10_000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        *,
        visibility: Visibility = ALL,
    ) -> Page[ModelVersion]:
        """A page of the matching versions of the models ``visibility`` lets the caller
        read."""
        return self.db.read(
            lambda c: registry_search.search_versions(
                c, filter_text, max_results, list(order_by), page_token, visibility
            )
        )

    def latest_versions(self, name: object, stages: Sequence[str] = ()) -> list[ModelVersion]:
        n = validate_name(name)
        wanted = [parse_stage(s) for s in stages] or None
        return self.db.read(lambda c: store.latest_versions(c, n, wanted))

    # --------------------------------------------------------------------------- aliases
    def set_alias(
        self, name: object, alias: object, version: object, actor: str | None = None
    ) -> None:
        n, a, ver = validate_name(name), validate_alias(alias), parse_version(version)
        self.db.write(lambda c: store.set_alias(c, n, a, ver, actor))

    def delete_alias(self, name: object, alias: object, actor: str | None = None) -> None:
        n, a = validate_name(name), validate_alias(alias)
        self.db.write(lambda c: store.delete_alias(c, n, a, actor))

    def get_by_alias(self, name: object, alias: object) -> ModelVersion:
        n = validate_name(name)
        if not isinstance(alias, str) or not alias:
            raise CairnError.invalid("Missing value for required parameter 'alias'.")
        return self.db.read(lambda c: store.get_by_alias(c, n, alias))

    def resolve_uri(self, uri: object) -> ModelVersion:
        """The version a ``models:/`` URI names: ``models:/NAME/VERSION``, ``models:/NAME/STAGE``
        (the newest version in that stage), ``models:/NAME/latest`` (the newest version) or
        ``models:/NAME@ALIAS``. Anything else is refused naming the ``model`` field; a URI that
        names nothing is RESOURCE_DOES_NOT_EXIST."""
        if not isinstance(uri, str) or not uri.startswith("models:/"):
            raise CairnError.invalid(
                f"model: expected a models:/ URI (models:/NAME/VERSION, models:/NAME/STAGE, "
                f"models:/NAME/latest or models:/NAME@ALIAS), got {uri!r}"
            )
        rest = uri[len("models:/") :].strip("/")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            n, a = validate_name(name, "model"), validate_alias(alias)
            try:
                return self.get_by_alias(n, a)
            except CairnError as exc:  # MLflow answers a missing alias with a 400
                if exc.error_code != ErrorCode.INVALID_PARAMETER_VALUE:
                    raise
                raise CairnError.not_found(
                    f"model: registered model '{n}' has no alias '{a}' ({uri})"
                ) from None
        if "/" not in rest:
            raise CairnError.invalid(f"model: '{uri}' names no version, stage, alias or 'latest'")
        name, selector = rest.rsplit("/", 1)
        if decimal(selector) is not None:
            return self.get_version(name, selector)
        if selector.lower() == "latest":
            found = self.latest_versions(name)
        else:
            stage = URI_STAGES.get(selector.lower())
            if stage is None:
                raise CairnError.invalid(
                    f"model: in '{uri}', '{selector}' is not a version number, a stage "
                    "(None, Staging, Production, Archived) or 'latest'"
                )
            found = self.latest_versions(name, [stage])
        if not found:
            raise CairnError.not_found(
                f"model: no version of registered model '{name}' matches '{uri}'"
            )
        return max(found, key=lambda mv: mv.version)

    # --------------------------------------------------------------------------- history
    def history(
        self, name: object, max_results: int = 100, page_token: str | None = None
    ) -> Page[ModelEvent]:
        n = validate_name(name)
        return self.db.read(lambda c: registry_search.history(c, n, max_results, page_token))
