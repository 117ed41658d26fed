"""Non-blocking logging against real servers that stop, restart, fail and refuse values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import cairn
from cairn.client import fluent
from tests.client.servers import FlakyProxy, free_port, server_on
from tests.compat.server import CairnServer

WAIT_S = 60.0


def _lines(spool: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(spool.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def _steps(client: cairn.Client, run_id: str, key: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run_id, key)]


def test_backpressure_then_retry_until_the_server_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_sdk: Path
) -> None:
    """A tiny queue blocks the caller while the server is down (nothing is dropped), and
    the sender retries connection errors until the restarted server takes everything."""
    monkeypatch.setenv("CAIRN_LOGGING_QUEUE_SIZE", "10")
    monkeypatch.setenv("CAIRN_LOGGING_RETRY_TIMEOUT", "120")
    port = free_port()
    store = tmp_path / "srv"
    with server_on(port, store) as url:
        cairn.set_tracking_uri(url)
        run = cairn.start_run()
    # the server is down now: logging must block once 10 values wait, not drop them
    done = threading.Event()

    def train() -> None:
        for step in range(3000):
            cairn.log_metric("loss", 1 / (step + 1), step=step)
        done.set()

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    time.sleep(1.5)
    logger = fluent._loggers[run.client.tracking_uri]
    assert not done.is_set()
    assert logger.pending <= 20  # 10 in the queue + at most 10 taken by the sender
    with server_on(port, store):
        assert done.wait(WAIT_S)
        cairn.flush(timeout=WAIT_S)
        assert _steps(cairn.Client(), run.info.run_id, "loss") == list(range(3000))
        cairn.end_run()
    assert _lines(clean_sdk) == []


def test_retries_5xx(sqlite_server: CairnServer, experiment_name: str, clean_sdk: Path) -> None:
    with FlakyProxy(sqlite_server.url, failures=3) as proxy:
        cairn.set_tracking_uri(proxy.url)
        cairn.set_experiment(experiment_name)
        with cairn.start_run() as run:
            for step in range(1500):
                cairn.log_metric("m", step, step=step)
            cairn.flush()
        assert proxy.rejected == 3
        assert proxy.log_batch_calls >= 5  # the rejected ones were sent again
    assert _steps(cairn.Client(sqlite_server.url), run.info.run_id, "m") == list(range(1500))
    assert _lines(clean_sdk) == []


def test_rejected_values_are_reported_spooled_and_the_rest_delivered(
    sqlite_server: CairnServer, experiment_name: str, clean_sdk: Path
) -> None:
    cairn.set_tracking_uri(sqlite_server.url)
    cairn.set_experiment(experiment_name)
    client = cairn.Client()
    run = cairn.start_run()
    client.log_param(run.info.run_id, "alpha", "1")  # another writer logged it first
    cairn.log_param("alpha", "2")  # the server refuses the change (400)
    cairn.log_params({"beta": "ok"})
    for step in range(100):
        cairn.log_metric("m", step, step=step)
    with pytest.raises(cairn.DeliveryError, match="alpha") as info:
        cairn.flush()
    assert info.value.spool_path is not None
    assert info.value.spool_path.parent == clean_sdk
    cairn.end_run()  # the failure was reported once
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "1", "beta": "ok"}
    assert _steps(client, run.info.run_id, "m") == list(range(100))
    spooled = _lines(clean_sdk)
    assert len(spooled) == 1
    assert spooled[0]["body"] == {
        "run_id": run.info.run_id,
        "params": [{"key": "alpha", "value": "2"}],
    }
    assert "INVALID_PARAMETER_VALUE" in str(spooled[0]["error"])


def test_spool_on_dead_server_then_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_sdk: Path
) -> None:
    monkeypatch.setenv("CAIRN_LOGGING_RETRY_TIMEOUT", "1")
    monkeypatch.setenv("CAIRN_HTTP_MAX_RETRIES", "0")
    port = free_port()
    store = tmp_path / "srv"
    with server_on(port, store) as url:
        cairn.set_tracking_uri(url)
        run = cairn.start_run()
    for step in range(2500):
        cairn.log_metric("loss", step / 10, step=step)
    cairn.log_param("p", "v")
    cairn.set_tag("t", "x")
    with pytest.raises(cairn.DeliveryError) as info:
        cairn.flush(timeout=WAIT_S)
    assert "could not be delivered" in str(info.value)
    spooled = _lines(clean_sdk)
    metrics = [m for line in spooled for m in line["body"].get("metrics", [])]  # type: ignore[attr-defined]
    assert sorted(m["step"] for m in metrics) == list(range(2500))
    assert {line["tracking_uri"] for line in spooled} == {url}
    with pytest.raises(cairn.CairnConnectionError):
        cairn.end_run()

    with server_on(port, store):
        result = cairn.replay_spool()
        assert (result.delivered, result.failed) == (len(spooled), 0)
        assert list(clean_sdk.glob("*.jsonl")) == []
        client = cairn.Client(url)
        assert _steps(client, run.info.run_id, "loss") == list(range(2500))
        got = client.get_run(run.info.run_id)
        assert got.data.params == {"p": "v"}
        assert got.data.tags["t"] == "x"
        assert cairn.replay_spool().delivered == 0


def test_replay_keeps_what_still_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_sdk: Path
) -> None:
    monkeypatch.setenv("CAIRN_HTTP_MAX_RETRIES", "0")
    clean_sdk.mkdir()
    dead = f"http://127.0.0.1:{free_port()}"
    record = {"tracking_uri": dead, "run_id": "r", "body": {"run_id": "r"}, "error": "x"}
    (clean_sdk / "old.jsonl").write_text(json.dumps(record) + "\n")
    result = cairn.replay_spool()
    assert (result.delivered, result.failed) == (0, 1)
    assert "Cannot reach" in result.errors[0]
    assert _lines(clean_sdk) == [record]


SCRIPT = textwrap.dedent(
    """
    import sys
    import cairn

    cairn.set_experiment(sys.argv[1])
    run = cairn.start_run(run_name="no-end")
    cairn.log_param("p", 1)
    for step in range(5000):
        cairn.log_metric("loss", 1 / (step + 1), step=step)
    print(run.info.run_id, flush=True)
    # no end_run, no flush: the exit hook must deliver everything and end the run
    """
)


@pytest.mark.parametrize("target", ["server", "embedded"])
def test_flush_at_interpreter_exit(
    target: str, sqlite_server: CairnServer, experiment_name: str, tmp_path: Path
) -> None:
    uri = sqlite_server.url if target == "server" else str(tmp_path / "store")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env["CAIRN_TRACKING_URI"] = uri
    env["CAIRN_SPOOL_DIR"] = str(tmp_path / "spool")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, experiment_name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    client = cairn.Client(uri)
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"p": "1"}
    assert _steps(client, run_id, "loss") == list(range(5000))
    assert not (tmp_path / "spool").exists()


def test_import_cairn_is_light() -> None:
    code = textwrap.dedent(
        """
        import sys
        import cairn
        heavy = {"pandas", "numpy", "sqlalchemy", "fastapi", "sklearn", "httpx", "starlette"}
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        cairn.set_tracking_uri("http://127.0.0.1:9")
        assert callable(cairn.log_metric) and cairn.Client and cairn.CairnClientError
        heavy.discard("httpx")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "[]"], done.stdout


