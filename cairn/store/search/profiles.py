"""What each search endpoint accepts: entity prefixes, attributes, comparators, order-by keys.

A :class:`Profile` is pure data consulted by the parser. The sets follow MLflow's
``search_utils`` (a superset where noted: ``OR``/parentheses, ``IN`` on every string attribute,
``IS [NOT] NULL`` on metrics, params and tags).

=================  ====================================================================
profile            filterable attributes (aliases)             [order-by only]
=================  ====================================================================
RUNS               run_id, run_name (``run name``, ``Run name``, ``Run Name``), status,
                   user_id, artifact_uri, lifecycle_stage, start_time (``created``,
                   ``Created``), end_time; plus metrics/params/tags/datasets
EXPERIMENTS        name, creation_time, last_update_time; tags       [experiment_id]
REGISTERED_MODELS  name; tags           [creation_timestamp, last_updated_timestamp
                                         (``timestamp``)]
MODEL_VERSIONS     name, version_number (``version``), run_id, source_path; tags
                                        [creation_timestamp, last_updated_timestamp]
LOGGED_MODELS      name, model_id, model_type, status, source_run_id,
                   creation_timestamp (``creation_time``),
                   last_updated_timestamp (``last_updated_time``); metrics/params/tags
TRACES             trace_id, status (``state``), name, run_id, client_request_id, text
                   (``LIKE``/``ILIKE`` over span names, span attributes and previews),
                   request_preview, response_preview, timestamp_ms (``timestamp``),
                   execution_time_ms (``execution_time``); tags, metadata
                   (``request_metadata``), span (``span.name``, ``span.type``,
                   ``span.status``, ``span.attributes.<key>``); prefix ``trace.`` too
=================  ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ValueKind = Literal["string", "numeric"]

STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
EQUALITY_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
KEY_VALUE_OPS = STRING_OPS | NULL_OPS
METRIC_OPS = NUMERIC_OPS | NULL_OPS

ATTRIBUTE_PREFIXES = ("attributes", "attribute", "attr")


@dataclass(frozen=True, slots=True)
class Attribute:
    """A built-in column of the searched object (``run_name``, ``creation_time``...)."""

    name: str
    kind: ValueKind
    ops: frozenset[str]
    aliases: tuple[str, ...] = ()
    filterable: bool = True
    orderable: bool = True


@dataclass(frozen=True, slots=True)
class Entity:
    """A key/value namespace addressed as ``<prefix>.<key>`` (metrics, params, tags...)."""

    name: str
    prefixes: tuple[str, ...]
    kind: ValueKind
    ops: frozenset[str]
    keys: frozenset[str] | None = None  # a closed key set (datasets); None = any key
    orderable: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    attributes: tuple[Attribute, ...]
    entities: tuple[Entity, ...] = ()
    attribute_prefixes: tuple[str, ...] = ATTRIBUTE_PREFIXES
    _prefixes: dict[str, str] = field(init=False, repr=False, compare=False)
    _attributes: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefixes = dict.fromkeys(self.attribute_prefixes, "attribute")
        for entity in self.entities:
            prefixes.update(dict.fromkeys(entity.prefixes, entity.name))
        attributes: dict[str, Attribute] = {}
        for attribute in self.attributes:
            for spelling in (attribute.name, *attribute.aliases):
                attributes[spelling] = attribute
        object.__setattr__(self, "_prefixes", prefixes)
        object.__setattr__(self, "_attributes", attributes)

    def entity_for_prefix(self, prefix: str) -> str | None:
        """The canonical entity a prefix (``params``, ``attr``...) names, or None."""
        return self._prefixes.get(prefix)

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)

    def attribute(self, key: str) -> Attribute | None:
        """The attribute spelled ``key`` (canonical name or alias), or None."""
        return self._attributes.get(key)

    def prefixes(self, *, orderable: bool = False) -> list[str]:
        allowed = [e.prefixes[0] for e in self.entities if e.orderable or not orderable]
        return [*allowed, self.attribute_prefixes[0]]

    def attribute_names(self, *, orderable: bool = False) -> list[str]:
        return [a.name for a in self.attributes if (a.orderable if orderable else a.filterable)]


def _string(name: str, *aliases: str, ops: frozenset[str] = STRING_OPS) -> Attribute:
    return Attribute(name, "string", ops, aliases)


def _numeric(name: str, *aliases: str, filterable: bool = True) -> Attribute:
    return Attribute(name, "numeric", NUMERIC_OPS, aliases, filterable=filterable)


METRICS = Entity("metric", ("metrics", "metric"), "numeric", METRIC_OPS, orderable=True)
PARAMS = Entity(
    "param", ("params", "param", "parameters", "parameter"), "string", KEY_VALUE_OPS, orderable=True
)
TAGS = Entity("tag", ("tags", "tag"), "string", KEY_VALUE_OPS, orderable=True)
UNORDERED_TAGS = Entity("tag", ("tags", "tag"), "string", KEY_VALUE_OPS)
DATASETS = Entity(
    "dataset",
    ("datasets", "dataset"),
    "string",
    STRING_OPS,
    keys=frozenset({"name", "digest", "context"}),
)

RUNS = Profile(
    "runs",
    attributes=(
        _string("run_id"),
        _string("run_name", "run name", "Run name", "Run Name"),
        _string("status"),
        _string("user_id"),
        _string("artifact_uri"),
        _string("lifecycle_stage"),
        _numeric("start_time", "created", "Created"),
        _numeric("end_time"),
    ),
    entities=(METRICS, PARAMS, TAGS, DATASETS),
    attribute_prefixes=(*ATTRIBUTE_PREFIXES, "run"),
)

EXPERIMENTS = Profile(
    "experiments",
    attributes=(
        _string("name"),
        _numeric("creation_time"),
        _numeric("last_update_time"),
        Attribute("experiment_id", "string", STRING_OPS, filterable=False),
    ),
    entities=(UNORDERED_TAGS,),
)

REGISTERED_MODELS = Profile(
    "registered_models",
    attributes=(
        _string("name", ops=EQUALITY_OPS),
        _numeric("creation_timestamp", filterable=False),
        _numeric("last_updated_timestamp", "timestamp", filterable=False),
    ),
    entities=(UNORDERED_TAGS,),
)

MODEL_VERSIONS = Profile(
    "model_versions",
    attributes=(
        _string("name"),
        _numeric("version_number", "version"),
        _string("run_id"),
        _string("source_path"),
        _numeric("creation_timestamp", filterable=False),
        _numeric("last_updated_timestamp", filterable=False),
    ),
    entities=(UNORDERED_TAGS,),
)

LOGGED_MODELS = Profile(
    "logged_models",
    attributes=(
        _string("name"),
        _string("model_id"),
        _string("model_type"),
        _string("status"),
        _string("source_run_id"),
        _numeric("creation_timestamp", "creation_time"),
        _numeric("last_updated_timestamp", "last_updated_time"),
    ),
    entities=(
        METRICS,
        Entity("param", PARAMS.prefixes, "string", KEY_VALUE_OPS),
        UNORDERED_TAGS,
    ),
)

TRACES = Profile(
    "traces",
    attributes=(
        _string("trace_id", "request_id"),
        _string("status", "state"),
        _string("name"),
        _string("run_id"),
        _string("client_request_id"),
        Attribute("text", "string", STRING_OPS, orderable=False),
        Attribute("request_preview", "string", STRING_OPS, orderable=False),
        Attribute("response_preview", "string", STRING_OPS, orderable=False),
        _numeric("timestamp_ms", "timestamp", "request_time"),
        _numeric("execution_time_ms", "execution_time", "execution_duration"),
    ),
    entities=(
        UNORDERED_TAGS,
        Entity("metadata", ("metadata", "request_metadata"), "string", KEY_VALUE_OPS),
        Entity("span", ("span", "spans"), "string", KEY_VALUE_OPS),
    ),
    attribute_prefixes=(*ATTRIBUTE_PREFIXES, "trace"),
)

PROFILES: tuple[Profile, ...] = (
    RUNS,
    EXPERIMENTS,
    REGISTERED_MODELS,
    MODEL_VERSIONS,
    LOGGED_MODELS,
    TRACES,
)
