"""ServiceResources (models and datasets for evaluation providers) and
RegistryService.resolve_uri, on SQLite and PostgreSQL, with models registered through the
SDK the way the demos register them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.artifacts.paths import join
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.tracking import Dataset
from cairn.evals.provider import ModelSpec
from cairn.ml.models import load_model_dir
from cairn.services.registry import RegistryService
from tests.evals.conftest import Stack
from tests.evals.models import SECURITY, register_security_classifier


def _error(
    exc: pytest.ExceptionInfo[CairnError], code: ErrorCode = ErrorCode.INVALID_PARAMETER_VALUE
) -> str:
    assert exc.value.error_code == code, exc.value.message
    return exc.value.message


def _versions(stack: Stack, name: str = "m", count: int = 3) -> RegistryService:
    tracking, registry = stack.services["tracking"], stack.services["registry"]
    registry.create_model(name)
    for _ in range(count):
        run = tracking.create_run("0")
        registry.create_version(name, f"runs:/{run.info.run_id}/model")
    return registry


# ---------------------------------------------------------------------------- resolve_uri
def test_resolve_uri_each_form(stack: Stack) -> None:
    registry = _versions(stack)
    registry.transition_stage("m", 1, "Production")
    registry.transition_stage("m", 2, "Staging")
    registry.set_alias("m", "champion", 2)
    assert registry.resolve_uri("models:/m/3").version == 3
    assert registry.resolve_uri("models:/m/1").version == 1
    assert registry.resolve_uri("models:/m/latest").version == 3
    assert registry.resolve_uri("models:/m/LATEST").version == 3
    assert registry.resolve_uri("models:/m/Production").version == 1
    assert registry.resolve_uri("models:/m/staging").version == 2
    assert registry.resolve_uri("models:/m/None").version == 3
    assert registry.resolve_uri("models:/m@champion").version == 2
    assert registry.resolve_uri("models:/m/2/").version == 2


def test_resolve_uri_not_found(stack: Stack) -> None:
    registry = _versions(stack, count=1)
    for uri in ("models:/m/9", "models:/nope/1", "models:/nope/latest", "models:/m@ghost",
                "models:/m/Archived", "models:/m/Production"):  # fmt: skip
        with pytest.raises(CairnError) as exc:
            registry.resolve_uri(uri)
        _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)


@pytest.mark.parametrize(
    "uri",
    [None, 3, "", "m/1", "runs:/abc/model", "models:/m", "models:/", "models:/m/gold",
     "models:/m/-1", "models:/m@", "models:/@x"],
)  # fmt: skip
def test_resolve_uri_malformed(stack: Stack, uri: object) -> None:
    registry = _versions(stack, count=1)
    with pytest.raises(CairnError) as exc:
        registry.resolve_uri(uri)
    message = _error(exc)
    assert "model" in message or "alias" in message or "name" in message.lower()


# ---------------------------------------------------------------------------------- models
def test_model_dir_of_a_version_logged_by_the_sdk(stack: Stack, tmp_path: Path) -> None:
    validation = register_security_classifier(stack)
    version = stack.services["registry"].resolve_uri(f"models:/{SECURITY}/latest")
    spec = ModelSpec(f"models:/{SECURITY}/latest", registered_name=SECURITY,
                     registered_version=version.version)  # fmt: skip
    folder = stack.resources.model_dir(spec, tmp_path / "work")
    assert (folder / "MLmodel").is_file()
    predicted = load_model_dir(folder).predict(validation[["text"]].head(5))
    assert len(predicted) == 5
    # repeatable: a second call into the same folder replaces the copy
    assert stack.resources.model_dir(spec, tmp_path / "work") == folder


def test_model_dir_of_a_version_from_a_logged_model(stack: Stack, tmp_path: Path) -> None:
    register_security_classifier(stack)
    registry = stack.services["registry"]
    artifacts = stack.services["artifacts"]
    source = stack.resources.model_dir(
        ModelSpec("x", registered_name=SECURITY, registered_version=1), tmp_path / "first"
    )
    logged = stack.services["logged_models"].create("0", "classifier")
    root = artifacts.repo_path_of(str(logged.artifact_uri), "the logged model")
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        writer = artifacts.repo.open_write(join(root, str(file.relative_to(source))))
        writer.write(file.read_bytes())
        writer.commit()
    registry.create_model("from-logged")
    registry.create_version("from-logged", f"models:/{logged.model_id}")
    spec = ModelSpec("models:/from-logged/1", registered_name="from-logged", registered_version=1)
    folder = stack.resources.model_dir(spec, tmp_path / "second")
    assert (folder / "MLmodel").read_bytes() == (source / "MLmodel").read_bytes()


def test_model_dir_refusals(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(CairnError) as exc:
        stack.resources.model_dir(ModelSpec("meta-llama/llama"), tmp_path)
    assert _error(exc).startswith("model:")
    _versions(stack, "empty", count=1)  # a run with no files at all
    with pytest.raises(CairnError) as exc:
        stack.resources.model_dir(
            ModelSpec("models:/empty/1", registered_name="empty", registered_version=1), tmp_path
        )
    assert "MLmodel" in _error(exc)
    with pytest.raises(CairnError) as exc:
        stack.resources.model_dir(
            ModelSpec("models:/ghost/1", registered_name="ghost", registered_version=1), tmp_path
        )
    _error(exc, ErrorCode.RESOURCE_DOES_NOT_EXIST)


# -------------------------------------------------------------------------------- datasets
def test_dataset_path_under_the_data_root(stack: Stack, tmp_path: Path) -> None:
    (stack.data_root / "lims").mkdir()
    (stack.data_root / "lims" / "test.csv").write_text("a,b\n1,2\n")
    found = stack.resources.dataset_file("lims/test.csv", tmp_path)
    assert found.read_text() == "a,b\n1,2\n"
    inside = str(stack.data_root.resolve() / "lims" / "test.csv")
    assert stack.resources.dataset_file(inside, tmp_path) == found


@pytest.mark.parametrize(
    "ref",
    ["../secret.csv", "lims/../../secret.csv", "%2e%2e/secret.csv", "%252e%252e/secret.csv",
     "..%2fsecret.csv", "lims/%2E%2E/%2E%2E/secret.csv", "..\\secret.csv", "/etc/passwd",
     "\uff0e\uff0e/secret.csv", "a\x00b.csv", ""],
)  # fmt: skip
def test_dataset_path_traversal_is_refused(stack: Stack, tmp_path: Path, ref: str) -> None:
    (stack.data_root.parent / "secret.csv").write_text("x\n1\n")
    with pytest.raises(CairnError) as exc:
        stack.resources.dataset_file(ref, tmp_path / "work")
    assert _error(exc).startswith("dataset_path")


def test_missing_dataset_names_both_fields(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(CairnError) as exc:
        stack.resources.dataset_file("nope.csv", tmp_path)
    message = _error(exc)
    assert message.startswith("dataset_path")
    assert "(dataset)" in message


def _log_dataset(stack: Stack, name: str, source: str, digest: str = "d1") -> None:
    run = stack.services["tracking"].create_run("0")
    dataset = Dataset(name, digest, "local", source)
    stack.services["tracking"].log_inputs(run.info.run_id, [(dataset, {})])


def test_logged_dataset_in_the_artifact_store(stack: Stack, tmp_path: Path) -> None:
    artifacts = stack.services["artifacts"]
    writer = artifacts.repo.open_write("0/data/eval.csv")
    writer.write(b"text,label\nhello,benign\n")
    writer.commit()
    _log_dataset(stack, "eval-set", json.dumps({"uri": "mlflow-artifacts:/0/data/eval.csv"}),
                 digest="abc123")  # fmt: skip
    by_name = stack.resources.dataset_file("dataset:eval-set", tmp_path / "a")
    assert by_name.read_text() == "text,label\nhello,benign\n"
    assert by_name.suffix == ".csv"
    by_digest = stack.resources.dataset_file("abc123", tmp_path / "b")
    assert by_digest.read_bytes() == by_name.read_bytes()


def test_logged_dataset_under_the_data_root(stack: Stack, tmp_path: Path) -> None:
    (stack.data_root / "ok.csv").write_text("a\n1\n")
    _log_dataset(stack, "rooted", json.dumps({"uri": f"file://{stack.data_root.resolve()}/ok.csv"}))
    assert stack.resources.dataset_file("dataset:rooted", tmp_path).read_text() == "a\n1\n"


@pytest.mark.parametrize(
    "source",
    [json.dumps({"uri": "lims://silver/samples"}), json.dumps({"uri": "file:///etc/passwd"}),
     json.dumps({"uri": "s3://elsewhere/x.csv"}), json.dumps({"tags": {}}),
     json.dumps({"uri": "mlflow-artifacts:/../../etc/passwd"})],
)  # fmt: skip
def test_logged_dataset_sources_cairn_cannot_read(
    stack: Stack, tmp_path: Path, source: str
) -> None:
    _log_dataset(stack, "elsewhere", source)
    with pytest.raises(CairnError) as exc:
        stack.resources.dataset_file("dataset:elsewhere", tmp_path)
    assert _error(exc).startswith("dataset")
    with pytest.raises(CairnError) as exc:
        stack.resources.dataset_file("dataset:no-such-dataset", tmp_path)
    assert _error(exc).startswith("dataset:")


def test_a_symbolic_link_out_of_the_data_root_is_refused(stack: Stack, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    (stack.data_root / "link.csv").symlink_to(outside)
    (stack.data_root / "dir").symlink_to(tmp_path)
    for ref in ("link.csv", "dir/outside.csv"):
        with pytest.raises(CairnError) as exc:
            stack.resources.dataset_file(ref, tmp_path / "work")
        assert _error(exc).startswith("dataset_path")
