"""Tracking URI rules, batch splitting and the exception hierarchy (no server needed)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import cairn
from cairn.client.batching import METRIC, PARAM, TAG, Item, batches
from cairn.client.config import resolve_target


def test_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert cairn.get_tracking_uri() == str(tmp_path / "cairn-data")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")
    assert cairn.get_tracking_uri() == "http://127.0.0.1:5001"
    monkeypatch.setenv("CAIRN_TRACKING_URI", "http://127.0.0.1:5002/")
    assert cairn.get_tracking_uri() == "http://127.0.0.1:5002"
    cairn.set_tracking_uri("sqlite:///x/y.db")
    assert cairn.get_tracking_uri() == f"sqlite:///{tmp_path / 'x' / 'y.db'}"
    monkeypatch.delenv("CAIRN_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    assert resolve_target(None).uri == str(tmp_path / "home")


def test_uri_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for raw in ("data", "./data", f"file:{tmp_path / 'data'}", f"file://{tmp_path / 'data'}"):
        target = resolve_target(raw)
        assert target.embedded
        assert target.backend_store_uri == f"sqlite:///{tmp_path / 'data' / 'cairn.db'}"
        assert target.artifacts_destination == str(tmp_path / "data" / "artifacts")
    db = resolve_target("sqlite:///store/my.db")
    assert db.backend_store_uri == f"sqlite:///{tmp_path / 'store' / 'my.db'}"
    assert db.artifacts_destination == str(tmp_path / "store" / "artifacts")
    remote = resolve_target("https://user@example.org/prefix/")
    assert (remote.embedded, remote.url) == (False, "https://user@example.org/prefix")
    (tmp_path / "afile").write_text("x")
    for bad, message in [
        ("afile", "is a file"),
        ("s3://bucket/x", "Unsupported tracking URI"),
        ("sqlite://relative.db", "needs a file path"),
        ("http://", "has no host"),
        ("  ", "empty"),
    ]:
        with pytest.raises(cairn.CairnConfigError, match=message):
            resolve_target(bad)


def test_batches_respect_mlflow_limits() -> None:
    items: list[Item] = [("r1", METRIC, f"m{i % 7}", float(i), i, i) for i in range(2500)]
    items += [("r1", PARAM, f"p{i}", str(i), 0, 0) for i in range(250)]
    items += [("r1", PARAM, "p0", "0", 0, 0)]  # the same param twice is sent once
    items += [("r1", TAG, f"t{i % 150}", str(i), 0, 0) for i in range(300)]
    items += [("r2", METRIC, "x", math.nan, 5, 0), ("r2", METRIC, "y", -math.inf, 5, 0)]
    out = batches(items)
    for _run, body in out:
        n_m, n_p, n_t = (len(body.get(k, [])) for k in ("metrics", "params", "tags"))
        assert n_m <= 1000
        assert n_p <= 100
        assert n_t <= 100
        assert n_m + n_p + n_t <= 1000
    r1 = [body for run, body in out if run == "r1"]
    metrics = [m for body in r1 for m in body.get("metrics", [])]
    assert [m["step"] for m in metrics] == list(range(2500))
    assert len([p for body in r1 for p in body.get("params", [])]) == 250
    tags = {t["key"]: t["value"] for body in r1 for t in body.get("tags", [])}
    assert len(tags) == 150
    assert tags["t0"] == "150"  # the last value of a tag wins
    (r2,) = [body for run, body in out if run == "r2"]
    assert [m["value"] for m in r2["metrics"]] == ["NaN", "-Infinity"]


def test_exception_hierarchy() -> None:
    for name in (
        "CairnConfigError",
        "CairnUsageError",
        "MissingDependencyError",
        "CairnConnectionError",
        "CairnRestError",
        "DeliveryError",
    ):
        assert issubclass(getattr(cairn, name), cairn.CairnClientError)
    assert cairn.CairnError is cairn.CairnClientError  # the former name still works
    error = cairn.CairnRestError(404, "RESOURCE_DOES_NOT_EXIST", "no run", "runs/get")
    assert (error.status, error.error_code, error.message) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "no run",
    )
    assert error.is_client_error
    assert not cairn.CairnRestError(429, "X", "slow").is_client_error
    assert issubclass(cairn.MissingDependencyError, ImportError)
    assert set(cairn.__all__) <= set(dir(cairn))
    for name in cairn.__all__:
        assert getattr(cairn, name) is not None
