"""Run MLflow's own REST test suite against a fresh ``cairn server`` (``make compat-suite``).

The harness (``/work/shared/compat/mlflow-rest-suite``: ``run.sh``, ``compare.py``, the
pytest plugin, the baseline of MLflow's own server) runs MLflow's
``tests/tracking/test_rest_tracking.py`` against any server by URL. MLflow's test file is
not part of Cairn: restore it into a directory outside the repository as the harness README
says, then::

    python -m tests.compat.rest_suite --suite DIR [--db sqlite|postgresql] [-- pytest args]

This starts ``cairn server`` on a free loopback port with an empty store (a new SQLite file,
or a new PostgreSQL database that is dropped afterwards) and an empty artifacts folder, runs
the suite's ``run.sh``, prints ``compare.py``'s per-test comparison with MLflow's baseline,
the count of the 58 "classic" tests (tracking, registry, artifacts, logged models) and the
5xx answers in the server's access log, and stops the server by its PID.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

from tests.compat.server import CairnServer, start_server
from tests.databases import fresh_postgres_database

TEST_FILE = Path("tests/tracking/test_rest_tracking.py")
TEST_FILE_SHA256 = "31b43efbf450493908451756e315a415b80ed7b402de1000eed92d0ee1144e54"
BASELINE = Path("baseline/junit-mlflow-3.9.0.xml")
DEFAULT_VENV = "/tmp/mlflow-rest-venv"

# The 58 tests of MLflow's 110 baseline passes that exercise classic tracking, registry,
# artifacts and logged models (issue 18): the rest is GraphQL/prompt-lab, tracing,
# evaluation datasets, scorers and the AI gateway.
CLASSIC_TESTS = frozenset(
    """
    test_create_experiment_validation test_delete_restore_experiment
    test_delete_restore_experiment_cli test_rename_experiment test_rename_experiment_cli
    test_create_run_all_args[None] test_create_run_all_args[my-parent-id]
    test_create_run_defaults test_log_metrics_params_tags test_log_metric_validation
    test_log_metric_model test_log_param_validation test_log_param_with_empty_string_as_value
    test_set_tag_with_empty_string_as_value
    test_log_batch_containing_params_and_tags_with_empty_string_values test_set_tag_validation
    test_path_validation test_set_experiment_tag
    test_set_experiment_tag_with_empty_string_as_value test_delete_experiment_tag
    test_delete_tag test_log_batch test_log_batch_validation test_set_terminated_defaults
    test_set_terminated_status test_search_pagination test_search_validation
    test_get_experiment_by_name test_get_experiment
    test_get_metric_history_bulk_rejects_invalid_requests
    test_get_metric_history_bulk_returns_expected_metrics_in_expected_order
    test_get_metric_history_bulk_respects_max_results
    test_get_metric_history_respects_max_results test_get_metric_history_with_page_token
    test_get_metric_history_bulk_interval_rejects_invalid_requests
    test_get_metric_history_bulk_interval_respects_max_results
    test_search_dataset_handler_rejects_invalid_requests
    test_search_dataset_handler_returns_expected_results
    test_create_model_version_with_non_local_source test_log_input
    test_create_model_version_model_id test_log_inputs test_log_inputs_validation
    test_log_inputs_model test_update_run_name_without_changing_status
    test_upload_artifact_handler_rejects_invalid_requests test_upload_artifact_handler
    test_create_logged_model test_log_logged_model_params test_finalize_logged_model
    test_delete_logged_model test_set_logged_model_tags test_delete_logged_model_tag
    test_search_logged_models test_log_outputs test_list_logged_model_artifacts
    test_get_logged_model_artifact test_suppress_url_printing
    """.split()
)

# The 17 trace, span, assessment and trace-metric tests of MLflow's 110 baseline passes.
TRACING_TESTS = frozenset(
    """
    test_legacy_start_and_end_trace_v2 test_start_trace test_get_trace test_search_traces
    test_search_traces_parameter_validation test_search_traces_match_text test_delete_traces
    test_calculate_trace_filter_correlation test_set_and_delete_trace_tag
    test_query_trace_metrics test_get_trace_handler[True] test_get_trace_handler[False]
    test_get_trace_artifact_handler test_link_traces_to_run_and_search_traces
    test_assessments_end_to_end test_rest_store_logs_spans_via_otel_endpoint[False]
    test_rest_store_logs_spans_via_otel_endpoint[True]
    """.split()
)

# Cairn's own minimal stand-ins for the helper modules MLflow's test file imports (not MLflow's
# code): written into SUITE/tests/ when a file is missing, so only the test file itself has to
# be restored. The conftest resets the client's global state between tests as MLflow's own
# conftest does: the fluent API's active experiment and its MLFLOW_EXPERIMENT_ID variable
# (else a test that follows one which set an experiment the reset then deleted logs into a
# deleted experiment), the active run, the tracing state.
HELPERS: dict[str, str] = {
    "tests/__init__.py": "",
    "tests/tracking/__init__.py": "",
    "tests/integration/__init__.py": "",
    "tests/helper_functions.py": """import socket

LOCALHOST = "127.0.0.1"


def get_safe_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]
""",
    "tests/integration/utils.py": """from click.testing import CliRunner


def invoke_cli_runner(*args, **kwargs):
    result = CliRunner().invoke(*args, **kwargs)
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}\\n{result.exception!r}"
    return result
""",
    "tests/tracking/integration_test_utils.py": """import contextlib

import requests

from tests.helper_functions import get_safe_port  # noqa: F401


