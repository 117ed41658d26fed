"""Table-driven tests of the search-filter and order-by parser."""

from __future__ import annotations

import pytest

from cairn.entities.errors import CairnError, ErrorCode
from cairn.store.search.ast import And, Comparison, Expr, Or, OrderBy
from cairn.store.search.parser import parse_filter, parse_order_by
from cairn.store.search.profiles import (
    EXPERIMENTS,
    LOGGED_MODELS,
    MODEL_VERSIONS,
    PROFILES,
    REGISTERED_MODELS,
    RUNS,
    Profile,
)

C = Comparison
A = C("metric", "a", "=", 1)
B = C("metric", "b", "=", 2)
D = C("metric", "c", "=", 3)
E = C("metric", "d", "=", 4)

VALID_RUNS: list[tuple[str, Expr]] = [
    # metrics: every prefix spelling, number syntaxes, key forms
    ("metrics.acc > 0.9", C("metric", "acc", ">", 0.9)),
    ("metric.acc >= 1", C("metric", "acc", ">=", 1)),
    ("metrics.val.loss < 1e-3", C("metric", "val.loss", "<", 0.001)),
    ("metrics.`my metric` <= -2", C("metric", "my metric", "<=", -2)),
    ('metrics."my metric" != .5', C("metric", "my metric", "!=", 0.5)),
    ("metrics.acc = +3", C("metric", "acc", "=", 3)),
    ("metrics.acc = 1.5E+2", C("metric", "acc", "=", 150.0)),
    ("metrics.acc = 2.", C("metric", "acc", "=", 2.0)),
    ("metrics.acc=-0.25", C("metric", "acc", "=", -0.25)),
    ("metrics.acc<-1", C("metric", "acc", "<", -1)),
    ("metrics.acc IS NULL", C("metric", "acc", "IS NULL", None)),
    ("metrics.acc is not null", C("metric", "acc", "IS NOT NULL", None)),
    ("Metrics.acc = 1", C("metric", "acc", "=", 1)),
    # params: every prefix spelling and comparator
    ("params.lr = '0.01'", C("param", "lr", "=", "0.01")),
    ("param.lr = '0.01'", C("param", "lr", "=", "0.01")),
    ("parameter.lr = '0.01'", C("param", "lr", "=", "0.01")),
    ("parameters.lr = '0.01'", C("param", "lr", "=", "0.01")),
    ("params.opt LIKE 'ad%'", C("param", "opt", "LIKE", "ad%")),
    ("params.opt ilike 'AD%'", C("param", "opt", "ILIKE", "AD%")),
    ('params.opt != "sgd"', C("param", "opt", "!=", "sgd")),
    ("params.p IN ('a', 'b')", C("param", "p", "IN", ("a", "b"))),
    ("params.p not in ('a')", C("param", "p", "NOT IN", ("a",))),
    ("params.p In(\"a\",'b' , 'c')", C("param", "p", "IN", ("a", "b", "c"))),
    ("params.p IS NULL", C("param", "p", "IS NULL", None)),
    # tags: prefixes, quoted / backticked keys, escapes
    ("tags.`mlflow.runName` = 'x'", C("tag", "mlflow.runName", "=", "x")),
    ("tag.t = 'x'", C("tag", "t", "=", "x")),
    ("tags.\"a b\" = 'x'", C("tag", "a b", "=", "x")),
    ("tags.'a b' = 'x'", C("tag", "a b", "=", "x")),
    ("`tags`.`a b` = 'x'", C("tag", "a b", "=", "x")),
    ("`tags`.a.b = 'x'", C("tag", "a.b", "=", "x")),
    ("tags.`a``b` = 'x'", C("tag", "a`b", "=", "x")),
    ("tags.a-b/c:d = 'x'", C("tag", "a-b/c:d", "=", "x")),
    ("tags.ключ = 'значение'", C("tag", "ключ", "=", "значение")),
    ("tags.t IS NOT NULL", C("tag", "t", "IS NOT NULL", None)),
    ("tags.t = 'it''s'", C("tag", "t", "=", "it's")),
    ("tags.t = 'it\\'s'", C("tag", "t", "=", "it's")),
    ('tags.t = "it\'s"', C("tag", "t", "=", "it's")),
    ('tags.t = "say \\"hi\\""', C("tag", "t", "=", 'say "hi"')),
    ('tags.t = "say ""hi"""', C("tag", "t", "=", 'say "hi"')),
    ("tags.t = 'a\\\\b'", C("tag", "t", "=", "a\\b")),
    ("tags.t LIKE 'a\\_b%'", C("tag", "t", "LIKE", "a\\_b%")),
    ("tags.t = ''", C("tag", "t", "=", "")),
    ("tags.t = 'AND OR ( ) ,'", C("tag", "t", "=", "AND OR ( ) ,")),
    # attributes: every prefix and alias
    ("attributes.status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("attribute.status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("attr.status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("run.status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("run_name = 'x'", C("attribute", "run_name", "=", "x")),
    ("`run name` = 'x'", C("attribute", "run_name", "=", "x")),
    ("`Run name` = 'x'", C("attribute", "run_name", "=", "x")),
    ("`Run Name` LIKE 'x%'", C("attribute", "run_name", "LIKE", "x%")),
    ("attributes.`Run name` = 'x'", C("attribute", "run_name", "=", "x")),
    ("\"run_name\" = 'x'", C("attribute", "run_name", "=", "x")),
    ("created > 5", C("attribute", "start_time", ">", 5)),
    ("Created >= 5", C("attribute", "start_time", ">=", 5)),
    ("attributes.created < 5", C("attribute", "start_time", "<", 5)),
    ("start_time >= 1700000000000", C("attribute", "start_time", ">=", 1700000000000)),
    ("end_time != 1", C("attribute", "end_time", "!=", 1)),
    ("run_id IN ('a','b')", C("attribute", "run_id", "IN", ("a", "b"))),
    ("attributes.run_id NOT IN ('a')", C("attribute", "run_id", "NOT IN", ("a",))),
    ("user_id = 'u'", C("attribute", "user_id", "=", "u")),
    ("artifact_uri LIKE 's3://%'", C("attribute", "artifact_uri", "LIKE", "s3://%")),
    ("lifecycle_stage = 'active'", C("attribute", "lifecycle_stage", "=", "active")),
    # datasets
    ("datasets.name = 'ds'", C("dataset", "name", "=", "ds")),
    ("dataset.digest IN ('d1')", C("dataset", "digest", "IN", ("d1",))),
    ("datasets.context ILIKE 'train%'", C("dataset", "context", "ILIKE", "train%")),
    # whitespace and keyword case
    ("  metrics.a=1\n", A),
    ("\tmetrics.a = 1\nAND\r\nmetrics.b = 2 ", And((A, B))),
    ("metrics.a = 1 and metrics.b = 2", And((A, B))),
    ("metrics.a = 1 aNd metrics.b = 2 Or metrics.c = 3", Or((And((A, B)), D))),
    # precedence, grouping and flattening
    ("metrics.a = 1 OR metrics.b = 2 AND metrics.c = 3", Or((A, And((B, D))))),
    ("(metrics.a = 1 OR metrics.b = 2) AND metrics.c = 3", And((Or((A, B)), D))),
    ("metrics.a = 1 AND (metrics.b = 2 AND metrics.c = 3)", And((A, B, D))),
    ("(metrics.a = 1 OR metrics.b = 2) OR metrics.c = 3", Or((A, B, D))),
    ("((metrics.a = 1))", A),
    ("(metrics.a = 1)AND(metrics.b = 2)", And((A, B))),
    (
        "metrics.a = 1 AND metrics.b = 2 AND metrics.c = 3 OR metrics.d = 4",
        Or((And((A, B, D)), E)),
    ),
    (
        "(metrics.a = 1 OR metrics.b = 2) AND (metrics.c = 3 OR metrics.d = 4)",
        And((Or((A, B)), Or((D, E)))),
    ),
    (
        "metrics.a = 1 AND (metrics.b = 2 OR (metrics.c = 3 AND metrics.d = 4))",
        And((A, Or((B, And((D, E)))))),
    ),
]

PROMPT_FILTER = "name = 'm' AND tag.`mlflow.prompt.is_prompt` != 'true'"

VALID_OTHER: list[tuple[Profile, str, Expr]] = [
    (EXPERIMENTS, "name LIKE 'exp%'", C("attribute", "name", "LIKE", "exp%")),
    (EXPERIMENTS, "attribute.name = 'x'", C("attribute", "name", "=", "x")),
    (EXPERIMENTS, "creation_time > 100", C("attribute", "creation_time", ">", 100)),
    (EXPERIMENTS, "last_update_time <= 5", C("attribute", "last_update_time", "<=", 5)),
    (EXPERIMENTS, "tags.k = 'v'", C("tag", "k", "=", "v")),
    (EXPERIMENTS, "tag.`a b` IS NULL", C("tag", "a b", "IS NULL", None)),
    (REGISTERED_MODELS, "name ILIKE '%m%'", C("attribute", "name", "ILIKE", "%m%")),
    (REGISTERED_MODELS, "tags.k = 'v'", C("tag", "k", "=", "v")),
    (
        REGISTERED_MODELS,
        PROMPT_FILTER,
        And((C("attribute", "name", "=", "m"), C("tag", "mlflow.prompt.is_prompt", "!=", "true"))),
    ),
    (MODEL_VERSIONS, "version_number > 2", C("attribute", "version_number", ">", 2)),
    (MODEL_VERSIONS, "version = 3", C("attribute", "version_number", "=", 3)),
    (MODEL_VERSIONS, "run_id IN ('r1', 'r2')", C("attribute", "run_id", "IN", ("r1", "r2"))),
    (MODEL_VERSIONS, "source_path = 's3://x'", C("attribute", "source_path", "=", "s3://x")),
    (MODEL_VERSIONS, "name = 'm'", C("attribute", "name", "=", "m")),
    (MODEL_VERSIONS, "tags.k LIKE 'v%'", C("tag", "k", "LIKE", "v%")),
    (LOGGED_MODELS, "name = 'm'", C("attribute", "name", "=", "m")),
    (LOGGED_MODELS, "metrics.acc > 0.5", C("metric", "acc", ">", 0.5)),
    (LOGGED_MODELS, "params.p = 'x'", C("param", "p", "=", "x")),
    (LOGGED_MODELS, "tags.t != 'x'", C("tag", "t", "!=", "x")),
    (LOGGED_MODELS, "creation_time > 5", C("attribute", "creation_timestamp", ">", 5)),
    (LOGGED_MODELS, "last_updated_time < 5", C("attribute", "last_updated_timestamp", "<", 5)),
    (LOGGED_MODELS, "model_id IN ('a')", C("attribute", "model_id", "IN", ("a",))),
    (LOGGED_MODELS, "status = 'READY'", C("attribute", "status", "=", "READY")),
    (LOGGED_MODELS, "source_run_id = 'r'", C("attribute", "source_run_id", "=", "r")),
    (LOGGED_MODELS, "model_type = 't'", C("attribute", "model_type", "=", "t")),
]

INVALID: list[tuple[Profile, str, list[str]]] = [
    (RUNS, "metrics.acc >> 1", ["Invalid filter 'metrics.acc >> 1'", "'>' at position 13"]),
    (RUNS, "attributes.foo = 1", ["Invalid attribute key 'foo' in 'attributes.foo = 1'", "run_id"]),
    (RUNS, "foo = 'x'", ["Invalid attribute key 'foo'", "run_name"]),
    (RUNS, "`run_names` = 'x'", ["Invalid attribute key 'run_names'"]),
    (RUNS, "bogus.x = 1", ["Invalid entity 'bogus'", "metrics, params, tags, datasets"]),
    (RUNS, "metric.acc = 'x'", ["number for metric 'acc'", "string 'x'", "position 13"]),
    (RUNS, "params.p = 1", ["quoted string for param 'p'", "number '1'", "position 11"]),
    (RUNS, "tags.t = v", ["unexpected token 'v' at position 9", "expected a value"]),
    (RUNS, "start_time = 'x'", ["number for attribute 'start_time'", "string 'x'"]),
    (RUNS, "created = '5'", ["number for attribute 'start_time'"]),
    (RUNS, "run_name = 1", ["quoted string for attribute 'run_name'", "number '1'"]),
    (RUNS, "metrics.a LIKE 'x'", ["comparator 'LIKE' at position 10", "metric 'a'"]),
    (RUNS, "metrics.a IN ('x')", ["comparator 'IN'"]),
    (RUNS, "params.p > 'x'", ["comparator '>'", "param 'p'"]),
    (RUNS, "start_time IN ('1')", ["comparator 'IN'", "attribute 'start_time'"]),
    (RUNS, "run_name < 'x'", ["comparator '<'"]),
    (RUNS, "run_name IS NULL", ["comparator 'IS NULL'"]),
    (RUNS, "datasets.name > 'x'", ["comparator '>'"]),
    (RUNS, "datasets.foo = 'x'", ["Invalid dataset key 'foo'", "context, digest, name"]),
    (RUNS, "tags.t = 'abc", ["unterminated string", "position 9"]),
    (RUNS, "tags.t = \"abc'", ["unterminated string", "position 9"]),
    (RUNS, "tags.t = 'abc\\'", ["unterminated string"]),
    (RUNS, "tags.`abc = 'x'", ["unterminated name", "position 5"]),
    (RUNS, "metrics.a = 1 AND", ["end of input after 'AND' at position 17"]),
    (RUNS, "metrics.a = 1 or", ["end of input after 'or'"]),
    (RUNS, "metrics.a = 1 AND AND metrics.b = 2", ["unexpected token 'AND' at position 18"]),
    (RUNS, "AND metrics.a = 1", ["unexpected token 'AND' at position 0", "expected a key"]),
    (RUNS, "()", ["empty parentheses at position 0"]),
    (RUNS, "metrics.a = 1 AND ( )", ["empty parentheses at position 18"]),
    (RUNS, "metrics.a = 1 garbage", ["unexpected token 'garbage' at position 14"]),
    (RUNS, "metrics.a = 1)", ["unexpected token ')' at position 13"]),
    (RUNS, "(metrics.a = 1", ["end of input", "')' to close '(' at position 0"]),
    (RUNS, "metrics.a = 1 metrics.b = 2", ["unexpected token 'metrics.b' at position 14"]),
    (RUNS, "params.p IN ()", ["empty list at position 12"]),
    (RUNS, "params.p IN ('a',)", ["unexpected token ')' at position 17"]),
    (RUNS, "params.p IN ('a' 'b')", ["unexpected token string 'b' at position 17"]),
    (RUNS, "params.p IN (1)", ["unexpected token number '1' at position 13"]),
    (RUNS, "params.p IN 'a'", ["unexpected token string 'a'", "'('"]),
    (RUNS, "params.p IN ('a'", ["end of input after string 'a'"]),
    (RUNS, "params.p NOT LIKE 'a'", ["unexpected token 'LIKE' at position 13", "IN after NOT"]),
    (RUNS, "params.p IS 'a'", ["unexpected token string 'a'", "NULL or NOT NULL after IS"]),
    (RUNS, "params.p IS NOT 'a'", ["NULL after IS NOT"]),
    (RUNS, "params.p = NULL", ["unexpected token 'NULL' at position 11"]),
    (RUNS, "metrics.a = 1.2.3", ["invalid number '1.2.3' at position 12"]),
    (RUNS, "metrics.a = 1e", ["invalid number '1e'"]),
    (RUNS, "metrics.a = 12abc", ["invalid number '12abc'"]),
    (RUNS, "metrics.a = 1e999", ["number '1e999' at position 12 is out of range"]),
    (RUNS, "metrics.a = " + "9" * 5000, ["is out of range"]),
    (RUNS, "metrics.a # 1", ["unexpected character '#' at position 10"]),
    (RUNS, "metrics.a = 1; DROP TABLE runs", ["unexpected character ';' at position 13"]),
    (RUNS, "metrics.a == 1", ["unexpected token '=' at position 11"]),
    (RUNS, "metrics.a <> 1", ["unexpected token '>' at position 11"]),
    (RUNS, "metrics.a 1", ["unexpected token number '1' at position 10", "a comparator"]),
    (RUNS, "metrics.a", ["end of input after 'metrics.a'", "a comparator"]),
    (RUNS, "metrics.a =", ["end of input after '='", "a value"]),
    (RUNS, "tags. = 'x'", ["missing key after 'tags.' at position 0"]),
    (RUNS, "tags.`` = 'x'", ["missing key after 'tags.'"]),
    (RUNS, "'run_name' = 'x'", ["unexpected token string 'run_name' at position 0"]),
    (RUNS, "(" * 100 + "metrics.a = 1" + ")" * 100, ["nested deeper than 64"]),
    (RUNS, "-", ["unexpected character '-' at position 0"]),
    (EXPERIMENTS, "metrics.a = 1", ["Invalid entity 'metrics'", "tags, attributes"]),
    (EXPERIMENTS, "experiment_id = '1'", ["Invalid attribute key 'experiment_id'"]),
    (EXPERIMENTS, "creation_time = 'x'", ["number for attribute 'creation_time'"]),
    (REGISTERED_MODELS, "name IN ('a')", ["comparator 'IN'", "valid: =, !=, LIKE, ILIKE"]),
    (REGISTERED_MODELS, "params.x = 'a'", ["Invalid entity 'params'"]),
    (REGISTERED_MODELS, "creation_timestamp > 1", ["Invalid attribute key 'creation_timestamp'"]),
    (MODEL_VERSIONS, "version_number = 'x'", ["number for attribute 'version_number'"]),
    (MODEL_VERSIONS, "metrics.a = 1", ["Invalid entity 'metrics'"]),
    (LOGGED_MODELS, "datasets.name = 'x'", ["Invalid entity 'datasets'"]),
    (LOGGED_MODELS, "run_name = 'x'", ["Invalid attribute key 'run_name'", "model_id"]),
]

VALID_ORDER_BY: list[tuple[Profile, str, OrderBy]] = [
    (RUNS, "metrics.m0 DESC", OrderBy("metric", "m0", False)),
    (RUNS, "metric.`val loss`", OrderBy("metric", "val loss", True)),
    (RUNS, "tags.`my tag` ASC", OrderBy("tag", "my tag", True)),
    (RUNS, "params.p asc", OrderBy("param", "p", True)),
    (RUNS, "start_time DESC", OrderBy("attribute", "start_time", False)),
    (RUNS, "attributes.start_time", OrderBy("attribute", "start_time", True)),
    (RUNS, "run_name", OrderBy("attribute", "run_name", True)),
    (RUNS, "created desc", OrderBy("attribute", "start_time", False)),
    (RUNS, "Created Desc", OrderBy("attribute", "start_time", False)),
    (RUNS, '"run_name" DESC', OrderBy("attribute", "run_name", False)),
    (RUNS, "  end_time \t DESC  ", OrderBy("attribute", "end_time", False)),
    (EXPERIMENTS, "name", OrderBy("attribute", "name", True)),
    (EXPERIMENTS, "experiment_id DESC", OrderBy("attribute", "experiment_id", False)),
    (EXPERIMENTS, "creation_time ASC", OrderBy("attribute", "creation_time", True)),
    (EXPERIMENTS, "last_update_time desc", OrderBy("attribute", "last_update_time", False)),
    (REGISTERED_MODELS, "name ASC", OrderBy("attribute", "name", True)),
    (
        REGISTERED_MODELS,
        "creation_timestamp DESC",
        OrderBy("attribute", "creation_timestamp", False),
    ),
    (REGISTERED_MODELS, "timestamp DESC", OrderBy("attribute", "last_updated_timestamp", False)),
    (MODEL_VERSIONS, "version_number DESC", OrderBy("attribute", "version_number", False)),
    (MODEL_VERSIONS, "version", OrderBy("attribute", "version_number", True)),
    (
        MODEL_VERSIONS,
        "last_updated_timestamp",
        OrderBy("attribute", "last_updated_timestamp", True),
    ),
    (LOGGED_MODELS, "metrics.acc DESC", OrderBy("metric", "acc", False)),
    (LOGGED_MODELS, "creation_time", OrderBy("attribute", "creation_timestamp", True)),
    (LOGGED_MODELS, "name", OrderBy("attribute", "name", True)),
]

INVALID_ORDER_BY: list[tuple[Profile, str, list[str]]] = [
    (RUNS, "metrics.m0 UP", ["Invalid order_by clause", "unexpected token 'UP' at position 11"]),
    (RUNS, "start_time DESC extra", ["unexpected token 'extra' at position 16"]),
    (RUNS, "", ["unexpected end of input at position 0", "expected a key"]),
    (RUNS, "   ", ["unexpected end of input at position 3"]),
    (RUNS, "foo", ["Invalid attribute key 'foo' in 'foo'", "start_time"]),
    (RUNS, "bogus.x", ["Invalid order_by entity 'bogus'"]),
    (RUNS, "datasets.name", ["Invalid order_by entity 'datasets'", "metrics, params, tags"]),
    (RUNS, "metrics.a = 1", ["unexpected token '=' at position 10"]),
    (RUNS, "DESC", ["Invalid attribute key 'DESC'"]),
    (RUNS, "(start_time)", ["unexpected token '(' at position 0"]),
    (RUNS, "tags.`x", ["unterminated name"]),
    (EXPERIMENTS, "tags.x", ["Invalid order_by entity 'tags'", "valid: attributes"]),
    (REGISTERED_MODELS, "version_number", ["Invalid attribute key 'version_number'"]),
    (LOGGED_MODELS, "params.x", ["Invalid order_by entity 'params'", "metrics, attributes"]),
]


@pytest.mark.parametrize(("text", "expected"), VALID_RUNS, ids=[t for t, _ in VALID_RUNS])
def test_valid_runs_filter(text: str, expected: Expr) -> None:
    assert parse_filter(text, RUNS) == expected


@pytest.mark.parametrize(
    ("profile", "text", "expected"), VALID_OTHER, ids=[f"{p.name}:{t}" for p, t, _ in VALID_OTHER]
)
def test_valid_filter_other_profiles(profile: Profile, text: str, expected: Expr) -> None:
    assert parse_filter(text, profile) == expected


@pytest.mark.parametrize(
    ("profile", "text", "fragments"), INVALID, ids=[f"{p.name}:{t[:60]}" for p, t, _ in INVALID]
)
def test_invalid_filter(profile: Profile, text: str, fragments: list[str]) -> None:
    with pytest.raises(CairnError) as info:
        parse_filter(text, profile)
    assert info.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    assert info.value.http_status == 400
    for fragment in fragments:
        assert fragment in info.value.message


@pytest.mark.parametrize("text", [None, "", " ", "\n\t  "])
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_empty_filter_is_none(text: str | None, profile: Profile) -> None:
    assert parse_filter(text, profile) is None


@pytest.mark.parametrize(
    ("profile", "text", "expected"),
    VALID_ORDER_BY,
    ids=[f"{p.name}:{t}" for p, t, _ in VALID_ORDER_BY],
)
def test_valid_order_by(profile: Profile, text: str, expected: OrderBy) -> None:
    assert parse_order_by(text, profile) == expected


@pytest.mark.parametrize(
    ("profile", "text", "fragments"),
    INVALID_ORDER_BY,
    ids=[f"{p.name}:{t}" for p, t, _ in INVALID_ORDER_BY],
)
def test_invalid_order_by(profile: Profile, text: str, fragments: list[str]) -> None:
    with pytest.raises(CairnError) as info:
        parse_order_by(text, profile)
    assert info.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    for fragment in fragments:
        assert fragment in info.value.message


def _attribute_cases() -> list[tuple[Profile, str, str]]:
    return [
        (profile, spelling, attribute.name)
        for profile in PROFILES
        for attribute in profile.attributes
        for spelling in (attribute.name, *attribute.aliases)
    ]


@pytest.mark.parametrize(
    ("profile", "spelling", "canonical"),
    _attribute_cases(),
    ids=[f"{p.name}:{s}" for p, s, _ in _attribute_cases()],
)
def test_every_attribute_spelling(profile: Profile, spelling: str, canonical: str) -> None:
    attribute = profile.attribute(spelling)
    assert attribute is not None
    numeric = attribute.kind == "numeric"
    filter_text = f"attributes.`{spelling}` = {'1' if numeric else repr('v')}"
    if attribute.filterable:
        expected = C("attribute", canonical, "=", 1 if numeric else "v")
        assert parse_filter(filter_text, profile) == expected
        wrong = f"`{spelling}` = {repr('v') if numeric else '1'}"
        with pytest.raises(CairnError, match="expected a (number|quoted string)"):
            parse_filter(wrong, profile)
    else:
        with pytest.raises(CairnError, match="Invalid attribute key"):
            parse_filter(filter_text, profile)
    if attribute.orderable:
        assert parse_order_by(f"`{spelling}` DESC", profile) == OrderBy(
            "attribute", canonical, False
        )
    else:
        with pytest.raises(CairnError, match="Invalid attribute key"):
            parse_order_by(spelling, profile)


def test_error_is_raised_for_non_string_input() -> None:
    with pytest.raises(CairnError, match="expected a string"):
        parse_filter(42, RUNS)  # type: ignore[arg-type]
    with pytest.raises(CairnError, match="expected a string"):
        parse_order_by(None, RUNS)  # type: ignore[arg-type]


def test_long_flat_filter_parses_without_recursion() -> None:
    text = " AND ".join(f"metrics.m{i} > {i}" for i in range(100))
    expr = parse_filter(text, RUNS)
    assert isinstance(expr, And)
    assert len(expr.items) == 100
    assert expr.items[-1] == C("metric", "m99", ">", 99)
    # past the limit on comparisons (each one is a join or bind parameters): a clear 400
    longer = " AND ".join(f"metrics.m{i} > {i}" for i in range(5000))
    with pytest.raises(CairnError, match="more than 100 comparisons"):
        parse_filter(longer, RUNS)


@pytest.mark.parametrize(
    "text",
    [
        "metrics.a = 1 AND " * 5000 + "#",
        "x" * 100_000 + " = 1",
        "metrics.a = 'x" + "y" * 100_000,
        "tags.t = " + "1" * 100_000 + "a",
    ],
    ids=["long-filter", "long-key", "long-string", "long-number"],
)
def test_error_messages_stay_short_for_huge_input(text: str) -> None:
    with pytest.raises(CairnError) as info:
        parse_filter(text, RUNS)
    assert len(info.value.message) < 1000