def test_system_metrics(
    tracking_uri: str, experiment_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_SYSTEM_METRICS_INTERVAL", "0.2")
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(experiment_name)
    with cairn.start_run(log_system_metrics=True) as run:
        time.sleep(1.5)
    monkeypatch.setenv("CAIRN_ENABLE_SYSTEM_METRICS", "true")
    with cairn.start_run() as by_env:
        time.sleep(0.7)
    with cairn.start_run(log_system_metrics=False) as off:
        time.sleep(0.5)
    client = cairn.Client()
    keys = set(client.get_run(run.info.run_id).data.metrics)
    expected = {
        "system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage",
        "system/disk_usage_megabytes",
        "system/disk_usage_percentage",
        "system/network_receive_bytes",
        "system/network_transmit_bytes",
    }
    assert expected <= keys
    gpu = {k for k in keys if k.startswith("system/gpu_")}
    assert bool(gpu) == bool(_nvidia_smi())
    steps = _steps(client, run.info.run_id, "system/cpu_utilization_percentage")
    assert len(steps) >= 3
    assert steps == list(range(len(steps)))
    memory = client.get_run(run.info.run_id).data.metrics["system/system_memory_usage_percentage"]
    assert 0 < memory <= 100
    assert expected <= set(client.get_run(by_env.info.run_id).data.metrics)
    assert client.get_run(off.info.run_id).data.metrics == {}


def _nvidia_smi() -> str | None:
    import shutil

    return shutil.which("nvidia-smi")


def test_missing_run_is_not_silently_lost(
    sqlite_server: CairnServer, experiment_name: str, clean_sdk: Path
) -> None:
    """Values for a run that was deleted meanwhile are refused (4xx): reported and spooled."""
    cairn.set_tracking_uri(sqlite_server.url)
    cairn.set_experiment(experiment_name)
    client = cairn.Client()
    run = cairn.start_run()
    client.delete_run(run.info.run_id)
    cairn.log_metrics({"a": 1.0, "b": 2.0})
    with pytest.raises(cairn.DeliveryError):
        cairn.flush()
    assert sum(len(line["body"].get("metrics", [])) for line in _lines(clean_sdk)) == 2  # type: ignore[attr-defined]
    fluent._run_stack.clear()


def test_a_single_value_is_sent_without_flush(
    sqlite_server: CairnServer, experiment_name: str
) -> None:
    """The sender wakes for the first queued value; it does not wait for a full batch."""
    cairn.set_tracking_uri(sqlite_server.url)
    cairn.set_experiment(experiment_name)
    client = cairn.Client()
    with cairn.start_run() as run:
        cairn.log_metric("epoch_loss", 0.5, step=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.get_run(run.info.run_id).data.metrics:
                break
            time.sleep(0.05)
        assert client.get_run(run.info.run_id).data.metrics == {"epoch_loss": 0.5}
