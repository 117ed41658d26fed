"""`cairn db backup` and `cairn db restore` on real SQLite stores filled through the real app:
a backup taken while a thread keeps writing is a consistent snapshot that passes
integrity_check, and restored elsewhere it reads back the same runs, metrics and artifact
bytes; the refusals (non-empty destination, a changed copy, an existing or open target,
PostgreSQL and MySQL) change nothing and say why."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from cairn.cli import main
from cairn.server.app import create_app
from cairn.server.settings import Settings

API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
PAYLOAD = bytes(range(256)) * 300


def cairn(*args: str) -> Result:
    return CliRunner().invoke(main, ["db", *args], catch_exceptions=False)


def store_args(home: Path) -> list[str]:
    return [
        "--backend-store-uri",
        f"sqlite:///{home / 'cairn.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
    ]


def app_on(home: Path) -> TestClient:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        backend_store_uri=f"sqlite:///{home / 'cairn.db'}",
        artifacts_destination=str(home / "artifacts"),
        run_jobs=False,
    )
    return TestClient(create_app(settings))


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fill(client: TestClient) -> dict[str, str]:
    """Two experiments, three runs with params and metric histories, one artifact."""
    runs: dict[str, str] = {}
    for exp_name in ("backup-a", "backup-b"):
        exp = ok(client.post(f"{API}/experiments/create", json={"name": exp_name}))
        for index in range(1 if exp_name == "backup-b" else 2):
            run = ok(
                client.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]})
            )
            run_id = run["run"]["info"]["run_id"]
            runs[f"{exp_name}/{index}"] = run_id
            metrics = [
                {"key": "loss", "value": 1.0 / (step + 1), "timestamp": 1000 + step, "step": step}
                for step in range(50)
            ]
            body = {"run_id": run_id, "metrics": metrics, "params": [{"key": "i", "value": "1"}]}
            ok(client.post(f"{API}/runs/log-batch", json=body))
    found = client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "backup-a"})
    exp_id = ok(found)["experiment"]["experiment_id"]
    first = runs["backup-a/0"]
    put = client.put(f"{ART}/{exp_id}/{first}/artifacts/model/weights.bin", content=PAYLOAD)
    assert put.status_code == 200, put.text
    return runs


def snapshot(client: TestClient, runs: dict[str, str]) -> dict[str, Any]:
    """What the app answers about the filled runs: run data, metric histories, the artifact."""
    seen: dict[str, Any] = {}
    for name, run_id in runs.items():
        run = ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
        history = ok(client.get(f"{API}/metrics/get-history",
                                params={"run_id": run_id, "metric_key": "loss"}))  # fmt: skip
        seen[name] = (run["data"], run["info"]["experiment_id"], history["metrics"])
    exp_id = seen["backup-a/0"][1]
    got = client.get(f"{ART}/{exp_id}/{runs['backup-a/0']}/artifacts/model/weights.bin")
    assert got.status_code == 200
    seen["artifact"] = hashlib.sha256(got.content).hexdigest()
    return seen


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """A store filled through the app (closed again), its run ids and what it answers."""
    home = tmp_path / "source"
    with app_on(home) as client:
        runs = fill(client)
        seen = snapshot(client, runs)
    return home, runs, seen


def test_backup_while_writing_restores_the_same_data(tmp_path: Path) -> None:
    home = tmp_path / "source"
    written: list[int] = []
    started = threading.Event()
    stop = threading.Event()
    with app_on(home) as client:
        runs = fill(client)
        before = snapshot(client, runs)
        exp = ok(client.post(f"{API}/experiments/create", json={"name": "busy"}))
        busy = ok(client.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]}))
        busy_id = busy["run"]["info"]["run_id"]

        def write() -> None:
            step = 0
            while not stop.is_set():
                body = {"run_id": busy_id, "key": "tick", "value": float(step),
                        "timestamp": step, "step": step}  # fmt: skip
                ok(client.post(f"{API}/runs/log-metric", json=body))
                written.append(step)
                step += 1
                if step == 20:
                    started.set()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert started.wait(60)
            done = cairn("backup", str(tmp_path / "backup"), *store_args(home))
        finally:
            stop.set()
            writer.join(60)
        assert done.exit_code == 0, done.output

    backup = tmp_path / "backup"
    manifest = json.loads((backup / "manifest.json").read_text())
    copy = backup / manifest["database"]["file"]
    assert manifest["database"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert manifest["database"]["bytes"] == copy.stat().st_size
    assert manifest["schema_revision"]
    assert manifest["artifacts"] == {"source": str(home / "artifacts"), "included": True,
                                     "files": 1, "bytes": len(PAYLOAD)}  # fmt: skip
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert not [p.name for p in backup.iterdir() if p.name.startswith(".")]

    target = tmp_path / "restored"
    done = cairn("restore", str(backup), *store_args(target))
    assert done.exit_code == 0, done.output
    with app_on(target) as client:
        assert snapshot(client, runs) == before
        query = {"run_id": busy_id, "metric_key": "tick"}
        ticks = ok(client.get(f"{API}/metrics/get-history", params=query))["metrics"]
    steps = sorted(m["step"] for m in ticks)
    assert len(steps) >= 20  # what was written before the backup began
    assert steps == list(range(len(steps)))  # a consistent prefix: no gaps, nothing torn
    assert len(steps) <= len(written)


def test_a_non_empty_destination_is_refused(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, _, _ = filled
    dest = tmp_path / "occupied"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    done = cairn("backup", str(dest), *store_args(home))
    assert done.exit_code == 1
    assert f"{dest} is not empty" in done.output
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]


def test_a_changed_database_copy_is_refused(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, _, _ = filled
    backup = tmp_path / "backup"
    assert cairn("backup", str(backup), *store_args(home)).exit_code == 0
    with (backup / "cairn.db").open("r+b") as f:
        f.seek(5000)
        byte = f.read(1)
        f.seek(5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    target = tmp_path / "restored"
    done = cairn("restore", str(backup), *store_args(target))
    assert done.exit_code == 1
    assert "does not match the SHA-256" in done.output
    assert not target.exists()


def test_a_newer_schema_is_refused(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, _, _ = filled
    backup = tmp_path / "backup"
    assert cairn("backup", str(backup), *store_args(home)).exit_code == 0
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["schema_revision"] = "9999_from_the_future"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    done = cairn("restore", str(backup), *store_args(tmp_path / "restored"))
    assert done.exit_code == 1
    assert "newer than this Cairn knows" in done.output
    assert not (tmp_path / "restored").exists()


def test_an_existing_target_needs_force_and_is_kept_aside(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, runs, seen = filled
    backup = tmp_path / "backup"
    assert cairn("backup", str(backup), *store_args(home)).exit_code == 0

    other = tmp_path / "other"
    with app_on(other) as client:
        ok(client.post(f"{API}/experiments/create", json={"name": "only-here"}))
    old_db = (other / "cairn.db").read_bytes()

    done = cairn("restore", str(backup), *store_args(other))
    assert done.exit_code == 1
    assert "already exists: pass --force" in done.output
    assert (other / "cairn.db").read_bytes() == old_db

    done = cairn("restore", str(backup), *store_args(other), "--force")
    assert done.exit_code == 0, done.output
    kept = [p for p in other.iterdir() if p.name.startswith("cairn.db.before-restore-")]
    assert len(kept) == 1
    assert kept[0].read_bytes() == old_db
    with app_on(other) as client:
        assert snapshot(client, runs) == seen
        missing = client.get(f"{API}/experiments/get-by-name",
                             params={"experiment_name": "only-here"})  # fmt: skip
        assert missing.status_code == 404


def test_a_store_in_use_is_not_replaced(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, _, _ = filled
    backup = tmp_path / "backup"
    assert cairn("backup", str(backup), *store_args(home)).exit_code == 0
    with app_on(home) as client:
        done = cairn("restore", str(backup), *store_args(home), "--force")
        assert done.exit_code == 1
        assert "is in use" in done.output
        assert ok(client.get(f"{API}/experiments/get-by-name",
                             params={"experiment_name": "backup-a"}))  # fmt: skip
    assert not [p for p in home.iterdir() if "before-restore" in p.name]


@pytest.mark.parametrize(
    ("uri", "tool"),
    [
        ("postgresql://cairn:hunter2-secret@db.example:5432/cairn", "pg_dump -Fc"),
        ("mysql+pymysql://cairn:hunter2-secret@db.example:3306/cairn", "mysqldump"),
    ],
)
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_server_databases_are_refused_naming_their_tool(
    uri: str, tool: str, command: str, tmp_path: Path
) -> None:
    where = tmp_path / "somewhere"
    if command == "restore":
        where.mkdir()
    done = cairn(command, str(where), "--backend-store-uri", uri)
    assert done.exit_code == 2
    assert tool in done.output
    assert "docs/server.md" in done.output
    assert "hunter2" not in done.output
    assert command == "restore" or not where.exists()


def test_the_manifest_holds_no_password_and_notes_remote_artifacts(
    filled: tuple[Path, dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    home, _, _ = filled
    backup = tmp_path / "backup"
    remote = "s3://AKIAEXAMPLE:hunter2-secret@bucket/prefix"
    done = cairn("backup", str(backup), "--backend-store-uri", f"sqlite:///{home / 'cairn.db'}",
                 "--artifacts-destination", remote)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "not a local folder" in done.output
    text = (backup / "manifest.json").read_text()
    assert "hunter2" not in text
    manifest = json.loads(text)
    assert manifest["artifacts"]["included"] is False
    assert manifest["artifacts"]["source"] == "s3://AKIAEXAMPLE:***@bucket/prefix"
    assert not (backup / "artifacts").exists()


@pytest.fixture(autouse=True)
def no_store_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CAIRN_BACKEND_STORE_URI", "CAIRN_ARTIFACTS_DESTINATION"):
        monkeypatch.delenv(name, raising=False)


def test_an_older_backup_is_upgraded_on_restore(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from cairn.store.migrate import current_revision, head_revision, upgrade

    old = tmp_path / "old"
    old.mkdir()
    engine = create_engine(f"sqlite:///{old / 'cairn.db'}")
    try:
        upgrade(engine, "0014")
    finally:
        engine.dispose()
    backup = tmp_path / "backup"
    assert cairn("backup", str(backup), *store_args(old)).exit_code == 0
    assert json.loads((backup / "manifest.json").read_text())["schema_revision"] == "0014"
    target = tmp_path / "restored"
    done = cairn("restore", str(backup), *store_args(target))
    assert done.exit_code == 0, done.output
    engine = create_engine(f"sqlite:///{target / 'cairn.db'}")
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_missing_database_or_a_folder_without_manifest_is_refused(tmp_path: Path) -> None:
    done = cairn("backup", str(tmp_path / "backup"), *store_args(tmp_path / "nothing"))
    assert done.exit_code == 1
    assert "there is no database at" in done.output
    assert not (tmp_path / "backup").exists()
    done = cairn("restore", str(tmp_path), *store_args(tmp_path / "restored"))
    assert done.exit_code == 1
    assert "is not a Cairn backup: it has no manifest.json" in done.output