def _send_rest_tracking_post_request(tracking_server_uri, api_path, json_payload, auth=None):
    return requests.post(f"{tracking_server_uri}{api_path}", json=json_payload, auth=auth)


class ServerThread:  # the tests that start their own server are skipped in external mode
    def __init__(self, app, port):
        raise RuntimeError("in-process servers are not available in external mode")


@contextlib.contextmanager
def _init_server(*args, **kwargs):
    raise RuntimeError("in-process servers are not available in external mode")
    yield
""",
    "tests/conftest.py": """import contextlib
import os

import pytest


@pytest.fixture
def db_uri(tmp_path):
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.fixture(autouse=True)
def _fluent_api_at_server(monkeypatch):
    import mlflow
    import mlflow.tracking.fluent as fluent

    url = os.environ.get("REST_TRACKING_URL", "").rstrip("/")
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    fluent._active_experiment_id = None
    if url:
        mlflow.set_tracking_uri(url)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    yield
    while mlflow.active_run():
        mlflow.end_run()
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    with contextlib.suppress(Exception):
        mlflow.tracing.reset()
    with contextlib.suppress(Exception):
        fluent._reset_last_logged_model_id()
""",
}


def _write_helpers(suite: Path) -> None:
    """Write the stand-in helper modules the suite lacks (an existing file is kept)."""
    for name, text in HELPERS.items():
        path = suite / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            print(f"wrote Cairn's stand-in {path}")


def _outcomes(junit: Path) -> dict[str, str]:
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        if "failure" in tags or "error" in tags:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        result[case.get("name", "")] = outcome
    return result


def _check_suite(suite: Path) -> None:
    test_file = suite / TEST_FILE
    if not test_file.is_file():
        sys.exit(
            f"{test_file} is missing: restore MLflow's test file as "
            f"{suite / 'README.md'} says (outside the Cairn repository)"
        )
    digest = hashlib.sha256(test_file.read_bytes()).hexdigest()
    if digest != TEST_FILE_SHA256:
        sys.exit(f"{test_file}: sha256 {digest}, expected {TEST_FILE_SHA256}")
    for name in ("run.sh", "compare.py", str(BASELINE)):
        if not (suite / name).exists():
            sys.exit(f"{suite / name} is missing: SUITE must be the harness directory")
    _write_helpers(suite)


def _run(suite: Path, url: str, results: Path, extra: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("REST_SUITE_VENV", DEFAULT_VENV)
    command = [str(suite / "run.sh"), url, str(results)]
    if extra:
        command += ["--", *extra]
    return subprocess.run(command, cwd=suite, env=env, check=False).returncode


def _report(suite: Path, results: Path, server_log: Path) -> None:
    junit = results / "junit.xml"
    if not junit.exists():
        print("no junit.xml: the run did not finish")
        return
    subprocess.run(
        [sys.executable, str(suite / "compare.py"), str(suite / BASELINE), str(junit)],
        check=False,
    )
    outcomes = _outcomes(junit)
    classic_passed = sorted(n for n in CLASSIC_TESTS if outcomes.get(n) == "passed")
    classic_failing = sorted(CLASSIC_TESTS - set(classic_passed))
    print(f"\nclassic: {len(classic_passed)} of {len(CLASSIC_TESTS)} passed")
    for name in classic_failing:
        print(f"  not passed: {name} ({outcomes.get(name, 'not run')})")
    tracing_passed = [n for n in TRACING_TESTS if outcomes.get(n) == "passed"]
    print(f"tracing: {len(tracing_passed)} of {len(TRACING_TESTS)} passed")
    for name in sorted(TRACING_TESTS - set(tracing_passed)):
        print(f"  not passed: {name} ({outcomes.get(name, 'not run')})")
    log = server_log.read_text("utf-8", "replace")
    fives = [line for line in log.splitlines() if re.search(r'" 5\d\d\b', line)]
    print(f"server 5xx answers: {len(fives)}")
    for line in fives[:20]:
        print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", required=True, type=Path, help="the restored harness dir")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--results", type=Path, help="where junit.xml etc. go")
    parser.add_argument("extra", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    suite = args.suite.resolve()
    _check_suite(suite)
    with tempfile.TemporaryDirectory(prefix="cairn-rest-suite-") as tmp:
        workdir = Path(tmp)
        default = (
            Path(tempfile.gettempdir())
            / "cairn-rest-suite"
            / f"{args.db}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        results = (args.results or default).resolve()
        server_args = ["--artifacts-destination", str(workdir / "artifacts"), "--access-log"]
        serve = contextmanager(start_server)
        if args.db == "sqlite":
            uri = f"sqlite:///{workdir / 'cairn.db'}"
            with serve("sqlite", uri, workdir, server_args) as server:
                return _drive(server, suite, results, args.extra)
        with (
            fresh_postgres_database() as uri,
            serve("postgresql", uri, workdir, server_args) as server,
        ):
            return _drive(server, suite, results, args.extra)


def _drive(server: CairnServer, suite: Path, results: Path, extra: list[str]) -> int:
    """Run the suite against the server and report; the caller stops the server by PID."""
    print(f"cairn server ({server.backend}) at {server.url}, PID {server.process.pid}")
    code = _run(suite, server.url, results, extra)
    _report(suite, results, server.log_path)
    results.mkdir(parents=True, exist_ok=True)
    (results / "server.log").write_bytes(server.log_path.read_bytes())
    print(f"results (junit.xml, pytest.log, server.log): {results}")
    return code


if __name__ == "__main__":
    sys.exit(main())
