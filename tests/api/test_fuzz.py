"""The hostile-input fuzzer, bounded (``make fuzz`` runs it at length): a live server on
SQLite and on PostgreSQL gets the hand-written hostile list and schemathesis's cases from
its /openapi.json; no request is answered 5xx or left unanswered, the server still answers,
the data logged before is read back unchanged, and the log holds no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.api import fuzz

SECONDS = 30
"""schemathesis time per backend in ``make test`` (plus the hand-written list, ~10 s)."""
EXAMPLES = 3


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_hostile_requests_get_no_5xx_and_change_nothing(backend: str, tmp_path: Path) -> None:
    out = fuzz.fuzz_backend(backend, SECONDS, EXAMPLES)
    assert out.cases > 200, out.cases  # the list alone is ~250 requests
    assert not out.server_errors, "\n".join(out.server_errors)


def test_the_judge_sees_changed_data(client: TestClient) -> None:
    """The read-back can fail: a point logged to the seeded run after seeding is reported."""
    seeded = fuzz.seed(client)
    assert fuzz.intact(client, seeded) == []
    extra = {"run_id": seeded.run_id, "key": "loss", "value": 9.0, "timestamp": 1, "step": 1}
    assert client.post(f"{fuzz.API}/runs/log-metric", json=extra).status_code == 200
    assert fuzz.intact(client, seeded) == ["the seeded metric history changed"]
