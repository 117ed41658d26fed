"""Cairn's experiments summary: run counts and last activity for the experiments page."""

from __future__ import annotations

from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
SUMMARY = "/api/v1/experiments/summary"


def _experiment(client: TestClient, name: str) -> str:
    eid: str = client.post(f"{API}/experiments/create", json={"name": name}).json()["experiment_id"]
    return eid


def _run(client: TestClient, eid: str, start: int) -> str:
    body = {"experiment_id": eid, "run_name": f"r{start}", "start_time": start}
    run_id: str = client.post(f"{API}/runs/create", json=body).json()["run"]["info"]["run_id"]
    return run_id


def test_counts_and_last_activity(any_client: TestClient) -> None:
    client = any_client
    busy, empty = _experiment(client, "busy"), _experiment(client, "empty")
    first, second, third = (_run(client, busy, t) for t in (1_000, 2_000, 3_000))
    finish = {"run_id": first, "status": "FINISHED", "end_time": 9_000_000_000_000}
    client.post(f"{API}/runs/update", json=finish).raise_for_status()
    client.post(f"{API}/runs/delete", json={"run_id": third}).raise_for_status()

    answer = client.get(SUMMARY, params={"experiment_id": [empty, busy, "999999"]})
    assert answer.status_code == 200
    rows = answer.json()["experiments"]
    assert [r["experiment_id"] for r in rows] == [empty, busy]  # asked order, unknown left out
    none, some = rows
    assert some["run_count"] == 2  # the deleted run does not count
    assert some["running_count"] == 1  # `second` is still RUNNING
    assert some["last_activity"] == 9_000_000_000_000  # the latest end time
    assert none["run_count"] == 0
    assert none["running_count"] == 0
    created = client.get(f"{API}/experiments/get", params={"experiment_id": empty}).json()
    assert none["last_activity"] == created["experiment"]["last_update_time"]
    assert second


def test_deleted_experiment_still_summarized(any_client: TestClient) -> None:
    client = any_client
    eid = _experiment(client, "gone")
    _run(client, eid, 5)
    client.post(f"{API}/experiments/delete", json={"experiment_id": eid}).raise_for_status()
    rows = client.get(SUMMARY, params={"experiment_id": eid}).json()["experiments"]
    assert len(rows) == 1
    assert rows[0]["run_count"] == 0  # its runs are deleted with it
    client.post(f"{API}/experiments/restore", json={"experiment_id": eid}).raise_for_status()
    rows = client.get(SUMMARY, params={"experiment_id": eid}).json()["experiments"]
    assert rows[0]["run_count"] == 1


def test_no_ids_is_an_empty_answer(client: TestClient) -> None:
    assert client.get(SUMMARY).json() == {"experiments": []}


def test_bad_id_names_the_field(client: TestClient) -> None:
    answer = client.get(SUMMARY, params={"experiment_id": "abc"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "experiment_id" in body["message"]


def test_too_many_ids(client: TestClient) -> None:
    answer = client.get(SUMMARY, params={"experiment_id": [str(i) for i in range(1001)]})
    assert answer.status_code == 400
    assert "experiment_id" in answer.json()["message"]
