"""Every table Cairn stores, in one place (SQLAlchemy Core).

Integer surrogate keys internally; the public ids stay MLflow-shaped (32-hex run ids, string
experiment ids). Metrics are the hot path: narrow rows keyed by integer run and metric-key ids,
and a latest-metric table kept on write so that search and the runs table never scan history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from cairn.store.sql import FloatValue

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

KEY_LENGTH = 250
SHORT_VALUE_INDEX = 256
"""PostgreSQL indexes params and run tags by (key, value) for values up to this many
characters (key + value stay under the B-tree's ~2.7 kB entry limit at 4 bytes a character);
equality filters on such values use it (cairn.store.filters.key_value_leaf)."""

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(KEY_LENGTH), nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("artifact_uri", String(1000), nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
    # set when the run was deleted because its experiment was; restoring the experiment
    # restores exactly those runs, not the ones a user deleted on purpose
    Column("deleted_with_experiment", Boolean, nullable=False, default=False),
    UniqueConstraint("run_uuid"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time", "run_uuid"),
    # the default order across several experiments: walked from the newest, stops after a page
    Index("ix_runs_start_time", "start_time", "run_uuid"),
    sqlite_autoincrement=True,
)

params = Table(
    "params",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_params_key", "key"),
    sqlite_with_rowid=False,
)
# SQLite only: PostgreSQL's btree refuses entries over ~2.7 kB and values may be 8,000 chars
Index("ix_params_key_value", params.c.key, params.c.value).ddl_if(dialect="sqlite")
# PostgreSQL: a hash of the value serves equality filters (a B-tree could refuse long values)
Index("ix_params_value_hash", params.c.value, postgresql_using="hash").ddl_if(dialect="postgresql")
Index(
    "ix_params_key_short_value",
    params.c.key,
    params.c.value,
    postgresql_where=text(f"length(value) <= {SHORT_VALUE_INDEX}"),
).ddl_if(dialect="postgresql")

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_run_tags_key", "key"),
    sqlite_with_rowid=False,
)
Index("ix_run_tags_key_value", run_tags.c.key, run_tags.c.value).ddl_if(dialect="sqlite")
Index("ix_run_tags_value_hash", run_tags.c.value, postgresql_using="hash").ddl_if(
    dialect="postgresql"
)
Index(
    "ix_run_tags_key_short_value",
    run_tags.c.key,
    run_tags.c.value,
    postgresql_where=text(f"length(value) <= {SHORT_VALUE_INDEX}"),
).ddl_if(dialect="postgresql")

metric_keys = Table(
    "metric_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(KEY_LENGTH), nullable=False),
    UniqueConstraint("key"),
)

# One row per logged point. NaN is stored as value 0 with is_nan true (SQLite cannot store NaN),
# ±infinity as ±DBL_MAX on MySQL (FloatValue);
# the primary key makes an identical point idempotent and serves history reads in step order.
# On PostgreSQL the two references are checked by statement-level triggers instead of
# foreign keys (a foreign key is checked per row; migration 0019 explains): same guarantees,
# including the cascade when a run is deleted.
_POINT_REFS_AS_FOREIGN_KEYS: Any = ("sqlite", "mysql")  # a tuple: SQLAlchemy's stubs say str
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", FloatValue, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_id", "key_id", "step", "timestamp", "value", "is_nan"),
    ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE").ddl_if(
        dialect=_POINT_REFS_AS_FOREIGN_KEYS
    ),
    ForeignKeyConstraint(["key_id"], ["metric_keys.id"]).ddl_if(
        dialect=_POINT_REFS_AS_FOREIGN_KEYS
    ),
    sqlite_with_rowid=False,
)

# Per run, key and block of BLOCK_STEPS steps (block k: steps k*16 .. k*16+15, steps >= 0):
# the block's rows and its finite values' count, step range, min, max and sum, and its NaN and
# ±infinity counts. Built by charts' reads, never on write; used only while the series' row
# count equals the sum of its blocks' (cairn/store/metric_blocks.py, migration 0020).
metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", Integer, ForeignKey("metric_keys.id"), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("finite_count", BigInteger, nullable=False),
    Column("step_min", BigInteger, nullable=True),
    Column("step_max", BigInteger, nullable=True),
    Column("value_min", Double, nullable=True),
    Column("value_max", Double, nullable=True),
    Column("value_sum", Double, nullable=True),
    Column("nan_count", BigInteger, nullable=False),
    Column("pos_inf_count", BigInteger, nullable=False),
    Column("neg_inf_count", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "key_id", "block"),
    sqlite_with_rowid=False,
)

# The point with the highest (step, timestamp, value) per run and key, maintained on write.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", Integer, ForeignKey("metric_keys.id"), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", FloatValue, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_id", "key_id"),
    # serves metric filters and metric ordering; with the clustered primary key it covers them
    Index("ix_latest_metrics_key_value", "key_id", "is_nan", "value"),
    sqlite_with_rowid=False,
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_uuid", String(36), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest"),
    UniqueConstraint("dataset_uuid"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("run_id", "dataset_id"),
    Index("ix_run_inputs_dataset", "dataset_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_id", Integer, ForeignKey("run_inputs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_id", "key"),
)

# ---------------------------------------------------------------------------------- registry

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # version numbers are never reused: the next one is kept here, not computed from rows
    Column("next_version", Integer, nullable=False),
    UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_message", Text, nullable=True),
    # the MLflow 3 logged model this version was registered from (m-<hex>), if any
    Column("logged_model_id", String(64), nullable=True),
    # where the files are: the resolved download URI handed to clients
    Column("storage_location", Text, nullable=True),
    UniqueConstraint("model_id", "version"),
    Index("ix_model_versions_run_id", "run_id"),
    # latest version per stage is a GROUP BY served by this index
    Index("ix_model_versions_stage", "model_id", "current_stage", "version"),
    sqlite_autoincrement=True,
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column(
        "version_id",
        Integer,
        ForeignKey("model_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("version_id", "key"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_id", "alias"),
)

# Promotion history: every version creation and deletion, stage transition, alias move and
# rename, with who and when. Kept when the model is deleted (model_id becomes NULL).
model_events = Table(
    "model_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("model_name", String(256), nullable=False),
    Column("version", Integer, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("from_value", String(256), nullable=True),
    Column("to_value", String(256), nullable=True),
    Column("actor", String(256), nullable=True),
    Column("time", BigInteger, nullable=False),
    Index("ix_model_events_model", "model_id", "time"),
    sqlite_autoincrement=True,
)

# Promotion approvals: a model's policy (which stages and aliases need approval, how many, by
# whom, on what evidence), the requests it creates and the approvals given to them.
promotion_policies = Table(
    "promotion_policies",
    metadata,
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("stages", Text, nullable=False),  # JSON list of stage names
    Column("aliases", Text, nullable=False),  # JSON list of alias names
    Column("required_approvals", Integer, nullable=False),
    Column("approver_role", String(256), nullable=True),
    Column("evidence", Text, nullable=False),  # JSON list of checks
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "global", or "experiment:<id>": one policy per scope
    Column("scope", String(64), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("older_than_days", Integer, nullable=False),
    Column("statuses", Text, nullable=False),  # JSON list; [] = every finished status
    Column("keep_newest", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    UniqueConstraint("scope"),
    sqlite_autoincrement=True,
)
# Model policies: the aliases Cairn keeps by itself (``latest`` on the newest version, ``best``
# on the version whose source run has the best value of a metric).
alias_policies = Table(
    "alias_policies",
    metadata,
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("latest", Boolean, nullable=False),
    Column("latest_alias", String(256), nullable=False),
    Column("best_metric", String(256), nullable=True),
    Column("best_direction", String(8), nullable=False),  # max | min
    Column("best_alias", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

saved_views = Table(
    "saved_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("owner", String(256), nullable=False),  # the user's name (the local user: "")
    Column("name", String(100), nullable=False),
    Column("query", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("experiment_id", "owner", "name"),
)

schema_compat = Table(
    "schema_compat",
    metadata,
    # one row (id 1): servers whose schema revision is this one or later may run against the
    # database's schema (every migration after it only adds), see cairn.store.migrate
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("oldest_compatible", String(32), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("target_stage", String(20), nullable=True),
    Column("target_alias", String(256), nullable=True),
    Column("archive_existing", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=True),
    Column("required_approvals", Integer, nullable=False),
    Column("decided_by", String(256), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("decision_comment", Text, nullable=True),
    # JSON: the version's run tags and the target's holders when the request was made
    Column("snapshot", Text, nullable=False),
    Index("ix_approval_requests_state", "state", "id"),
    Index("ix_approval_requests_model", "model_id", "version"),
    sqlite_autoincrement=True,
)

approval_votes = Table(
    "approval_votes",
    metadata,
    Column(
        "request_id",
        Integer,
        ForeignKey("approval_requests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("actor", String(256), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("comment", Text, nullable=True),
    PrimaryKeyConstraint("request_id", "actor"),
)

# ------------------------------------------------------------------------------ metric alerts

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    # the scope: an experiment's runs (optionally filtered) or a registered model's versions
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column(
        "model_id", Integer, ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=True
    ),
    Column("filter", Text, nullable=True),
    Column("metric", String(KEY_LENGTH), nullable=True),
    Column("op", String(4), nullable=True),
    Column("value", FloatValue, nullable=True),
    Column("against", String(16), nullable=True),
    Column("measure", String(16), nullable=True),
    Column("direction", String(8), nullable=True),
    Column("minutes", Integer, nullable=True),
    Column("enabled", Boolean, nullable=False),
    # made from the experiment tag alert_threshold (one per experiment; the tag keeps it)
    Column("seeded", Boolean, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_alert_rules_experiment", "experiment_id"),
    Index("ix_alert_rules_model", "model_id"),
    sqlite_autoincrement=True,
)
"""Metric alert rules. Evaluation loads the enabled rules of the experiments and models a
batch of change events touches, by these two indexes."""

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(300), nullable=False),
    Column("experiment_id", String(32), nullable=True),
    Column("model_name", String(256), nullable=True),
    Column("state", String(16), nullable=False),
    Column("value", FloatValue, nullable=True),
    Column("message", Text, nullable=False),
    Column("fired_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("acknowledged_by", String(256), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    # "<rule id>/<subject id>" while firing, NULL once resolved: one open alert per pair
    Column("open_key", String(320), nullable=True),
    UniqueConstraint("open_key"),
    Index("ix_alerts_state", "state", "id"),
    Index("ix_alerts_rule_subject", "rule_id", "subject_id"),
    sqlite_autoincrement=True,
)
"""Alerts, firing then resolved. De-duplicated by ``open_key``: a second breaching point of a
firing rule and subject finds the open alert instead of opening another."""

# ------------------------------------------------------------------- MLflow 3 logged models

logged_models = Table(
    "logged_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(64), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    UniqueConstraint("model_id"),
    Index("ix_logged_models_experiment_name", "experiment_id", "name"),
    sqlite_autoincrement=True,
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("lm_id", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("lm_id", "key"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("lm_id", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("lm_id", "key"),
)

logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("lm_id", Integer, ForeignKey("logged_models.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", FloatValue, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(64), nullable=True),
    PrimaryKeyConstraint("lm_id", "key", "step", "timestamp"),
)

# which logged models a run produced (runs/outputs), at which step
run_outputs = Table(
    "run_outputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "model_id"),
)

# which logged models a run took as inputs (runs/log-inputs "models"), read by model id
run_model_inputs = Table(
    "run_model_inputs",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String(64), nullable=False),
    PrimaryKeyConstraint("run_id", "model_id"),
)

# ---- identity and access (cairn.access) ----

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("username"),
    sqlite_autoincrement=True,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    UniqueConstraint("secret_hash"),
    Index("ix_api_tokens_user_id", "user_id"),
    sqlite_autoincrement=True,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    UniqueConstraint("secret_hash"),
    sqlite_autoincrement=True,
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id"),
    Index("ix_experiment_permissions_user_id", "user_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    Column("name", String(256), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("name", "user_id"),
    Index("ix_registered_model_permissions_user_id", "user_id"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

role_permissions = Table(
    "role_permissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("pattern", String(500), nullable=False),
    Column("permission", String(32), nullable=False),
    UniqueConstraint("role_id", "resource_type", "pattern"),
    sqlite_autoincrement=True,
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("user_id", "role_id"),
    Index("ix_user_roles_role_id", "role_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
)
"""Failed logins per ``user:<name>`` and ``addr:<address>`` in the current window: the rate
limit holds whichever server answers."""

# ----------------------------------------------------------------------- the change-event log

LOGGING_ACTIONS = ("run.log_batch", "run.log_metric", "run.log_param", "run.set_tag")
"""The actions of the tracking hot path: most of the log. They stay out of the action index
(one page less to write on every logged point); a filter on one of them finds its events at
once by scanning newest first, since they are everywhere."""
UNCOMMON_ACTIONS = "action NOT IN ({})".format(", ".join(f"'{a}'" for a in LOGGING_ACTIONS))

change_events = Table(
    "change_events",
    metadata,
    # INTEGER on SQLite makes the id the table's rowid: no second b-tree for the primary key
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("address", String(64), nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(512), nullable=False),
    Column("experiment_id", String(32), nullable=True),
    Column("model_name", String(256), nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("claimed_user", String(256), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(
        "ix_change_events_action",
        "action",
        "id",
        sqlite_where=text(UNCOMMON_ACTIONS),
        postgresql_where=text(UNCOMMON_ACTIONS),
    ),
    Index(
        "ix_change_events_model",
        "model_name",
        "id",
        sqlite_where=text("model_name IS NOT NULL"),
        postgresql_where=text("model_name IS NOT NULL"),
    ),
)
"""Every state change, one row each, appended in the change's own transaction. Ids are
gap-free (given out under ``change_head``'s lock); no foreign keys, so deleting what an event
describes leaves the event. Append-only: nothing in Cairn updates or deletes a row but the
retention prune of events older than the retention period, and triggers (migration 0004) make
the database itself refuse any other UPDATE, DELETE or TRUNCATE. Lookups by actor, entity and
experiment go through :data:`change_event_keys`, written in batches: the row itself is the only
b-tree an append touches besides the head."""

KEY_ACTOR, KEY_ENTITY, KEY_EXPERIMENT = "a", "e", "x"
"""The kinds of :data:`change_event_keys` rows: an event's actor, its ``entity_type/entity_id``
and its experiment id."""

change_event_keys = Table(
    "change_event_keys",
    metadata,
    Column("kind", String(1), primary_key=True),
    Column("key", String(600), primary_key=True),
    Column("id", BigInteger, primary_key=True),
    Index("ix_change_event_keys_id", "id"),
    sqlite_with_rowid=False,
)
"""The change log's lookup index: one row per (kind, key) of each event, e.g. (``a``, ``alice``,
42). It is written in batches by the append that finds :data:`INDEX_BATCH` events unindexed
(``change_head.indexed_through`` says how far it reaches), not by every append: on the tracking
hot path an event then costs one row, not one row and three index entries. The newest events,
past ``indexed_through``, are found by scanning that short tail. Derived data: it is not
hashed, not append-only, and could be rebuilt from the log."""

INDEX_BATCH = 256
"""How many events may wait unindexed: the tail a keyed lookup scans, at most."""

change_head = Table(
    "change_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("first_id", BigInteger, nullable=False),
    Column("first_prev_hash", String(64), nullable=False),
    Column("pruning", Boolean, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("indexed_through", BigInteger, nullable=False, server_default="0"),
)
"""The chain's one head row (id 1): the last id and hash written, locked by each writing
transaction as its last step, and where the chain starts (after a retention prune).
``pruning`` is raised only inside the prune's own transaction: the one time the triggers let a
DELETE through. ``time`` is the last event's time: the log's clock never goes backwards (an
event's time is the later of now and it), so ids and times rise together and the primary key
answers time ranges (:func:`cairn.store.events.first_at`) without an index on ``time``.
``indexed_through``: the last event whose keys are in :data:`change_event_keys`."""

# ------------------------------------------------------------------------------- webhooks

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), nullable=False),  # public id, a UUID (as MLflow)
    Column("name", String(256), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of "entity.action"
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=True),
    Column("secret", Text, nullable=True),  # Fernet token (encrypted), never the secret
    Column("scope_experiment_id", String(32), nullable=True),
    Column("scope_model_name", String(256), nullable=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("webhook_id"),
    sqlite_autoincrement=True,
)
"""Webhooks: where to send which change events (:mod:`cairn.entities.webhooks`). A hook
scoped to an experiment or a registered model hears only that one's events."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), nullable=False),  # X-MLflow-Delivery-Id, a UUID
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=True),  # the change event; null for a test
    Column("entity", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON sent
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("response_excerpt", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("delivery_id"),
    UniqueConstraint("webhook_id", "event_id"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    sqlite_autoincrement=True,
)
"""One row per (webhook, change event): made by the outbox consumer in the transaction that
reads the event, so a delivery is never lost; its state, attempts and the last answer."""

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "delivery_id",
        Integer,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_excerpt", Text, nullable=True),
    PrimaryKeyConstraint("delivery_id", "number"),
)
"""Every HTTP attempt of a delivery, as it went."""

JOB_STATES_UNFINISHED = "state IN ('pending', 'running')"

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires", BigInteger, nullable=True),
    Column("run_after", BigInteger, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("key", String(256), nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_jobs_state_run_after", "state", "run_after"),
    Index("ix_jobs_kind_id", "kind", "id"),
)
# At most one unfinished job per (kind, key): a partial unique index on SQLite and PostgreSQL;
# MySQL has no partial index, so there (migration 0007) a generated column holds the key of
# an unfinished job only (NULL otherwise: NULLs never collide) and the unique index is on it.
_UNFINISHED_KEY = text(f"key IS NOT NULL AND {JOB_STATES_UNFINISHED}")
Index(
    "ix_jobs_unfinished_key", jobs.c.kind, jobs.c.key, unique=True, sqlite_where=_UNFINISHED_KEY
).ddl_if(dialect="sqlite")
Index(
    "ix_jobs_unfinished_key",
    jobs.c.kind,
    jobs.c.key,
    unique=True,
    postgresql_where=_UNFINISHED_KEY,
).ddl_if(dialect="postgresql")
MYSQL_ONLY = frozenset({"unfinished_key", "ix_jobs_unfinished_key"})
"""Columns and indexes only MySQL has (not in this metadata: the schema test leaves them out)."""
"""Background jobs, the truth the queue (Huey) only points at: one row per job, written in the
transaction of what caused it. ``state``: pending, running (``lease_owner`` holds it until
``lease_expires``), succeeded, failed, cancelled. At most one unfinished job per (kind, key)."""

job_cursors = Table(
    "job_cursors",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
"""Each outbox consumer's place in the change-event log: the last event id it has seen,
moved in the same transaction as whatever the consumer wrote for those events."""

periodic_runs = Table(
    "periodic_runs",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("next_at", BigInteger, nullable=False),
    Column("owner", String(128), nullable=True),
    Column("last_started", BigInteger, nullable=True),
    Column("last_finished", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
)
"""When each periodic job is next due, and which process ran it last: a process runs it only
if its conditional UPDATE moves ``next_at`` on, so N servers run it once per period."""

traces = Table(
    "traces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("client_request_id", String(250), nullable=True),
    Column("request_time", BigInteger, nullable=False),
    Column("execution_duration", BigInteger, nullable=True),
    Column("state", String(32), nullable=False),
    Column("request_preview", Text, nullable=True),
    Column("response_preview", Text, nullable=True),
    Column("span_count", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    UniqueConstraint("trace_id"),
    Index("ix_traces_experiment_id_request_time", "experiment_id", "request_time", "id"),
    Index("ix_traces_experiment_id_state", "experiment_id", "state", "request_time"),
    sqlite_autoincrement=True,
)
"""MLflow traces (the trace info): ``request_time`` in ms since the epoch, the duration in ms
(None while in progress), ``state`` OK / ERROR / IN_PROGRESS / STATE_UNSPECIFIED."""

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("trace_pk", "key"),
    Index("ix_trace_tags_key", "key"),
    sqlite_with_rowid=False,
)
Index("ix_trace_tags_key_value", trace_tags.c.key, trace_tags.c.value).ddl_if(dialect="sqlite")
Index("ix_trace_tags_value_hash", trace_tags.c.value, postgresql_using="hash").ddl_if(
    dialect="postgresql"
)

trace_metadata = Table(
    "trace_metadata",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(KEY_LENGTH), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("trace_pk", "key"),
    Index("ix_trace_metadata_key", "key"),
    sqlite_with_rowid=False,
)
"""A trace's request metadata (``trace_metadata`` in 3.x, ``request_metadata`` in 2.x)."""
Index("ix_trace_metadata_key_value", trace_metadata.c.key, trace_metadata.c.value).ddl_if(
    dialect="sqlite"
)

spans = Table(
    "spans",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_span_id", String(16), nullable=True),
    Column("name", Text, nullable=False),
    Column("span_type", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("kind", Integer, nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=True),
    Column("attributes", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("inputs_preview", Text, nullable=True),
    Column("outputs_preview", Text, nullable=True),
    PrimaryKeyConstraint("trace_pk", "span_id"),
    sqlite_with_rowid=False,
)
"""One row per OpenTelemetry span: ids in hex, times in ns, ``attributes`` and ``events`` as
JSON (attribute values decoded from OTLP's ``AnyValue``), previews of the span's inputs and
outputs for listings."""
Index("ix_spans_name", spans.c.name, spans.c.trace_pk).ddl_if(dialect="sqlite")
Index("ix_spans_name_hash", spans.c.name, postgresql_using="hash").ddl_if(dialect="postgresql")

assessments = Table(
    "assessments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assessment_id", String(64), nullable=False),
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(KEY_LENGTH), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("rationale", Text, nullable=True),
    Column("source_type", String(32), nullable=False),
    Column("source_id", String(KEY_LENGTH), nullable=True),
    Column("span_id", String(16), nullable=True),
    Column("metadata", Text, nullable=True),
    Column("overrides", String(64), nullable=True),
    Column("valid", Boolean, nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    UniqueConstraint("assessment_id"),
    Index("ix_assessments_trace_pk", "trace_pk"),
    sqlite_autoincrement=True,
)
"""Feedback and expectations on a trace (``kind``): ``value`` and ``error`` as JSON."""

trace_runs = Table(
    "trace_runs",
    metadata,
    Column("trace_pk", Integer, ForeignKey("traces.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("trace_pk", "run_id"),
    Index("ix_trace_runs_run_id", "run_id"),
    sqlite_with_rowid=False,
)
"""Traces linked to runs (``link-to-run``), besides the run a trace names in its metadata."""

# ------------------------------------------------------------------------- evaluation hub

evaluation_jobs = Table(
    "evaluation_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(40), nullable=False),  # public id: "ev-" + 20 hex
    Column("state", String(20), nullable=False),
    Column("shape", String(16), nullable=False),
    Column("request", Text, nullable=False),  # the normalised request, JSON
    Column("model_name", String(512), nullable=False),
    Column("registered_name", String(256), nullable=True),
    Column("registered_version", Integer, nullable=True),
    Column("model_server", String(256), nullable=True),
    Column("model_url", Text, nullable=True),
    Column("experiment_id", Integer, nullable=False),
    Column("parent_run_uuid", String(32), nullable=True),
    Column("collection_id", String(256), nullable=True),
    Column("tags", Text, nullable=False),  # JSON object
    Column("overall_score", Double, nullable=True),
    Column("passed", Boolean, nullable=True),
    Column("error", Text, nullable=True),
    Column("runner_token_hash", String(64), nullable=True),  # SHA-256 hex, never the token
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    UniqueConstraint("job_id"),
    Index("ix_evaluation_jobs_state", "state", "id"),
    Index("ix_evaluation_jobs_experiment", "experiment_id", "id"),
    Index("ix_evaluation_jobs_model", "model_name", "id"),
    Index("ix_evaluation_jobs_registered", "registered_name", "registered_version", "id"),
    sqlite_autoincrement=True,
)
"""Evaluation jobs (:mod:`cairn.entities.evaluations`): one per request, newest first by
``id``. The experiment and runs they wrote stay when a job row is deleted."""

evaluation_benchmarks = Table(
    "evaluation_benchmarks",
    metadata,
    Column("job", Integer, ForeignKey("evaluation_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("benchmark_id", String(256), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("config", Text, nullable=False),  # JSON object
    Column("weight", Double, nullable=False, server_default=text("1")),
    Column("primary_metric", String(KEY_LENGTH), nullable=True),
    Column("lower_is_better", Boolean, nullable=False),
    Column("threshold", Double, nullable=True),
    Column("state", String(16), nullable=False),
    Column("phase", String(64), nullable=True),
    Column("progress", Double, nullable=True),
    Column("run_uuid", String(32), nullable=True),
    Column("results", Text, nullable=True),  # JSON object of metrics
    Column("primary_score", Double, nullable=True),
    Column("passed", Boolean, nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("job", "idx"),
)
"""The benchmarks of an evaluation job, in request order, each with its state and results."""

evaluation_logs = Table(
    "evaluation_logs",
    metadata,
    Column("job", Integer, ForeignKey("evaluation_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("idx", Integer, nullable=True),  # the benchmark, or null for the job itself
    Column("line", Text, nullable=False),
    PrimaryKeyConstraint("job", "seq"),
)
"""An evaluation job's log, line by line (``GET …/jobs/{id}/logs?after=<seq>``)."""

evaluation_collections = Table(
    "evaluation_collections",
    metadata,
    Column("collection_id", String(128), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("benchmarks", Text, nullable=False),  # JSON list, the seed's benchmark shape
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
"""Users' collections of benchmarks (the providers' shipped ones are not stored)."""
