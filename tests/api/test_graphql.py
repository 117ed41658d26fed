"""``/graphql`` over HTTP against the app in-process, access control on (default
NO_PERMISSIONS): every root field MLflow's UI and MLflow's REST suite use, with MLflow's
shapes (LongString as strings, protobuf defaults for unset fields, NaN as null), READ needed
on what each field names (a user without it gets the error and no data; searches leave it
out), MLflow's limits (root fields, aliases, depth, selections, fragments included), and
malformed or oversized requests refused with a 4xx in the one error shape, never a 500."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.access.service import AccessService
from cairn.entities.access import Permission, ResourceType
from cairn.server.app import create_app
from cairn.server.mlflow.graphql import MAX_TOKENS
from cairn.server.settings import Settings
from tests.api import basic, root_app

ADMIN, ADMIN_PASSWORD = "root", "root's long password"
READER, READER_PASSWORD = "reader", "reader's long password"
NOBODY, NOBODY_PASSWORD = "nobody", "nobody's long password"
API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
MAX_BODY = 256 * 1024


@dataclass
class World:
    client: TestClient
    access: AccessService
    experiment_id: str
    run_id: str
    other_run_id: str
    model: str = "GraphqlModel"

    def admin(self) -> dict[str, str]:
        return basic(ADMIN, ADMIN_PASSWORD)

    def reader(self) -> dict[str, str]:
        return basic(READER, READER_PASSWORD)

    def nobody(self) -> dict[str, str]:
        return basic(NOBODY, NOBODY_PASSWORD)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("graphql")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    mp.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(
        backend_store_uri=f"sqlite:///{folder / 'api.db'}",
        artifacts_destination=str(folder / "artifacts"),
        auth=True,
        default_permission="NO_PERMISSIONS",
        max_request_bytes=MAX_BODY,
    )
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            access: AccessService = root_app(client.app).state.access
            access.create_user(READER, READER_PASSWORD)
            access.create_user(NOBODY, NOBODY_PASSWORD)
            admin = basic(ADMIN, ADMIN_PASSWORD)
            eid = ok(
                client.post(
                    f"{API}/experiments/create", json={"name": "GraphqlTest"}, headers=admin
                )
            )["experiment_id"]
            ok(
                client.post(
                    f"{API}/experiments/set-experiment-tag",
                    json={"experiment_id": eid, "key": "team", "value": "red"},
                    headers=admin,
                )
            )
            first = ok(
                client.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=admin)
            )
            second = ok(
                client.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=admin)
            )
            rid = first["run"]["info"]["run_id"]
            points = [
                {"key": "metric_0", "value": i, "timestamp": 100 + i, "step": i} for i in range(10)
            ]
            points.append({"key": "nan_metric", "value": "NaN", "timestamp": 2, "step": 2})
            ok(
                client.post(
                    f"{API}/runs/log-batch", json={"run_id": rid, "metrics": points}, headers=admin
                )
            )
            datasets = [
                {
                    "dataset": {
                        "name": "ds-1",
                        "digest": "12345",
                        "source_type": "script",
                        "source": "t",
                    }
                },
                {
                    "dataset": {
                        "name": "ds-2",
                        "digest": "12346",
                        "source_type": "script",
                        "source": "t",
                    },
                    "tags": [{"key": "mlflow.data.context", "value": "training"}],
                },
            ]
            ok(
                client.post(
                    f"{API}/runs/log-inputs",
                    json={"run_id": rid, "datasets": datasets},
                    headers=admin,
                )
            )
            for path in ("test.txt", "testDir/test.txt"):
                r = client.put(
                    f"{ART}/{eid}/{rid}/artifacts/{path}", content=b"hello world", headers=admin
                )
                assert r.status_code == 200, r.text
            ok(
                client.post(
                    f"{API}/registered-models/create", json={"name": "GraphqlModel"}, headers=admin
                )
            )
            ok(
                client.post(
                    f"{API}/model-versions/create",
                    json={"name": "GraphqlModel", "source": f"runs:/{rid}/model", "run_id": rid},
                    headers=admin,
                )
            )
            access.create_grant(ResourceType.EXPERIMENT, eid, READER, Permission.READ)
            access.create_grant(
                ResourceType.REGISTERED_MODEL, "GraphqlModel", READER, Permission.READ
            )
            yield World(client, access, eid, rid, second["run"]["info"]["run_id"])
    finally:
        mp.undo()


def fill(template: str, *values: str) -> str:
    """``template`` with each ``@`` replaced by the next of ``values`` (GraphQL is all braces)."""
    for value in values:
        template = template.replace("@", value, 1)
    return template


def gql(world: World, query: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    body = {"query": query, **extra}
    return world.client.post(
        "/graphql", json=body, headers=world.admin() if headers is None else headers
    )


def data(response: Any) -> dict[str, Any]:
    body = ok(response)
    assert body["errors"] is None, body
    found: dict[str, Any] = body["data"]
    return found


def errors(response: Any) -> list[str]:
    body = ok(response)
    assert isinstance(body["errors"], list), body
    assert body["errors"], body
    assert all(isinstance(e, str) for e in body["errors"]), body
    found: list[str] = body["errors"]
    return found


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


# ---- each query, with MLflow's shapes ----


def test_echo_query_and_mutation(world: World) -> None:
    found = data(
        gql(
            world,
            'query testQuery {test(inputString: "abc") { output }}',
            operationName="testQuery",
        )
    )
    assert found == {"test": {"output": "abc"}}
    found = data(gql(world, 'mutation m { testMutation(inputString: "x") { output } }'))
    assert found == {"testMutation": {"output": "x"}}


def test_get_experiment(world: World) -> None:
    query = 'query testQuery @component(name: "Test") ' + fill(
        '{ mlflowGetExperiment(input: {experimentId: "@"})'
        " { experiment { experimentId name lifecycleStage creationTime lastUpdateTime"
        " tags { key value } }"
        " apiError { code } } }",
        world.experiment_id,
    )
    found = data(gql(world, query))["mlflowGetExperiment"]
    experiment = found["experiment"]
    assert experiment["experimentId"] == world.experiment_id
    assert experiment["name"] == "GraphqlTest"
    assert experiment["lifecycleStage"] == "active"
    assert isinstance(experiment["creationTime"], str)
    assert int(experiment["creationTime"]) > 0
    assert experiment["tags"] == [{"key": "team", "value": "red"}]
    assert found["apiError"] is None


def test_get_run_with_its_experiment_model_versions_and_a_nan_metric(world: World) -> None:
    query = """query q($id: String) { mlflowGetRun(input: {runId: $id}) { run {
        info { runId runUuid status endTime experimentId lifecycleStage }
        experiment { name }
        modelVersions { name version runId status source }
        data { metrics { key value timestamp step } }
        inputs { datasetInputs { dataset { name digest } tags { key value } } }
        outputs { modelOutputs { modelId } } } } }"""
    run = data(gql(world, query, variables={"id": world.run_id}))["mlflowGetRun"]["run"]
    assert run["info"] == {
        "runId": world.run_id,
        "runUuid": world.run_id,
        "status": "RUNNING",
        "endTime": "0",  # unset: protobuf's default, as MLflow answers
        "experimentId": world.experiment_id,
        "lifecycleStage": "active",
    }
    assert run["experiment"] == {"name": "GraphqlTest"}
    assert run["modelVersions"] == [
        {
            "name": world.model,
            "version": "1",
            "runId": world.run_id,
            "status": "READY",
            "source": f"runs:/{world.run_id}/model",
        }
    ]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["metric_0"] == {"key": "metric_0", "value": 9, "timestamp": "109", "step": "9"}
    assert metrics["nan_metric"] == {
        "key": "nan_metric",
        "value": None,
        "timestamp": "2",
        "step": "2",
    }
    names = sorted(d["dataset"]["name"] for d in run["inputs"]["datasetInputs"])
    assert names == ["ds-1", "ds-2"]
    assert run["outputs"] == {"modelOutputs": []}


def test_metric_history_bulk_interval(world: World) -> None:
    query = fill(
        'query { mlflowGetMetricHistoryBulkInterval(input: {runIds: ["@"], metricKey: "metric_0"})'
        " { metrics { key value step timestamp runId } } }",
        world.run_id,
    )
    metrics = data(gql(world, query))["mlflowGetMetricHistoryBulkInterval"]["metrics"]
    assert metrics == [
        {
            "key": "metric_0",
            "value": i,
            "step": str(i),
            "timestamp": str(100 + i),
            "runId": world.run_id,
        }
        for i in range(10)
    ]


def test_list_artifacts_at_the_root_and_in_a_folder(world: World) -> None:
    query = fill(
        'query { files: mlflowListArtifacts(input: {runId: "@"})'
        " { rootUri files { path isDir fileSize } }"
        ' subdir: mlflowListArtifacts(input: {runId: "@", path: "testDir"})'
        " { files { path isDir fileSize } } }",
        world.run_id,
        world.run_id,
    )
    found = data(gql(world, query))
    assert found["files"]["files"] == [
        {"path": "test.txt", "isDir": False, "fileSize": "11"},
        {"path": "testDir", "isDir": True, "fileSize": "0"},
    ]
    assert found["files"]["rootUri"].endswith(f"/{world.experiment_id}/{world.run_id}/artifacts")
    assert found["subdir"]["files"] == [
        {"path": "testDir/test.txt", "isDir": False, "fileSize": "11"}
    ]
    bad = gql(
        world,
        fill(
            'query { mlflowListArtifacts(input: {runId: "@", path: "../x"}) { files { path } } }',
            world.run_id,
        ),
    )
    assert errors(bad) == ["Invalid path"]


def test_search_model_versions(world: World) -> None:
    query = fill(
        'query { mlflowSearchModelVersions(input: {filter: "name=\'@\'", maxResults: "5"})'
        " { modelVersions { name version } nextPageToken } }",
        world.model,
    )
    found = data(gql(world, query))["mlflowSearchModelVersions"]
    assert found == {"modelVersions": [{"name": world.model, "version": "1"}], "nextPageToken": ""}


def test_search_runs_is_a_mutation_as_in_mlflow(world: World) -> None:
    query = fill(
        "mutation testMutation { mlflowSearchRuns("
        'input: {experimentIds: ["@"], runViewType: ACTIVE_ONLY})'
        " { runs { info { runId } } } }",
        world.experiment_id,
    )
    runs = data(gql(world, query, operationName="testMutation"))["mlflowSearchRuns"]["runs"]
    assert runs == [{"info": {"runId": world.other_run_id}}, {"info": {"runId": world.run_id}}]


def test_search_datasets(world: World) -> None:
    query = fill(
        'mutation { mlflowSearchDatasets(input: {experimentIds: ["@"]})'
        " { datasetSummaries { experimentId name digest context } } }",
        world.experiment_id,
    )
    found = data(gql(world, query))["mlflowSearchDatasets"]["datasetSummaries"]
    assert sorted(found, key=lambda d: d["digest"]) == [
        {"experimentId": world.experiment_id, "name": "ds-1", "digest": "12345", "context": ""},
        {
            "experimentId": world.experiment_id,
            "name": "ds-2",
            "digest": "12346",
            "context": "training",
        },
    ]


def test_get_and_the_ajax_path_answer_too(world: World) -> None:
    query = fill(
        '{ mlflowGetExperiment(input: {experimentId: "@"}) { experiment { name } } }',
        world.experiment_id,
    )
    r = world.client.get("/graphql", params={"query": query}, headers=world.admin())
    assert data(r)["mlflowGetExperiment"]["experiment"]["name"] == "GraphqlTest"
    r = world.client.post("/ajax-api/graphql", json={"query": query}, headers=world.admin())
    assert data(r)["mlflowGetExperiment"]["experiment"]["name"] == "GraphqlTest"
    r = world.client.post(
        "/graphql",
        content=query.encode(),
        headers={**world.admin(), "content-type": "application/graphql"},
    )
    refused(r, 415, "UNSUPPORTED_MEDIA_TYPE")  # POSTs are JSON, as everywhere (the guard)


def test_what_does_not_exist_is_an_error_of_that_field(world: World) -> None:
    r = gql(
        world,
        'query { a: mlflowGetRun(input: {runId: "nope"}) { run { info { runId } } }'
        ' test(inputString: "still") { output } }',
    )
    body = ok(r)
    assert body["data"] == {"a": None, "test": {"output": "still"}}
    assert body["errors"] == ["Run with id=nope not found"]
    found = errors(gql(world, "query { mlflowGetRun { run { info { runId } } } }"))
    assert found == ["Missing value for required parameter 'run_id'."]
    found = errors(
        gql(
            world,
            'query { mlflowGetExperiment(input: {experimentId: "abc"}) { experiment { name } } }',
        )
    )
    assert "abc" in found[0]
    found = errors(
        gql(
            world,
            "query { mlflowGetMetricHistoryBulkInterval(input: {runIds: []}) { metrics { key } } }",
        )
    )
    assert "run_ids" in found[0] or "metric_key" in found[0], found


# ---- access ----


def test_an_anonymous_caller_is_refused(world: World) -> None:
    r = world.client.post("/graphql", json={"query": "{ test { output } }"})
    refused(r, 401, "UNAUTHENTICATED")
    r = world.client.get("/graphql", params={"query": "{ test { output } }"})
    refused(r, 401, "UNAUTHENTICATED")


HIDDEN_FIELDS = {
    "mlflowGetExperiment": (
        'mlflowGetExperiment(input: {experimentId: "@eid"}) { experiment { name } }'
    ),
    "mlflowGetRun": 'mlflowGetRun(input: {runUuid: "@rid"}) { run { info { runId } } }',
    "mlflowGetMetricHistoryBulkInterval": (
        'mlflowGetMetricHistoryBulkInterval(input: {runIds: ["@rid"], metricKey: "metric_0"})'
        " { metrics { value } }"
    ),
    "mlflowListArtifacts": 'mlflowListArtifacts(input: {runId: "@rid"}) { files { path } }',
}


def _hidden_query(world: World) -> str:
    names = {"eid": world.experiment_id, "rid": world.run_id}
    fields = " ".join(HIDDEN_FIELDS.values())
    return "query { " + fields.replace("@eid", names["eid"]).replace("@rid", names["rid"]) + " }"


def test_a_user_without_read_gets_errors_and_no_data(world: World) -> None:
    r = gql(world, _hidden_query(world), world.nobody())
    body = ok(r)
    assert body["data"] == dict.fromkeys(HIDDEN_FIELDS)
    assert len(body["errors"]) == len(HIDDEN_FIELDS)
    for message in body["errors"]:
        assert message.startswith("Permission denied: user 'nobody' needs READ on experiment"), (
            message
        )
        assert "(has NO_PERMISSIONS)" in message
    for marker in ("GraphqlTest", "test.txt", "metric_0"):
        assert marker not in r.text
    # the reader reads it all
    found = data(gql(world, _hidden_query(world), world.reader()))
    assert found["mlflowGetExperiment"]["experiment"]["name"] == "GraphqlTest"
    assert found["mlflowGetRun"]["run"]["info"]["runId"] == world.run_id
    assert len(found["mlflowGetMetricHistoryBulkInterval"]["metrics"]) == 10
    assert {"path": "test.txt"} in found["mlflowListArtifacts"]["files"]


def test_a_user_cannot_name_a_readable_run_and_a_hidden_one(world: World) -> None:
    """Each run a field names is checked (bulk interval takes a list), and a variable is
    checked as if written in place."""
    mine = ok(
        world.client.post(
            f"{API}/experiments/create", json={"name": "nobodys"}, headers=world.nobody()
        )
    )
    own = ok(
        world.client.post(
            f"{API}/runs/create",
            json={"experiment_id": mine["experiment_id"]},
            headers=world.nobody(),
        )
    )["run"]["info"]["run_id"]
    query = (
        "query q($ids: [String]) { mlflowGetMetricHistoryBulkInterval("
        'input: {runIds: $ids, metricKey: "metric_0"}) { metrics { value } } }'
    )
    found = errors(gql(world, query, world.nobody(), variables={"ids": [own, world.run_id]}))
    assert "needs READ" in found[0]
    assert data(gql(world, query, world.nobody(), variables={"ids": [own]})) == {
        "mlflowGetMetricHistoryBulkInterval": {"metrics": []}
    }


def test_searches_leave_out_what_the_caller_cannot_read(world: World) -> None:
    query = fill(
        'mutation { mlflowSearchRuns(input: {experimentIds: ["@"]}) { runs { info { runId } } }'
        ' mlflowSearchDatasets(input: {experimentIds: ["@"]}) { datasetSummaries { name } } }',
        world.experiment_id,
        world.experiment_id,
    )
    assert data(gql(world, query, world.nobody())) == {
        "mlflowSearchRuns": {"runs": []},
        "mlflowSearchDatasets": {"datasetSummaries": []},
    }
    versions = "query { mlflowSearchModelVersions(input: {}) { modelVersions { name } } }"
    assert data(gql(world, versions, world.nobody())) == {
        "mlflowSearchModelVersions": {"modelVersions": []}
    }
    assert data(gql(world, versions, world.reader())) == {
        "mlflowSearchModelVersions": {"modelVersions": [{"name": world.model}]}
    }
    found = data(gql(world, query, world.reader()))
    assert len(found["mlflowSearchRuns"]["runs"]) == 2
    # a run's model versions are those the caller may read
    admin = world.admin()
    ok(world.client.post(f"{API}/registered-models/create", json={"name": "Hidden"}, headers=admin))
    source = {"name": "Hidden", "source": f"runs:/{world.run_id}/m", "run_id": world.run_id}
    ok(world.client.post(f"{API}/model-versions/create", json=source, headers=admin))
    nested = 'query { mlflowGetRun(input: {runId: "RID"}) { run { modelVersions { name } } } }'
    nested = nested.replace("RID", world.run_id)
    versions = data(gql(world, nested, world.reader()))["mlflowGetRun"]["run"]["modelVersions"]
    assert versions == [{"name": world.model}]
    versions = data(gql(world, nested))["mlflowGetRun"]["run"]["modelVersions"]
    assert sorted(v["name"] for v in versions) == ["GraphqlModel", "Hidden"]


def test_a_read_only_token_may_query(world: World) -> None:
    reader_id = world.access.get_user(READER).id
    _, secret = world.access.create_token(reader_id, "gql", read_only=True)
    query = fill(
        'mutation { mlflowSearchRuns(input: {experimentIds: ["@"]}) { runs { info { runId } } } }',
        world.experiment_id,
    )
    found = data(gql(world, query, {"Authorization": f"Bearer {secret}"}))
    assert len(found["mlflowSearchRuns"]["runs"]) == 2


# ---- MLflow's limits, and hostile queries ----


def test_at_most_ten_root_fields(world: World) -> None:
    query = (
        "query testQuery {"
        + " ".join(f'k{i}: test(inputString: "a") {{ output }}' for i in range(12))
        + "}"
    )
    body = ok(gql(world, query))
    assert body == {
        "data": None,
        "errors": ["GraphQL queries should have at most 10 root fields, got 12 root fields."],
    }
    ten = (
        "query {" + " ".join(f'k{i}: test(inputString: "a") {{ output }}' for i in range(10)) + "}"
    )
    assert len(data(gql(world, ten))) == 10


def test_at_most_ten_aliases_in_a_selection(world: World) -> None:
    query = (
        'query testQuery {mlflowGetExperiment(input: {experimentId: "123"}) {'
        + " ".join(f"experiment_{i}: experiment {{ name }}" for i in range(12))
        + "}}"
    )
    assert "queries should have at most 10 aliases" in errors(gql(world, query))[0]


def test_at_most_depth_ten(world: World) -> None:
    inner = "name"
    for _ in range(12):
        inner = f"name {{ {inner} }}"
    query = (
        'query { mlflowGetExperiment(input: {experimentId: "123"}) { experiment { '
        + inner
        + " } } }"
    )
    assert errors(gql(world, query)) == ["Query exceeds maximum depth of 10"]
    # inline fragments and fragment spreads do not hide depth
    spread = "fragment F on MlflowExperiment { name }"
    deep = "{ " + "... on Query { " * 12 + "test { output }" + " }" * 12 + " }"
    assert ok(gql(world, deep))["errors"] is None  # inline fragments add no depth of fields
    nested = "a { " * 11 + "b" + " }" * 11
    query = f"{spread} fragment G on Query {{ {nested} }} query {{ ...G }}"
    assert errors(gql(world, query)) == ["Query exceeds maximum depth of 10"]


def test_at_most_a_thousand_selections_fragments_counted_where_spread(world: World) -> None:
    fields = " ".join(f"field_{i} {{ name }}" for i in range(1002))
    query = (
        'query { mlflowGetExperiment(input: {experimentId: "123"}) { experiment { '
        + fields
        + " } } }"
    )
    assert errors(gql(world, query)) == ["Query exceeds maximum total selections of 1000"]
    # a fragment fan-out: each level spreads the next one four times (4^8 fields written as
    # a few hundred characters) is stopped by the count, not executed
    levels = ["fragment L0 on Query { test { output } }"]
    for i in range(1, 9):
        levels.append(
            f"fragment L{i} on Query {{ " + " ".join(f"...L{i - 1}" for _ in range(4)) + " }"
        )
    query = " ".join(levels) + " query { ...L8 }"
    assert errors(gql(world, query)) == ["Query exceeds maximum total selections of 1000"]


def test_a_fragment_cycle_is_a_graphql_error(world: World) -> None:
    query = (
        "fragment A on Query { ...B test { output } } fragment B on Query { ...A } query { ...A }"
    )
    found = errors(gql(world, query))
    assert any("Cannot spread fragment 'A' within itself" in e for e in found), found


def test_unknown_fields_and_operations_are_graphql_errors(world: World) -> None:
    assert "Cannot query field 'nope'" in errors(gql(world, "query { nope }"))[0]
    found = errors(gql(world, "query a { test { output } } query b { test { output } }"))
    assert "operation name" in found[0].lower(), found
    found = errors(gql(world, "query a { test { output } }", operationName="zzz"))
    assert "zzz" in found[0]
    found = errors(
        gql(world, "query q($x: Int) { test(inputString: $x) { output } }", variables={"x": 1})
    )
    assert found


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    (
        "invalid JSON",
        {"content": b'{"no', "headers": {"content-type": "application/json"}},
        "Malformed JSON",
    ),
    ("a JSON list", {"json": [1, 2]}, "must be a JSON object"),
    ("no query", {"json": {"variables": {}}}, "'query'"),
    ("an empty query", {"json": {"query": "  "}}, "'query'"),
    ("a query that is not a string", {"json": {"query": ["{ test }"]}}, "'query'"),
    (
        "variables that are not an object",
        {"json": {"query": "{ test { output } }", "variables": [1]}},
        "'variables'",
    ),
    (
        "a non-string operationName",
        {"json": {"query": "{ test { output } }", "operationName": 3}},
        "'operationName'",
    ),
    ("a syntax error", {"json": {"query": "query { nope"}}, "Syntax Error"),
    ("too many tokens", {"json": {"query": "{ " + "a " * (MAX_TOKENS + 1) + "}"}}, "tokens"),
]


@pytest.mark.parametrize(("what", "args", "says"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_request_is_400(
    world: World, what: str, args: dict[str, Any], says: str
) -> None:
    headers = {**world.admin(), **args.pop("headers", {})}
    r = world.client.post("/graphql", headers=headers, **args)
    message = refused(r, 400, "INVALID_PARAMETER_VALUE")
    assert says in message, (what, message)


def test_a_body_over_the_limit_is_413_before_it_is_parsed(world: World) -> None:
    query = '{ test(inputString: "' + "x" * (MAX_BODY + 10) + '") { output } }'
    r = world.client.post("/graphql", json={"query": query}, headers=world.admin())
    refused(r, 413, "REQUEST_LIMIT_EXCEEDED")


def test_a_get_with_malformed_variables_is_400(world: World) -> None:
    r = world.client.get(
        "/graphql",
        params={"query": "{ test { output } }", "variables": "{no"},
        headers=world.admin(),
    )
    refused(r, 400, "INVALID_PARAMETER_VALUE")


def test_another_method_is_405(world: World) -> None:
    r = world.client.put("/graphql", json={"query": "{ test { output } }"}, headers=world.admin())
    refused(r, 405, "METHOD_NOT_ALLOWED")


def test_introspection_is_bounded_too(world: World) -> None:
    found = data(gql(world, "{ __schema { queryType { name } mutationType { name } } }"))
    assert found == {
        "__schema": {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}
    }
    deep = "{ __schema { types { fields { type " + "{ ofType " * 6 + "{ name }" + " }" * 10
    assert errors(gql(world, deep)) == ["Query exceeds maximum depth of 10"]


def test_no_hostile_query_is_a_500(world: World) -> None:
    run = "{ run { info { runId } } }"
    bulk = "mlflowGetMetricHistoryBulkInterval"
    versions = "{ modelVersions { name } }"
    runs = "{ runs { info { runId } } }"
    files = "{ files { path } }"
    rid = world.run_id
    hostile = [
        'query { mlflowGetRun(input: {runId: "' + "r" * 5000 + '"}) ' + run + " }",
        'query { mlflowGetRun(input: {runId: "\\u0000"}) ' + run + " }",
        'query { mlflowGetExperiment(input: {experimentId: "9'
        + "9" * 30
        + '"}) { experiment { name } } }',
        "query { "
        + bulk
        + '(input: {runIds: ["x"], metricKey: "m", maxResults: -5}) { metrics { key } } }',
        "query { " + bulk + '(input: {runIds: ["x"], metricKey: "m", maxResults: 2147483647})'
        " { metrics { key } } }",
        'query { mlflowSearchModelVersions(input: {filter: "name = ", maxResults: "abc"}) '
        + versions
        + " }",
        'query { mlflowSearchModelVersions(input: {orderBy: ["nope DESC"]}) ' + versions + " }",
        'mutation { mlflowSearchRuns(input: {experimentIds: ["x"], filter: "metrics.a >"}) '
        + runs
        + " }",
        "mutation { mlflowSearchRuns(input: {maxResults: 100000000}) " + runs + " }",
        'mutation { mlflowSearchRuns(input: {pageToken: "garbage"}) ' + runs + " }",
        'query { mlflowListArtifacts(input: {runId: "'
        + rid
        + '", path: "/etc/passwd"}) '
        + files
        + " }",
        'query { mlflowListArtifacts(input: {runId: "'
        + rid
        + '", path: "a/../../b"}) '
        + files
        + " }",
        '{ test(inputString: "\\ud800") { output } }',
    ]
    for query in hostile:
        r = gql(world, query)
        assert r.status_code < 500, (query[:100], r.text[:300])
        if r.status_code == 200:
            assert "Internal server error" not in r.text, (query[:100], r.text[:300])
        else:
            refused(r, r.status_code, r.json()["error_code"])


def test_non_finite_values_never_break_the_answer(world: World) -> None:
    ok(
        world.client.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": world.other_run_id,
                "metrics": [
                    {"key": "inf", "value": "Infinity", "timestamp": 1, "step": 0},
                    {"key": "ninf", "value": "-Infinity", "timestamp": 1, "step": 0},
                ],
            },
            headers=world.admin(),
        )
    )
    query = fill(
        'query { mlflowGetRun(input: {runId: "@"}) { run { data { metrics { key value } } } } }',
        world.other_run_id,
    )
    metrics = data(gql(world, query))["mlflowGetRun"]["run"]["data"]["metrics"]
    assert sorted(metrics, key=lambda m: m["key"]) == [
        {"key": "inf", "value": None},
        {"key": "ninf", "value": None},
    ]
    assert not any(isinstance(m["value"], float) and math.isinf(m["value"]) for m in metrics)


def test_what_names_no_operation_to_run_is_a_graphql_error(world: World) -> None:
    cases = [
        ("fragment F on Query { test { output } }", None, "Must provide an operation."),
        ("query a { test { output } }", "zzz", "Unknown operation named 'zzz'."),
        ("subscription s { test { output } }", None, None),
        ("query { test { output } }", "a", "Unknown operation named 'a'."),
    ]
    for query, name, says in cases:
        found = errors(gql(world, query, operationName=name))
        if says is not None:
            assert found == [says], (query, found)
