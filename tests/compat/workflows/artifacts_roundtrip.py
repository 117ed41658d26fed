"""Proxied artifacts: every logging helper, listings, downloads, loads, two runs kept apart.

Run with the stock mlflow client (2.22 or 3.x); MLFLOW_TRACKING_URI must point at a server
that proxies artifacts (runs get ``mlflow-artifacts:/`` URIs). Every byte that goes up is
compared (sha256) with what comes back down. The last line printed is
``MANIFEST {json}``: the storage path (the artifact URI minus ``mlflow-artifacts:/``) and
sha256 of every file the server must hold when this script ends, so a caller can check the
artifact store itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import mlflow.artifacts
import numpy as np
import yaml
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import (
    get_artifact_repository,
)
from PIL import Image

PROXY = "mlflow-artifacts:/"
CHUNK = 1 << 20
MAX_TREE_FILES = 10_000
TEXT = "héllo artifacts ✓\nsecond line\n"
DATA = {"lr": 0.01, "layers": [64, 32], "name": "cairn", "nested": {"on": True, "n": None}}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for _ in range(1 + path.stat().st_size // CHUNK):
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    """``{posix path relative to folder: sha256}`` of every file below ``folder``."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        assert len(out) < MAX_TREE_FILES, f"runaway tree under {folder}"
        assert not path.is_symlink(), f"unexpected symlink {path}"
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = sha256_file(path)
    return out


def storage_prefix(run: mlflow.entities.Run, exp_id: str) -> str:
    uri = run.info.artifact_uri
    expected = f"{PROXY}{exp_id}/{run.info.run_id}/artifacts"
    assert uri == expected, f"artifact_uri {uri!r}, expected {expected!r}"
    return uri[len(PROXY) :]


def make_sources(base: Path) -> dict[str, Path]:
    """The local files to upload; returns the important ones by role."""
    base.mkdir(parents=True)
    single = base / "single.txt"
    single.write_text("hello artifacts\n" * 100, encoding="utf-8")
    random_bin = base / "random.bin"
    random_bin.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    other_bin = base / "other" / "random.bin"  # same name, other bytes: run B
    other_bin.parent.mkdir()
    other_bin.write_bytes(os.urandom(200_003))
    tree = base / "tree"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n", encoding="utf-8")
    (tree / "b.json").write_text(json.dumps({"b": [1, 2, 3]}), encoding="utf-8")
    (tree / "empty.txt").write_bytes(b"")
    (tree / "nested" / "c.csv").write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    (tree / "nested" / "name with spaces.txt").write_text("spaces\n", encoding="utf-8")
    (tree / "nested" / "v1+v2 données ✓.txt").write_text("unicode\n", encoding="utf-8")
    (tree / "nested" / "deeper" / "d.bin").write_bytes(os.urandom(100_001))
    flat = base / "flat"
    flat.mkdir()
    (flat / "top1.txt").write_text("top one\n", encoding="utf-8")
    (flat / "top2.log").write_text("top two\n", encoding="utf-8")
    return {"single": single, "random": random_bin, "other": other_bin, "tree": tree, "flat": flat}


def fresh(folder: Path) -> str:
    """A new empty download destination (2.22 insists that it exists)."""
    folder.mkdir(parents=True)
    return str(folder)


def image_array() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(24, 40, 3), dtype=np.uint8)


def pil_image() -> Image.Image:
    rng = np.random.default_rng(11)
    return Image.fromarray(rng.integers(0, 256, size=(16, 20, 3), dtype=np.uint8), mode="RGB")


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG", (path, img.format)
        return np.asarray(img.convert("RGB"))


def log_run_a(src: dict[str, Path]) -> None:
    mlflow.log_artifact(str(src["single"]))
    mlflow.log_artifact(str(src["single"]), artifact_path="sub/dir")
    mlflow.log_artifact(str(src["random"]), artifact_path="bin")
    mlflow.log_artifacts(str(src["tree"]), artifact_path="tree")
    mlflow.log_artifacts(str(src["flat"]))
    mlflow.log_text(TEXT, "texts/note.txt")
    mlflow.log_dict(DATA, "cfg/config.json")
    mlflow.log_dict(DATA, "cfg/config.yaml")
    fig = plt.figure(figsize=(4, 3), dpi=50)
    fig.gca().plot([0, 1, 2], [2, 0, 1])
    mlflow.log_figure(fig, "plots/figure.png")
    plt.close(fig)
    mlflow.log_image(image_array(), artifact_file="images/array.png")
    mlflow.log_image(pil_image(), artifact_file="images/pil.png")
    mlflow.log_text("first version", "overwrite.txt")
    mlflow.log_text("second version, longer", "overwrite.txt")


