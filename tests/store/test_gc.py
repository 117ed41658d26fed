"""cairn gc: deleted runs and experiments go for good, with their artifacts; nothing else."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cairn.artifacts.local import LocalArtifactRepository
from cairn.cli import main
from cairn.entities.errors import CairnError
from cairn.services.artifacts import ArtifactService
from cairn.services.gc import GarbageCollector, parse_age
from cairn.services.tracking import TrackingService
from cairn.store.db import Database


def _put(repo: LocalArtifactRepository, path: str, data: bytes = b"x") -> None:
    writer = repo.open_write(path)
    writer.write(data)
    writer.commit()


@pytest.fixture
def setup(database: Database, tmp_path: Path) -> tuple[TrackingService, GarbageCollector]:
    repo = LocalArtifactRepository(tmp_path / "artifacts")
    service = ArtifactService(repo)
    tracking = TrackingService(database, artifact_root=service.default_root)
    return tracking, GarbageCollector(database, service)


def test_gc_purges_deleted_runs_and_experiments_with_artifacts(
    setup: tuple[TrackingService, GarbageCollector],
) -> None:
    tracking, collector = setup
    repo = collector.artifacts.repo
    assert isinstance(repo, LocalArtifactRepository)
    keep_exp = tracking.create_experiment("keep")
    gone_exp = tracking.create_experiment("gone")
    kept = tracking.create_run(keep_exp, run_name="kept").info
    dropped = tracking.create_run(keep_exp, run_name="dropped").info
    in_gone = tracking.create_run(gone_exp, run_name="in-gone").info
    for info in (kept, dropped, in_gone):
        tracking.log_metric(info.run_id, "m", 1.0, 1, 0)
        _put(repo, f"{collector.artifacts.run_root(info)}/model/file.bin")
    tracking.delete_run(dropped.run_id)
    tracking.delete_experiment(gone_exp)
    time.sleep(0.01)

    assert collector.plan(timedelta(days=1)).runs == []  # nothing is old enough yet
    plan = collector.plan(timedelta(0))
    assert {r.run_uuid for r in plan.runs} == {dropped.run_id, in_gone.run_id}
    assert [e.name for e in plan.experiments] == ["gone"]
    steps: list[str] = []
    outcome = collector.run(plan, steps.append)
    assert outcome.runs_purged == 2
    assert outcome.experiments_purged == 1
    assert outcome.files_removed == 2
    assert len(steps) == 3

    with pytest.raises(CairnError):
        tracking.get_run(dropped.run_id)
    with pytest.raises(CairnError):
        tracking.get_experiment(gone_exp)
    assert tracking.get_run(kept.run_id).metrics[0].value == 1.0
    assert repo.stat(f"{collector.artifacts.run_root(kept)}/model/file.bin") is not None
    assert repo.stat(f"{keep_exp}/{dropped.run_id}") is None
    assert repo.stat(gone_exp) is None
    tracking.create_experiment("gone")  # the name is free again


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("2w", 1209600), ("0", 0)],
)
def test_parse_age(text: str, seconds: int) -> None:
    assert parse_age(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "abc", "10y", "-1d", "1 2d"])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(CairnError):
        parse_age(text)


def test_gc_command_dry_run_then_purge(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'gc.db'}"
    art = tmp_path / "art"
    db = Database(uri)
    from cairn.store.migrate import ensure_schema

    ensure_schema(db.write_engine)
    db.start()
    repo = LocalArtifactRepository(art)
    tracking = TrackingService(db, artifact_root=ArtifactService(repo).default_root)
    run = tracking.create_run("0", run_name="old").info
    _put(repo, f"0/{run.run_id}/artifacts/a.txt")
    tracking.delete_run(run.run_id)
    db.close()
    runner = CliRunner()
    args = [
        "gc",
        "--older-than",
        "0",
        "--backend-store-uri",
        uri,
        "--artifacts-destination",
        str(art),
    ]
    result = runner.invoke(main, [*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert run.run_id in result.output
    assert (art / "0" / run.run_id / "artifacts" / "a.txt").exists()
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "purged 1 run(s)" in result.output
    assert not (art / "0" / run.run_id).exists()
    bad = runner.invoke(main, ["gc", "--older-than", "soon", "--backend-store-uri", uri])
    assert bad.exit_code != 0
    assert "--older-than" in bad.output
