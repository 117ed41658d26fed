"""The ``lm_evaluation_harness`` provider with the real lm-eval 0.4.13, offline: lm-eval's own
``dummy`` model and an OpenAI-compatible endpoint this test serves on 127.0.0.1, on small
multiple-choice tasks whose data is a JSONL file the test writes. No mocks: every run is a real
``python -m lm_eval`` subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cairn.entities.errors import CairnError
from cairn.evals import provider as registry
from cairn.evals.lm_eval import (
    PROVIDER,
    PROVIDER_ID,
    LmEvalProvider,
    completions_url,
    metric_key,
    parse_results,
)
from cairn.evals.provider import BenchmarkContext, BenchmarkResult, Cancelled, ModelSpec

QUESTIONS = 12


def _write_task(
    root: Path, name: str = "cairn_tiny", rows: list[dict[str, Any]] | None = None
) -> Path:
    """A multiple-choice task whose data is a local JSONL file (``dataset_path: json``)."""
    folder = root / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    if rows is None:
        rows = [
            {"question": f"What is {i} + {i}?", "choices": [str(2 * i), str(2 * i + 1), "no"],
             "answer": 0}
            for i in range(QUESTIONS)
        ]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = folder / f"{name}.yaml"
    task.write_text(
        f"task: {name}\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {data}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        'doc_to_choice: "{{choices}}"\n'
        "doc_to_target: answer\n"
        "metric_list:\n"
        "  - metric: acc\n"
        "    aggregation: mean\n"
        "    higher_is_better: true\n"
        "  - metric: acc_norm\n"
        "    aggregation: mean\n"
        "    higher_is_better: true\n"
        "metadata:\n"
        "  version: 1.0\n"
    )
    return task


@dataclass
class Captured:
    lines: list[str] = field(default_factory=list)
    phases: list[tuple[str, float | None]] = field(default_factory=list)


def _context(
    workdir: Path,
    config: Mapping[str, Any],
    benchmark_id: str = "cairn_tiny",
    model: ModelSpec | None = None,
    captured: Captured | None = None,
) -> BenchmarkContext:
    seen = captured if captured is not None else Captured()
    return BenchmarkContext(
        job_id="ev-test",
        index=0,
        benchmark_id=benchmark_id,
        config=config,
        model=model or ModelSpec(name="tiny-test-model"),
        workdir=workdir,
        resources=None,  # type: ignore[arg-type]  # lm-eval needs no Cairn resources
        log=seen.lines.append,
        progress=lambda phase, fraction: seen.phases.append((phase, fraction)),
    )


@pytest.fixture(autouse=True)
def _hf_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval's datasets cache in a folder of this test session, not the user's."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf-home"))


@dataclass
class DummyRun:
    root: Path
    provider: LmEvalProvider
    result: BenchmarkResult
    captured: Captured


@pytest.fixture(scope="module")
def dummy_run(tmp_path_factory: pytest.TempPathFactory) -> DummyRun:
    """One real lm-eval run with the dummy model on the local task, shared by the checks."""
    root = tmp_path_factory.mktemp("eval-data")
    _write_task(root)
    provider = LmEvalProvider(root=root)
    config = {"model": "dummy", "task_yaml": "tasks/cairn_tiny.yaml", "log_samples": True}
    provider.validate("cairn_tiny", config, ModelSpec(name="tiny-test-model"))
    captured = Captured()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf-home"))
        result = provider.run(_context(root / "work", config, captured=captured))
    return DummyRun(root, provider, result, captured)


def test_a_dummy_run_gives_real_accuracy_from_lm_eval(dummy_run: DummyRun) -> None:
    result = dummy_run.result
    assert set(result.metrics) == {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}
    samples = result.artifacts["samples/cairn_tiny.jsonl"]
    docs = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(docs) == QUESTIONS
    # the number is lm-eval's own: the mean of its per-document scores
    assert result.metrics["acc"] == pytest.approx(sum(d["acc"] for d in docs) / QUESTIONS)
    assert 0.0 <= result.metrics["acc"] <= 1.0
    assert result.primary_metric == "acc"
    assert result.params["lm_eval_version"] == "0.4.13"
    assert result.params["task"] == "cairn_tiny"
    assert result.params["n_shot"] == "0"
    assert result.params["n_samples"] == str(QUESTIONS)
    assert result.params["model_type"] == "dummy"
    full = json.loads(result.artifacts["results.json"].read_text())
    assert full["results"]["cairn_tiny"]["acc,none"] == result.metrics["acc"]
    assert "configs" in full  # the file is kept in full, not a summary


def test_the_run_streams_lm_evals_output_and_phases(dummy_run: DummyRun) -> None:
    lines = dummy_run.captured.lines
    assert lines[0].startswith("started lm-eval (pid ")
    assert "--model dummy" in lines[0]
    assert "--log_samples" in lines[0]
    assert any("Running loglikelihood requests" in line for line in lines)
    assert lines[-1].startswith("lm-eval finished: 4 metrics, acc = ")
    phases = [phase for phase, _ in dummy_run.captured.phases]
    assert phases[0] == "starting"
    assert "running" in phases
    assert phases[-1] == "scoring"
    assert all("\r" not in line for line in lines)  # progress bars collapsed


def test_report_parses_a_real_results_file_the_same_way(dummy_run: DummyRun) -> None:
    path = dummy_run.result.artifacts["results.json"]
    reported = dummy_run.provider.report(path)
    assert reported.metrics == dummy_run.result.metrics
    assert reported.primary_metric == "acc"
    assert reported.artifacts == {"results.json": path}


def test_report_refuses_a_file_that_is_not_lm_eval_results(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"accuracy": 0.9}')
    with pytest.raises(CairnError, match="result_file: not an lm-eval results file"):
        PROVIDER.report(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CairnError, match="result_file: not a readable JSON file"):
        PROVIDER.report(broken)


def test_groups_filters_and_stderr_are_named_by_the_rule() -> None:
    """A group's own numbers are plain, its subtasks' are <task>/<metric>; a filter other than
    ``none`` is kept as a suffix; "N/A" standard errors are left out."""
    document = {
        "results": {
            "reasoning": {"alias": "reasoning", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "tiny_mc": {"alias": " - tiny_mc", "acc,none": 0.25, "acc_stderr,none": "N/A"},
            "tiny_gen": {
                "alias": " - tiny_gen",
                "exact_match,strict-match": 0.75,
                "exact_match_stderr,strict-match": 0.2,
                "exact_match,maj@8": 1.0,
                "sample_len": 4,
            },
        },
        "group_subtasks": {"reasoning": ["tiny_mc", "tiny_gen"]},
        "higher_is_better": {"reasoning": {"acc": True}},
        "n-shot": {"reasoning": 0, "tiny_mc": 0, "tiny_gen": 5},
        "versions": {"reasoning": "1.0"},
        "lm_eval_version": "0.4.13",
        "config": {"model": "local-completions", "limit": 4.0},
    }
    result = parse_results(document)
    assert result.metrics == {
        "acc": 0.5,
        "acc_stderr": 0.1,
        "tiny_mc/acc": 0.25,
        "tiny_gen/exact_match_strict-match": 0.75,
        "tiny_gen/exact_match_stderr_strict-match": 0.2,
        "tiny_gen/exact_match_maj_8": 1.0,
    }
    assert result.primary_metric == "acc"
    assert result.params["task"] == "reasoning"
    assert result.params["limit"] == "4"
    assert result.params["subtasks"] == "tiny_mc,tiny_gen"
    # two tasks run side by side (no group): every number carries its task
    side_by_side = parse_results({"results": {"a": {"acc,none": 1}, "b": {"acc,none": 0}}})
    assert side_by_side.metrics == {"a/acc": 1.0, "b/acc": 0.0}
    assert metric_key("word_perplexity,none") == "word_perplexity"
    assert metric_key("exact_match,flexible-extract") == "exact_match_flexible-extract"


def test_a_lower_is_better_metric_is_reported_as_such() -> None:
    document = {
        "results": {"my_ppl": {"word_perplexity,none": 31.5, "bits_per_byte,none": 0.9}},
        "higher_is_better": {"my_ppl": {"word_perplexity": False, "bits_per_byte": False}},
    }
    result = parse_results(document, "my_ppl")
    assert result.primary_metric == "word_perplexity"
    assert result.details["lower_is_better"] is True


# ---- an OpenAI-compatible endpoint on loopback -------------------------------------------------


class Endpoint:
    """A byte-level "model" speaking vLLM's API: /tokenizer_info, /tokenize, /detokenize and
    /v1/completions with echoed log-probabilities. Every token costs -1, so the shortest answer
    is the most likely one."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            self.requests.append((path, body))
        if path == "/tokenizer_info":
            return {"eos_token": "\x00", "bos_token": None, "pad_token": None}
        if path == "/tokenize":
            return {"tokens": list(str(body["prompt"]).encode())}
        if path == "/detokenize":
            return {"prompt": bytes(body["tokens"]).decode("utf-8", "replace")}
        if path == "/v1/completions":
            prompts = body["prompt"]
            if prompts and isinstance(prompts[0], int) or isinstance(prompts, str):
                prompts = [prompts]
            if not body.get("echo"):  # generation: the sum the prompt asks for, wrong for 7
                return {
                    "choices": [{"index": i, "text": self.add(p)} for i, p in enumerate(prompts)]
                }
            choices = []
            for index, tokens in enumerate(prompts):
                logprobs = [None] + [-1.0] * len(tokens)
                top = [None] + [{str(t): -1.0} for t in tokens[1:]] + [{"x": -1.0}]
                choices.append(
                    {
                        "index": index,
                        "text": "x",
                        "logprobs": {"token_logprobs": logprobs, "top_logprobs": top},
                    }
                )
            return {"id": "cmpl-test", "object": "text_completion", "choices": choices}
        return None

    @staticmethod
    def add(prompt: list[int] | str) -> str:
        text = prompt if isinstance(prompt, str) else bytes(prompt).decode("utf-8", "replace")
        a, b = (int(n) for n in re.findall(r"\d+", text)[-2:])
        return f" The answer is {a + b + (1 if a == 7 else 0)}.\n"


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    served = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: dict[str, Any]) -> None:
            found = served.answer(self.path, body)
            payload = json.dumps(found if found is not None else {"error": "not found"}).encode()
            self.send_response(200 if found is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._reply({})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._reply(json.loads(self.rfile.read(length) or b"{}"))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_local_completions_against_an_openai_compatible_endpoint(
    tmp_path: Path, endpoint: tuple[Endpoint, str]
) -> None:
    """A group of a multiple-choice task (log-likelihoods, with the server's tokenizer) and a
    generation task with lm-eval filters, over real HTTP: every number named by the rule."""
    served, url = endpoint
    # the right answer is the shortest choice in three questions of four
    rows = [
        {"question": "Sky?", "choices": ["blue", "greenish"], "answer": 0},
        {"question": "Grass?", "choices": ["green", "purple-ish"], "answer": 0},
        {"question": "Snow?", "choices": ["rather grey", "white"], "answer": 1},
        {"question": "Coal?", "choices": ["black", "red"], "answer": 0},
    ]
    _write_task(tmp_path, "cairn_colours", rows)
    sums = tmp_path / "tasks" / "cairn_sums.jsonl"
    sums.write_text("".join(json.dumps({"a": a, "b": 2}) + "\n" for a in (1, 4, 7, 9)))
    (tmp_path / "tasks" / "cairn_sums.yaml").write_text(
        "task: cairn_sums\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {sums}\n"
        "test_split: test\noutput_type: generate_until\n"
        'doc_to_text: "What is {{a}} + {{b}}?"\ndoc_to_target: "{{a + b}}"\n'
        'generation_kwargs:\n  until: ["\\n"]\n'
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n"
        "    higher_is_better: true\n"
        "filter_list:\n  - name: strict-match\n    filter:\n      - function: regex\n"
        '        regex_pattern: "answer is (\\\\d+)"\n      - function: take_first\n'
        "metadata:\n  version: 2.0\n"
    )
    (tmp_path / "tasks" / "cairn_http.yaml").write_text(
        "group: cairn_http\ntask: [cairn_colours, cairn_sums]\n"
        "aggregate_metric_list:\n  - metric: acc\n    weight_by_size: true\n"
        "metadata:\n  version: 1.0\n"
    )
    provider = LmEvalProvider(root=tmp_path)
    model = ModelSpec(name="tiny-test-model", url=url, configuration={"max_retries": 1})
    config = {"task_yaml": "tasks/cairn_http.yaml", "batch_size": 2}
    provider.validate("http_group", config, model)
    captured = Captured()
    result = provider.run(_context(tmp_path / "work", config, "http_group", model, captured))
    assert result.metrics["cairn_colours/acc"] == 0.75
    assert result.metrics["acc"] == 0.75  # the group's aggregate
    assert result.metrics["cairn_sums/exact_match_strict-match"] == 0.75
    assert "cairn_sums/exact_match_stderr_strict-match" in result.metrics
    assert result.params["task"] == "cairn_http"  # the group the YAML names
    assert result.params["subtasks"] == "cairn_colours,cairn_sums"
    assert result.params["lm_eval_model"] == "local-completions"
    completions = [body for path, body in served.requests if path == "/v1/completions"]
    assert {body["model"] for body in completions} == {"tiny-test-model"}
    scored = [body for body in completions if body.get("echo")]
    assert scored
    assert all(body["max_tokens"] == 1 for body in scored)
    assert any(not body.get("echo") for body in completions)  # the generation requests
    assert any(path == "/tokenize" for path, _ in served.requests)


# ---- failures, cancel, timeout -------------------------------------------------------------


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_cancel_mid_run_stops_the_lm_eval_process_group(tmp_path: Path) -> None:
    _write_task(tmp_path)
    provider = LmEvalProvider(root=tmp_path)
    config = {"model": "dummy", "task_yaml": "tasks/cairn_tiny.yaml"}
    captured = Captured()
    ctx = _context(tmp_path / "work", config, captured=captured)
    pids: list[int] = []

    def log(line: str) -> None:
        captured.lines.append(line)
        if line.startswith("started lm-eval (pid "):
            pids.append(int(line.split("pid ")[1].split(")")[0]))
            ctx.cancel_event.set()  # cancelled while lm-eval is starting up

    ctx.log = log
    with pytest.raises(Cancelled):
        provider.run(ctx)
    assert len(pids) == 1
    assert _gone(pids[0])
    assert captured.lines[-1] == "cancelled: lm-eval stopped"


def test_a_run_past_its_timeout_is_stopped_and_fails(tmp_path: Path) -> None:
    _write_task(tmp_path)
    provider = LmEvalProvider(root=tmp_path)
    config = {"model": "dummy", "task_yaml": "tasks/cairn_tiny.yaml", "timeout_seconds": 0.5}
    captured = Captured()
    with pytest.raises(TimeoutError, match=r"config\.timeout_seconds"):
        provider.run(_context(tmp_path / "work", config, captured=captured))
    pid = int(captured.lines[0].split("pid ")[1].split(")")[0])
    assert _gone(pid)


def test_a_task_yaml_that_is_not_yaml_fails_clearly_before_lm_eval_starts(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "broken.yaml").write_text("task: broken\n  output_type: [oops\n")
    provider = LmEvalProvider(root=tmp_path)
    config = {"model": "dummy", "task_yaml": "tasks/broken.yaml"}
    captured = Captured()
    with pytest.raises(CairnError, match=r"config\.task_yaml: is not valid YAML"):
        provider.run(_context(tmp_path / "work", config, captured=captured))
    assert not any(line.startswith("started lm-eval") for line in captured.lines)


def test_a_task_lm_eval_cannot_load_fails_with_its_error(tmp_path: Path) -> None:
    task = _write_task(tmp_path, "cairn_nodata")
    (tmp_path / "tasks" / "cairn_nodata.jsonl").unlink()  # the data file is missing
    provider = LmEvalProvider(root=tmp_path)
    config = {"model": "dummy", "task_yaml": str(task)}
    with pytest.raises(RuntimeError) as failed:
        provider.run(_context(tmp_path / "work", config))
    message = str(failed.value)
    assert message.startswith("lm-eval exited with code 1: ")
    assert "cairn_nodata.jsonl" in message
    assert "--- last lines of its output ---" in message


# ---- validation ----------------------------------------------------------------------------

URL_MODEL = ModelSpec(name="m", url="http://127.0.0.1:8000/v1")


@pytest.mark.parametrize(
    ("benchmark_id", "config", "model", "field_named"),
    [
        ("arc easy", {}, URL_MODEL, "benchmark_id"),
        ("../etc", {}, URL_MODEL, "benchmark_id"),
        ("--help", {}, URL_MODEL, "benchmark_id"),
        ("a" * 201, {}, URL_MODEL, "benchmark_id"),
        ("arc_easy", {"task": "-x"}, URL_MODEL, "config.task"),
        ("arc_easy", {"apply_chat_template": 1}, URL_MODEL, "config.apply_chat_template"),
        ("arc_easy", {"x" * 5000: 1}, URL_MODEL, "config.xxxx"),
        ("arc_easy", {"num_fewshot": "5"}, URL_MODEL, "config.num_fewshot"),
        ("arc_easy", {"num_fewshot": True}, URL_MODEL, "config.num_fewshot"),
        ("arc_easy", {"num_fewshot": -1}, URL_MODEL, "config.num_fewshot"),
        ("arc_easy", {"limit": 0}, URL_MODEL, "config.limit"),
        ("arc_easy", {"limit": 2.5}, URL_MODEL, "config.limit"),
        ("arc_easy", {"limit": "all"}, URL_MODEL, "config.limit"),
        ("arc_easy", {"batch_size": 0}, URL_MODEL, "config.batch_size"),
        ("arc_easy", {"batch_size": "big"}, URL_MODEL, "config.batch_size"),
        ("arc_easy", {"log_samples": "yes"}, URL_MODEL, "config.log_samples"),
        ("arc_easy", {"gen_kwargs": "temperature=0"}, URL_MODEL, "config.gen_kwargs"),
        ("arc_easy", {"gen_kwargs": {"bad key": 1}}, URL_MODEL, "config.gen_kwargs"),
        ("arc_easy", {"gen_kwargs": {"stop": {"x": 1}}}, URL_MODEL, "config.gen_kwargs.stop"),
        ("arc_easy", {"model_args": {"base_url": "http://x"}}, URL_MODEL, "model_args.base_url"),
        ("arc_easy", {"model_args": {"auth_token": "s3"}}, URL_MODEL, "model_args.auth_token"),
        ("arc_easy", {"model": "hf"}, URL_MODEL, "config.model"),
        ("arc_easy", {"seed": 1.5}, URL_MODEL, "config.seed"),
        ("arc_easy", {"timeout_seconds": 0}, URL_MODEL, "config.timeout_seconds"),
        ("arc_easy", {"task": "a,b"}, URL_MODEL, "config.task"),
        ("arc_easy", {"num_few_shot": 5}, URL_MODEL, "config.num_few_shot"),
        ("arc_easy", {"task_yaml": "../outside.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"task_yaml": "%2e%2e/outside.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"task_yaml": "%252e%252e/x.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"task_yaml": "/etc/passwd.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"task_yaml": "tasks\\..\\..\\x.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"task_yaml": "tasks/x.txt"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {"include_path": "/tmp"}, URL_MODEL, "config.include_path"),
        ("arc_easy", {"task_yaml": "a\x00.yaml"}, URL_MODEL, "config.task_yaml"),
        ("arc_easy", {}, ModelSpec(name="m"), "model.url"),
        ("arc_easy", {}, ModelSpec(name="m", url="ftp://host/v1"), "model.url"),
        ("arc_easy", {}, ModelSpec(name="m", url="javascript:alert(1)"), "model.url"),
        ("arc_easy", {}, ModelSpec(name="m", url="http://u:pw@h/v1"), "model.url"),
        ("arc_easy", {}, ModelSpec(name="m", server="https://u:pw@h"), "model.server"),
    ],
)  # fmt: skip
def test_validate_names_the_field(
    tmp_path: Path,
    benchmark_id: str,
    config: dict[str, Any],
    model: ModelSpec,
    field_named: str,
) -> None:
    provider = LmEvalProvider(root=tmp_path / "eval-data")
    with pytest.raises(CairnError) as refused:
        provider.validate(benchmark_id, config, model)
    assert refused.value.http_status == 400
    assert field_named in refused.value.message


def test_a_symlink_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "eval-data"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "t.yaml").write_text("task: t\n")
    (root / "link").symlink_to(outside)
    with pytest.raises(CairnError, match=r"config\.task_yaml: .* is outside the evaluation"):
        LmEvalProvider(root=root).validate("t", {"task_yaml": "link/t.yaml"}, URL_MODEL)


def test_validate_accepts_what_can_run(tmp_path: Path) -> None:
    provider = LmEvalProvider(root=tmp_path)
    provider.validate("arc_easy", {"num_fewshot": 0}, URL_MODEL)
    provider.validate("mmlu", {"limit": 0.1, "batch_size": "auto"}, URL_MODEL)
    provider.validate("my_own.task-v2", {"task_yaml": "tasks/my.yaml"}, URL_MODEL)
    provider.validate("arc_easy", {"model": "dummy"}, ModelSpec(name="m"))
    provider.validate(
        "gsm8k",
        {"model": "local-chat-completions", "apply_chat_template": True,
         "gen_kwargs": {"temperature": 0, "until": ["\n\n"]}, "model_args": {"num_concurrent": 4}},
        ModelSpec(name="m", server="http://127.0.0.1:8000"),
    )  # fmt: skip
    # the seed's shape names the serving stack only; the worker maps it to a URL
    provider.validate("arc_easy", {"num_fewshot": 0}, ModelSpec(name="m", server="vllm"))


def test_a_named_server_is_mapped_to_its_url_at_run_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.evals.lm_eval import build_plan, parse_options

    ctx = _context(tmp_path, {"num_fewshot": 0}, "arc_easy", ModelSpec(name="m", server="vllm"))
    options = parse_options("arc_easy", ctx.config)
    with pytest.raises(CairnError, match=r"model\.url: .*CAIRN_EVAL_MODEL_SERVERS"):
        build_plan(ctx, options, tmp_path)
    monkeypatch.setenv(
        "CAIRN_EVAL_MODEL_SERVERS", "tgi=http://127.0.0.1:9,vllm=http://127.0.0.1:8000"
    )
    plan = build_plan(ctx, options, tmp_path)
    args = json.loads(plan.command[plan.command.index("--model_args") + 1])
    assert args == {"base_url": "http://127.0.0.1:8000/v1/completions", "model": "m"}
    assert plan.command[plan.command.index("--num_fewshot") + 1] == "0"
    assert "HF_DATASETS_OFFLINE" not in plan.env or os.environ.get("HF_DATASETS_OFFLINE")


def test_lm_eval_gets_no_cairn_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.evals.lm_eval import build_plan, parse_options

    monkeypatch.setenv("CAIRN_SECRET_KEY", "a server secret")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "a client password")
    monkeypatch.setenv("OPENAI_API_KEY", "the endpoint's key")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    ctx = _context(tmp_path, {}, "arc_easy", URL_MODEL)
    plan = build_plan(ctx, parse_options("arc_easy", {}), tmp_path)
    assert "CAIRN_SECRET_KEY" not in plan.env
    assert "MLFLOW_TRACKING_PASSWORD" not in plan.env
    assert plan.env["OPENAI_API_KEY"] == "the endpoint's key"
    assert "HF_HUB_OFFLINE" not in plan.env  # a registry task may download its data
    assert "the endpoint's key" not in " ".join(plan.command)


def test_the_model_configuration_reaches_lm_eval(tmp_path: Path) -> None:
    from cairn.evals.lm_eval import build_plan, parse_options

    model = ModelSpec(
        name="meta-llama/llama-3.1-8b",
        url="https://models.example/v1/",
        configuration={"temperature": 0.1, "max_tokens": 512, "num_concurrent": 2, "other": 1},
    )
    config = {"gen_kwargs": {"temperature": 0.0}, "limit": 0.5, "seed": 7, "log_samples": True}
    ctx = _context(tmp_path, config, "gsm8k", model)
    plan = build_plan(ctx, parse_options("gsm8k", config), tmp_path)
    command = plan.command
    assert command[1:4] == ["-m", "lm_eval", "run"]
    assert command[command.index("--model") + 1] == "local-completions"
    assert command[command.index("--tasks") + 1] == "gsm8k"
    assert json.loads(command[command.index("--model_args") + 1]) == {
        "base_url": "https://models.example/v1/completions",
        "model": "meta-llama/llama-3.1-8b",
        "num_concurrent": 2,
    }
    assert json.loads(command[command.index("--gen_kwargs") + 1]) == {
        "temperature": 0.0,
        "max_tokens": 512,
    }
    assert command[command.index("--limit") + 1] == "0.5"
    assert command[command.index("--seed") + 1] == "7"
    assert "--log_samples" in command


def test_endpoint_urls() -> None:
    assert completions_url("http://h:8000", False) == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1", True) == "http://h:8000/v1/chat/completions"
    assert completions_url("http://h/v1/completions", False) == "http://h/v1/completions"


def test_benchmarks_collections_and_registration() -> None:
    assert registry.get(PROVIDER_ID) is PROVIDER
    listed = {b.id: b for b in PROVIDER.benchmarks()}
    for name in ("arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc2", "gsm8k",
                 "winogrande", "piqa", "boolq"):  # fmt: skip
        assert name in listed
        assert listed[name].primary_metric in listed[name].metrics
        assert listed[name].open_ended
        assert "num_fewshot" in listed[name].parameters
    assert listed["gsm8k"].primary_metric == "exact_match_strict-match"
    assert listed["wikitext"].lower_is_better
    collections = {c.id: c for c in PROVIDER.collections()}
    assert {"reasoning_basic", "knowledge_qa"} <= set(collections)
    for collection in collections.values():
        for entry in collection.benchmarks:
            assert entry["provider_id"] == PROVIDER_ID
            assert entry["benchmark_id"] in listed


def test_importing_the_provider_does_not_import_lm_eval() -> None:
    code = "import sys, cairn.evals.lm_eval; print('lm_eval' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