def expected_run_a(src: dict[str, Path]) -> dict[str, str | None]:
    """Paths under run A's root and their sha256 (None: checked by content instead)."""
    single = sha256_file(src["single"])
    out: dict[str, str | None] = {
        "single.txt": single,
        "sub/dir/single.txt": single,
        "bin/random.bin": sha256_file(src["random"]),
        "top1.txt": sha256_file(src["flat"] / "top1.txt"),
        "top2.log": sha256_file(src["flat"] / "top2.log"),
        "texts/note.txt": hashlib.sha256(TEXT.encode("utf-8")).hexdigest(),
        "overwrite.txt": hashlib.sha256(b"second version, longer").hexdigest(),
        "cfg/config.json": None,
        "cfg/config.yaml": None,
        "plots/figure.png": None,
        "images/array.png": None,
        "images/pil.png": None,
    }
    for rel, digest in tree_digest(src["tree"]).items():
        out[f"tree/{rel}"] = digest
    return out


def check_listings(client: MlflowClient, run_id: str, src: dict[str, Path]) -> None:
    root = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)}
    size = {name: (src["flat"] / name).stat().st_size for name in ("top1.txt", "top2.log")}
    expected_root = {
        ("bin", True, None),
        ("cfg", True, None),
        ("images", True, None),
        ("plots", True, None),
        ("sub", True, None),
        ("texts", True, None),
        ("tree", True, None),
        ("single.txt", False, src["single"].stat().st_size),
        ("top1.txt", False, size["top1.txt"]),
        ("top2.log", False, size["top2.log"]),
        ("overwrite.txt", False, len(b"second version, longer")),
    }
    assert root == expected_root, f"root listing {sorted(root, key=str)}"
    nested = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "tree/nested")}
    tree = src["tree"] / "nested"
    expected_nested = {("tree/nested/deeper", True, None)} | {
        (f"tree/nested/{p.name}", False, p.stat().st_size) for p in tree.iterdir() if p.is_file()
    }
    assert nested == expected_nested, f"tree/nested listing {sorted(nested, key=str)}"
    deeper = [
        (f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "tree/nested/deeper")
    ]
    assert deeper == [("tree/nested/deeper/d.bin", False, 100_001)], deeper
    top = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "tree")}
    # the stock server omits file_size 0 (proto3 default), so the client shows None
    empty = {("tree/empty.txt", False, 0), ("tree/empty.txt", False, None)} & top
    assert len(empty) == 1, f"an empty file lists with size 0 or none: {top}"
    assert ("tree/nested", True, None) in top, top
    bins = [(f.path, f.file_size) for f in client.list_artifacts(run_id, "bin")]
    assert bins == [("bin/random.bin", src["random"].stat().st_size)], bins
    assert client.list_artifacts(run_id, "single.txt") == [], "listing a file gives []"
    assert client.list_artifacts(run_id, "no/such/dir") == [], "listing a missing path gives []"


def check_downloads(
    client: MlflowClient, run: mlflow.entities.Run, src: dict[str, Path], work: Path
) -> dict[str, str]:
    run_id = run.info.run_id
    # a single file, three ways
    got = Path(client.download_artifacts(run_id, "single.txt", fresh(work / "d1")))
    assert got.name == "single.txt" and sha256_file(got) == sha256_file(src["single"])
    got = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="bin/random.bin", dst_path=fresh(work / "d2")
        )
    )
    assert sha256_file(got) == sha256_file(src["random"]), "random bytes differ after download"
    got = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{run.info.artifact_uri}/sub/dir/single.txt", dst_path=fresh(work / "d3")
        )
    )
    assert sha256_file(got) == sha256_file(src["single"])
    # a folder, by run id and by runs:/ URI
    got = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="tree", dst_path=fresh(work / "d4")
        )
    )
    assert tree_digest(got) == tree_digest(src["tree"]), "downloaded folder differs"
    got = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{run_id}/tree/nested", dst_path=fresh(work / "d5")
        )
    )
    assert tree_digest(got) == tree_digest(src["tree"] / "nested"), "runs:/ folder differs"
    # the whole run
    whole = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=fresh(work / "d6")))
    digests = tree_digest(whole)
    expected = expected_run_a(src)
    assert set(digests) == set(expected), (
        f"whole-run download: missing {sorted(set(expected) - set(digests))}, "
        f"unexpected {sorted(set(digests) - set(expected))}"
    )
    for rel, digest in expected.items():
        assert digest is None or digests[rel] == digest, f"{rel}: bytes differ after download"
    # files whose exact bytes the client library chose: check their content
    assert json.loads((whole / "cfg/config.json").read_text(encoding="utf-8")) == DATA
    assert yaml.safe_load((whole / "cfg/config.yaml").read_text(encoding="utf-8")) == DATA
    assert np.array_equal(pixels(whole / "images/array.png"), image_array()), "array image"
    assert np.array_equal(pixels(whole / "images/pil.png"), np.asarray(pil_image())), "PIL"
    with Image.open(whole / "plots/figure.png") as fig:
        assert fig.format == "PNG" and fig.size == (200, 150), (fig.format, fig.size)
    # a missing file is an error and leaves nothing behind
    missing_dst = work / "d7"
    try:
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="no/such/file.txt", dst_path=fresh(missing_dst)
        )
    except Exception as exc:  # the type and message differ between client versions
        print(f"missing artifact: {type(exc).__name__}: {str(exc)[:200]}")
    else:
        raise AssertionError("downloading a missing artifact must fail")
    assert not [p for p in missing_dst.rglob("*") if p.is_file()], "no file for a missing one"
    return digests


