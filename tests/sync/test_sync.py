"""``cairn sync`` against a live ``cairn server`` on SQLite and on PostgreSQL.

The source is an offline store built through Cairn's own services; the destination is read
back over HTTP and compared with the source point by point and byte by byte.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cairn.sync import sync_store
from tests.compat.server import REPO, CairnServer
from tests.sync.builder import (
    T0,
    OfflineStore,
    assert_destination_matches,
    build_store,
    env_without_cairn,
)
from tests.sync.conftest import Requests

KILL_WAIT_S = 60.0


@pytest.fixture
def http(dest: CairnServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dest.url, timeout=60) as client:
        yield client


def _name() -> str:
    return f"offline-{uuid.uuid4().hex[:8]}"


def _ledger(root: Path) -> dict[str, object]:
    files = [p for p in (root / ".cairn-sync").glob("*.json") if not p.name.startswith(".")]
    assert len(files) == 1, files
    doc = json.loads(files[0].read_text())
    assert isinstance(doc, dict)
    return doc


def test_sync_delivers_everything_once_and_a_second_sync_sends_nothing(
    dest: CairnServer, http: httpx.Client, tmp_path: Path, requests_seen: Requests
) -> None:
    info = build_store(tmp_path / "store", runs=5, points=2000, experiment=_name())
    report = sync_store(str(info.root), dest.url, request_hook=requests_seen)
    assert report.failures == []
    assert report.runs_created == 5
    assert report.points == info.total_points == 10_000
    assert requests_seen.metric_points == info.total_points  # every point sent exactly once
    assert requests_seen.largest_batch == 1000
    assert report.artifacts == sum(len(r.files) for r in info.runs)
    assert report.bytes == info.total_bytes > 5 * 1024 * 1024
    assert report.inputs == 5
    assert_destination_matches(http, info)

    again = Requests()
    second = sync_store(str(info.root), dest.url, request_hook=again)
    assert again.writes == 0, again.by_path
    # a health check and one experiment lookup per source experiment, nothing else
    assert again.total <= 3, again.by_path
    assert (second.runs_created, second.runs_updated, second.runs_unchanged) == (0, 0, 5)
    assert (second.points, second.artifacts, second.bytes, second.params, second.tags) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert_destination_matches(http, info)


def test_a_running_run_gets_only_its_new_points(
    dest: CairnServer, http: httpx.Client, tmp_path: Path
) -> None:
    info = build_store(tmp_path / "store", runs=3, points=2000, experiment=_name())
    sync_store(str(info.root), dest.url)
    running = info.runs[-1]
    assert running.status == "RUNNING"

    # the run goes on offline: 500 more loss points, a new artifact, then it finishes
    store = OfflineStore(info.root)
    try:
        store.log_points(running.run_id, "loss", 1000, 500, seed=5)
        digest, size = store.write_file(running.run_id, "late/notes.txt", iter([b"done\n"]))
        store.tracking.update_run(running.run_id, status="FINISHED", end_time=T0 + 999)
    finally:
        store.close()
    running.points["loss"] += 500
    running.files["late/notes.txt"] = digest
    running.status, running.end_time = "FINISHED", T0 + 999

    seen = Requests()
    report = sync_store(str(info.root), dest.url, request_hook=seen)
    assert seen.metric_points == report.points == 500
    assert (report.runs_created, report.runs_updated, report.runs_unchanged) == (0, 1, 2)
    assert (report.artifacts, report.bytes) == (1, size)
    assert_destination_matches(http, info)

    # a point logged out of order (before the last one delivered) is not lost either
    store = OfflineStore(info.root)
    try:
        store.tracking.log_batch(running.run_id, metrics=[("loss", 0.5, T0 - 1, 3)])
    finally:
        store.close()
    running.points["loss"] += 1
    report = sync_store(str(info.root), dest.url)
    assert report.points >= 1
    assert_destination_matches(http, info)


def test_a_killed_sync_resumes_and_completes_without_duplicates(
    dest: CairnServer, http: httpx.Client, tmp_path: Path
) -> None:
    info = build_store(tmp_path / "store", runs=6, points=6000, experiment=_name())
    log = tmp_path / "sync.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cairn", "sync", str(info.root), "--to", dest.url],
            cwd=REPO,
            env=env_without_cairn(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + KILL_WAIT_S
        done = 0
        while done < 1:
            assert proc.poll() is None, (
                f"the sync ended before it could be killed:\n{log.read_text()}"
            )
            assert time.monotonic() < deadline, "no run was synced in time"
            time.sleep(0.005)
            try:
                runs = _ledger(info.root)["runs"]
            except (AssertionError, FileNotFoundError, ValueError):
                continue
            assert isinstance(runs, dict)
            done = sum(1 for r in runs.values() if r.get("complete"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    at_kill = _ledger(info.root)["runs"]
    assert isinstance(at_kill, dict)
    finished = [r for r in at_kill.values() if r.get("complete")]
    assert 1 <= len(finished) < len(info.runs), "the sync was not killed half-way"
    recorded = sum(m["count"] for r in at_kill.values() for m in r["metrics"].values())

    seen = Requests()
    report = sync_store(str(info.root), dest.url, request_hook=seen)
    assert report.failures == []
    # nothing confirmed before the kill is sent again, beyond the one batch in flight
    assert recorded + seen.metric_points <= info.total_points + 1000
    assert report.runs_created + report.runs_updated <= len(info.runs) - len(finished) + 1
    assert_destination_matches(http, info)

    again = Requests()
    sync_store(str(info.root), dest.url, request_hook=again)
    assert again.writes == 0, again.by_path


def test_a_lost_ledger_does_not_duplicate_runs(
    dest: CairnServer, http: httpx.Client, tmp_path: Path
) -> None:
    info = build_store(tmp_path / "store", runs=2, points=1000, experiment=_name())
    sync_store(str(info.root), dest.url)
    for ledger in (info.root / ".cairn-sync").glob("*.json"):
        ledger.unlink()
    report = sync_store(str(info.root), dest.url)
    assert report.runs_created == 0  # found again by their cairn.sync.source tag
    assert_destination_matches(http, info)
    seen = Requests()
    sync_store(str(info.root), dest.url, request_hook=seen)
    assert seen.writes == 0


def test_dry_run_reports_and_sends_nothing(
    dest: CairnServer, http: httpx.Client, tmp_path: Path
) -> None:
    info = build_store(tmp_path / "store", runs=2, points=1000, experiment=_name())
    seen = Requests()
    report = sync_store(str(info.root), dest.url, dry_run=True, request_hook=seen)
    assert seen.writes == 0
    assert (report.experiments_created, report.runs_created) == (1, 2)
    assert report.points == info.total_points
    assert report.bytes == info.total_bytes
    assert not (info.root / ".cairn-sync").exists()
    missing = http.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": info.experiment}
    )
    assert missing.status_code == 404


def test_the_cli_syncs_and_prints_a_summary(dest: CairnServer, tmp_path: Path) -> None:
    info = build_store(tmp_path / "store", runs=1, points=100, experiment=_name())
    command = [sys.executable, "-m", "cairn", "sync", str(info.root), "--to", dest.url]
    first = subprocess.run(
        command, cwd=REPO, env=env_without_cairn(), capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert "runs created 1, updated 0, unchanged 0" in first.stdout
    assert "metric points        100" in first.stdout
    second = subprocess.run(
        command, cwd=REPO, env=env_without_cairn(), capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    assert "runs created 0, updated 0, unchanged 1" in second.stdout
    assert "metric points        0" in second.stdout
    assert "0 file(s)" in second.stdout