def check_loads(run: mlflow.entities.Run) -> None:
    run_id = run.info.run_id
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/texts/note.txt") == TEXT
    uri = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{uri}/overwrite.txt") == "second version, longer"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/cfg/config.json") == DATA
    assert mlflow.artifacts.load_dict(f"{uri}/cfg/config.json") == DATA
    loaded = yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/cfg/config.yaml"))
    assert loaded == DATA, loaded


def check_delete(client: MlflowClient, run: mlflow.entities.Run) -> None:
    """Deletes through the proxied DELETE route (what ``mlflow gc`` and the UI use)."""
    run_id = run.info.run_id
    mlflow.log_text("one", "doomed/one.txt", run_id=run_id)
    mlflow.log_text("two", "doomed/inner/two.txt", run_id=run_id)
    repo = get_artifact_repository(run.info.artifact_uri)
    repo.delete_artifacts("doomed/one.txt")
    left = [f.path for f in client.list_artifacts(run_id, "doomed")]
    assert left == ["doomed/inner"], left
    repo.delete_artifacts("doomed")
    assert not client.list_artifacts(run_id, "doomed"), "a deleted folder lists empty"
    names = {f.path for f in client.list_artifacts(run_id)}
    assert "doomed" not in names, names


def check_run_b(
    client: MlflowClient, run_a: str, run_b: mlflow.entities.Run, src: dict[str, Path], work: Path
) -> dict[str, str]:
    run_id = run_b.info.run_id
    listing = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert listing == {("single.txt", False), ("bin", True)}, listing
    got_b = Path(client.download_artifacts(run_id, "single.txt", fresh(work / "b1")))
    assert got_b.read_text(encoding="utf-8") == "run B's own single.txt"
    got_a = Path(client.download_artifacts(run_a, "single.txt", fresh(work / "b2")))
    assert sha256_file(got_a) == sha256_file(src["single"]), "run A's file was overwritten"
    got_b = Path(client.download_artifacts(run_id, "bin/random.bin", fresh(work / "b3")))
    assert sha256_file(got_b) == sha256_file(src["other"]), "run B's random.bin"
    got_a = Path(client.download_artifacts(run_a, "bin/random.bin", fresh(work / "b4")))
    assert sha256_file(got_a) == sha256_file(src["random"]), "run A's random.bin"
    whole = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=fresh(work / "b5")))
    digests = tree_digest(whole)
    assert set(digests) == {"single.txt", "bin/random.bin"}, digests
    return digests


def main() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert uri.startswith("http://127.0.0.1:"), f"loopback http server expected, got {uri}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp_id = client.create_experiment(f"compat-artifacts-{uuid.uuid4().hex[:12]}")
    mlflow.set_experiment(experiment_id=exp_id)
    work = Path(tempfile.mkdtemp(prefix="artifacts-roundtrip-", dir=Path.cwd()))
    try:
        src = make_sources(work / "src")
        with mlflow.start_run(experiment_id=exp_id, run_name="artifacts-a") as active:
            log_run_a(src)
        run_a = client.get_run(active.info.run_id)
        prefix_a = storage_prefix(run_a, exp_id)
        with mlflow.start_run(experiment_id=exp_id, run_name="artifacts-b") as active:
            mlflow.log_text("run B's own single.txt", "single.txt")
            mlflow.log_artifact(str(src["other"]), artifact_path="bin")
        run_b = client.get_run(active.info.run_id)
        prefix_b = storage_prefix(run_b, exp_id)
        assert prefix_a != prefix_b
        check_listings(client, run_a.info.run_id, src)
        digests_a = check_downloads(client, run_a, src, work / "down")
        check_loads(run_a)
        check_delete(client, run_b)
        digests_b = check_run_b(client, run_a.info.run_id, run_b, src, work / "down")
        manifest = {f"{prefix_a}/{rel}": d for rel, d in digests_a.items()}
        manifest.update({f"{prefix_b}/{rel}": d for rel, d in digests_b.items()})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"artifacts_roundtrip OK (mlflow {mlflow.__version__}, {len(manifest)} files)")
    print("MANIFEST " + json.dumps(manifest, sort_keys=True))


if __name__ == "__main__":
    main()
