"""The ``lm_evaluation_harness`` provider: EleutherAI's lm-evaluation-harness, run as a subprocess.

A benchmark is one lm-eval task or group (``arc_easy``, ``mmlu``, or any name of lm-eval's
registry or of a task YAML the request points to). :meth:`LmEvalProvider.run` builds the
``python -m lm_eval`` command line (model ``local-completions`` or ``local-chat-completions``
against the model's OpenAI-compatible endpoint, or lm-eval's own ``dummy`` model for tests and
offline checks), runs it in its own process group, streams its output to the job's log, and
stops it (SIGTERM, then SIGKILL) on cancel or timeout. It then reads the ``results_*.json`` (and
``samples_*.jsonl``) lm-eval wrote and turns them into a :class:`BenchmarkResult`
(:func:`parse_results`); :meth:`LmEvalProvider.report` does the same for a results file written
elsewhere (external runners, imports).

Metric names: lm-eval keys its numbers ``<metric>,<filter>`` (``acc,none``,
``exact_match,strict-match``). They are logged as ``<metric>`` when the filter is ``none`` and as
``<metric>_<filter>`` otherwise (``acc``, ``acc_stderr``, ``exact_match_strict-match``); the
numbers of the subtasks of a group (and of every task but the one requested) are logged as
``<task>/<metric>``. Characters outside ``[A-Za-z0-9_.-]`` become ``_``.

This module never imports ``lm_eval`` (importing it takes seconds and the server must work
without it): validation checks names against the listed benchmarks or the open-ended rule
``[A-Za-z0-9_.-]+``, and only the subprocess loads lm-eval.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from cairn.entities.errors import CairnError
from cairn.evals.child import lower_priority, stop_group
from cairn.evals.data_root import confined_path, data_root
from cairn.evals.provider import (
    BenchmarkContext,
    BenchmarkInfo,
    BenchmarkResult,
    Cancelled,
    Collection,
    ModelSpec,
    ParamSpec,
    register,
)

PROVIDER_ID = "lm_evaluation_harness"
LM_EVAL_REQUIREMENT = "lm-eval[api]==0.4.13"

PYTHON_VARIABLE = "CAIRN_LM_EVAL_PYTHON"
"""The Python interpreter that runs ``-m lm_eval`` (default: the server's own)."""
SERVERS_VARIABLE = "CAIRN_EVAL_MODEL_SERVERS"
"""``name=url,name=url``: the endpoint of a serving stack a request names only by ``server``
(the seed's ``"server": "vllm"``)."""

DEFAULT_TIMEOUT_S = 6 * 3600.0
MAX_TIMEOUT_S = 7 * 24 * 3600.0
STOP_GRACE_S = 10.0
"""How long lm-eval gets to exit after SIGTERM before its process group is killed."""
MAX_LOG_LINES = 20_000
MAX_LOG_LINE_CHARS = 2_000
TAIL_LINES = 40
MAX_PARAM_CHARS = 500
MAX_KWARGS_CHARS = 10_000

MODEL_TYPES = ("local-completions", "local-chat-completions", "dummy")
NAME = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,199}$")
"""An lm-eval task name as Cairn accepts one (no leading ``-``: it goes on a command line)."""
_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_METRIC_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_PERCENT = re.compile(r"(\d{1,3})%\|")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")
_REFUSED_MODEL_ARGS = {
    "base_url": "the endpoint is the model's url (model.url, or model.server as a URL)",
    "auth_token": "secrets do not belong in a request: set OPENAI_API_KEY in the worker's "
    "environment",
    "api_key": "secrets do not belong in a request: set OPENAI_API_KEY in the worker's environment",
    "header": "secrets do not belong in a request",
    "trust_remote_code": "remote code is never trusted",
}
# model.configuration keys that go to lm-eval: generation settings, and the API model's settings
_GEN_KEYS = {"temperature", "top_p", "top_k", "max_tokens", "max_gen_toks", "until", "do_sample"}
_MODEL_ARG_KEYS = {
    "num_concurrent",
    "max_retries",
    "max_length",
    "tokenizer_backend",
    "tokenized_requests",
    "tokenizer",
    "timeout",
    "eos_string",
    "verify_certificate",
}
_WITHHELD_PREFIXES = ("CAIRN_", "MLFLOW_")
_SKIPPED_RESULT_KEYS = {"alias", "name", "sample_len", "sample_count", "samples"}


def _param(kind: str, description: str, default: Any = None) -> ParamSpec:
    return ParamSpec(type=kind, description=description, default=default)


PARAMETERS: dict[str, ParamSpec] = {
    "num_fewshot": _param(
        "int", "Few-shot examples in each prompt (lm-eval --num_fewshot); the task's own when unset"
    ),
    "limit": _param(
        "float",
        "At most this many documents per task (a whole number), or this fraction of them "
        "(between 0 and 1); --limit. For quick checks: the scores are not comparable then.",
    ),
    "batch_size": _param("int", "Requests per API call (an integer, or 'auto'); --batch_size", 1),
    "apply_chat_template": _param(
        "bool",
        "Format prompts with the model's chat template (true, or a template name); use with "
        "model local-chat-completions",
        False,
    ),
    "task": _param(
        "str", "The lm-eval task or group to run, when it differs from the benchmark id"
    ),
    "task_yaml": _param(
        "str",
        "A task YAML file under the server's evaluation data root (CAIRN_EVAL_DATA_ROOT); its "
        "folder is added with --include_path and its task (or group) is run",
    ),
    "include_path": _param(
        "str", "A folder of task YAMLs under the evaluation data root; --include_path"
    ),
    "log_samples": _param(
        "bool",
        "Keep every prompt, response and score (--log_samples): logged as samples/<task>.jsonl",
        False,
    ),
    "gen_kwargs": _param(
        "object",
        "Generation settings for generate_until tasks (temperature, max_gen_toks, until…); "
        "the model's configuration gives the defaults",
    ),
    "seed": _param("int", "The random seed of lm-eval (--seed)"),
    "model": _param(
        "str",
        "How lm-eval talks to the model: local-completions (/v1/completions, the default), "
        "local-chat-completions (/v1/chat/completions) or dummy (lm-eval's random model, no "
        "endpoint: for tests and offline checks)",
        "local-completions",
    ),
    "model_args": _param(
        "object",
        "More lm-eval model arguments (num_concurrent, max_retries, max_length, "
        "tokenizer_backend, tokenized_requests, model: the served model name…)",
    ),
    "timeout_seconds": _param(
        "float", "Stop lm-eval and fail the benchmark after this long", DEFAULT_TIMEOUT_S
    ),
    "offline": _param(
        "bool",
        "Run with HF_DATASETS_OFFLINE=1 and HF_HUB_OFFLINE=1 (always so for a task_yaml or "
        "include_path task): only data already cached or local files",
        False,
    ),
}


@dataclass(frozen=True)
class _Known:
    id: str
    name: str
    category: str
    primary: str
    metrics: tuple[str, ...]
    description: str
    lower_is_better: bool = False


_MC = ("acc", "acc_stderr", "acc_norm", "acc_norm_stderr")
_KNOWN: tuple[_Known, ...] = (
    _Known(
        "arc_easy", "ARC Easy", "reasoning", "acc_norm", _MC,
        "Grade-school science questions, the easy set of the AI2 Reasoning Challenge",
    ),
    _Known(
        "arc_challenge", "ARC Challenge", "reasoning", "acc_norm", _MC,
        "Grade-school science questions that retrieval and co-occurrence methods fail",
    ),
    _Known(
        "hellaswag", "HellaSwag", "reasoning", "acc_norm", _MC,
        "Commonsense sentence completion with adversarially filtered endings",
    ),
    _Known(
        "piqa", "PIQA", "reasoning", "acc_norm", _MC,
        "Physical commonsense: which of two solutions reaches a goal",
    ),
    _Known(
        "winogrande", "WinoGrande", "reasoning", "acc", ("acc", "acc_stderr"),
        "Pronoun resolution needing commonsense, at scale",
    ),
    _Known(
        "openbookqa", "OpenBookQA", "knowledge", "acc_norm", _MC,
        "Elementary science questions answerable with a book of facts and common knowledge",
    ),
    _Known(
        "sciq", "SciQ", "knowledge", "acc_norm", _MC, "Crowd-sourced science exam questions"
    ),
    _Known(
        "mmlu", "MMLU", "knowledge", "acc", ("acc", "acc_stderr"),
        "57 subjects of multiple-choice questions (a group: subtasks logged as <task>/acc)",
    ),
    _Known(
        "truthfulqa_mc1", "TruthfulQA MC1", "safety", "acc", ("acc", "acc_stderr"),
        "Questions where imitating human falsehoods gives the wrong answer (single true)",
    ),
    _Known(
        "truthfulqa_mc2", "TruthfulQA MC2", "safety", "acc", ("acc", "acc_stderr"),
        "Questions where imitating human falsehoods gives the wrong answer (multiple true)",
    ),
    _Known(
        "boolq", "BoolQ", "knowledge", "acc", ("acc", "acc_stderr"),
        "Naturally occurring yes/no questions about a passage",
    ),
    _Known(
        "gsm8k", "GSM8K", "math", "exact_match_strict-match",
        (
            "exact_match_strict-match", "exact_match_stderr_strict-match",
            "exact_match_flexible-extract", "exact_match_stderr_flexible-extract",
        ),
        "Grade-school math word problems, answer extracted from the generation",
    ),
    _Known(
        "lambada_openai", "LAMBADA (OpenAI)", "language", "acc",
        ("perplexity", "perplexity_stderr", "acc", "acc_stderr"),
        "Predict the last word of a passage that needs the whole context",
    ),
    _Known(
        "wikitext", "WikiText-2", "language", "word_perplexity",
        ("word_perplexity", "byte_perplexity", "bits_per_byte"),
        "Rolling log-likelihood on Wikipedia articles (lower is better)",
        lower_is_better=True,
    ),
    _Known(
        "ifeval", "IFEval", "instruction_following", "prompt_level_strict_acc",
        (
            "prompt_level_strict_acc", "inst_level_strict_acc",
            "prompt_level_loose_acc", "inst_level_loose_acc",
        ),
        "Verifiable instructions (word counts, formats) followed by the generation",
    ),
)  # fmt: skip


def _collection(cid: str, name: str, description: str, ids: Sequence[str]) -> Collection:
    entries = [{"benchmark_id": b, "provider_id": PROVIDER_ID} for b in ids]
    return Collection(id=cid, name=name, description=description, benchmarks=entries)


COLLECTIONS: tuple[Collection, ...] = (
    _collection(
        "reasoning_basic",
        "Basic reasoning",
        "Commonsense and science reasoning with lm-evaluation-harness: ARC Easy, ARC "
        "Challenge, HellaSwag, PIQA and WinoGrande",
        ["arc_easy", "arc_challenge", "hellaswag", "piqa", "winogrande"],
    ),
    _collection(
        "knowledge_qa",
        "Knowledge QA",
        "World knowledge and truthfulness with lm-evaluation-harness: MMLU, TruthfulQA MC2, "
        "BoolQ and OpenBookQA",
        ["mmlu", "truthfulqa_mc2", "boolq", "openbookqa"],
    ),
    _collection(
        "math_basic",
        "Basic math",
        "Grade-school math word problems (GSM8K) with lm-evaluation-harness",
        ["gsm8k"],
    ),
)


# ---- validation ----------------------------------------------------------------------------


@dataclass
class Options:
    """A benchmark's config, checked and typed."""

    task: str
    model_type: str
    num_fewshot: int | None = None
    limit: float | None = None
    batch_size: str | None = None
    apply_chat_template: bool | str = False
    task_yaml: str | None = None
    include_path: str | None = None
    log_samples: bool = False
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_S
    offline: bool = False


def _bad(field_name: str, problem: str) -> CairnError:
    return CairnError.invalid(f"{field_name}: {problem}")


def _int(config: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"config.{key}", f"must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise _bad(f"config.{key}", f"must be between {low} and {high}, not {value}")
    return value


def _bool(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"config.{key}", f"must be true or false, not {type(value).__name__}")
    return value


def _str(config: Mapping[str, Any], key: str, max_length: int = 1024) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"config.{key}", f"must be a string, not {type(value).__name__}")
    if not value or len(value) > max_length:
        raise _bad(f"config.{key}", f"must be 1 to {max_length} characters long")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise _bad(f"config.{key}", "must not contain control characters")
    return value


def _limit(config: Mapping[str, Any]) -> float | None:
    value = config.get("limit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad("config.limit", f"must be a number, not {type(value).__name__}")
    if value <= 0 or (value >= 1 and not float(value).is_integer()) or value > 10_000_000:
        raise _bad(
            "config.limit",
            f"must be a whole number of documents (1 or more) or a fraction between 0 and 1, "
            f"not {value}",
        )
    return float(value)


def _batch_size(config: Mapping[str, Any]) -> str | None:
    value = config.get("batch_size")
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"auto(:\d{1,3})?", value):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise _bad(
            "config.batch_size", f"must be an integer from 1 to 4096 or 'auto', not {value!r}"
        )
    return str(value)


def _kwargs(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(f"config.{key}", f"must be an object, not {type(value).__name__}")
    out: dict[str, Any] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _ARG_KEY.match(name):
            raise _bad(f"config.{key}", f"{str(name)[:100]!r} is not a valid argument name")
        if key == "model_args" and name in _REFUSED_MODEL_ARGS:
            raise _bad(f"config.{key}.{name}", f"not accepted: {_REFUSED_MODEL_ARGS[name]}")
        if not _plain(item):
            raise _bad(
                f"config.{key}.{name}", "must be a string, number, boolean or a list of those"
            )
        out[name] = item
    if len(json.dumps(out)) > MAX_KWARGS_CHARS:
        raise _bad(f"config.{key}", f"is longer than {MAX_KWARGS_CHARS} characters as JSON")
    return out


def _plain(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if value is None or isinstance(value, str | int | bool):
        return True
    if isinstance(value, list):
        return all(
            isinstance(v, str | int | bool) or (isinstance(v, float) and math.isfinite(v))
            for v in value
        )
    return False


def parse_options(benchmark_id: str, config: Mapping[str, Any]) -> Options:
    """The config of one benchmark, checked: a 400 naming ``config.<key>`` otherwise."""
    if not isinstance(config, Mapping):
        raise _bad("config", f"must be an object, not {type(config).__name__}")
    unknown = sorted(str(k) for k in config if k not in PARAMETERS)
    if unknown:
        raise _bad(
            f"config.{unknown[0][:100]}",
            f"unknown parameter for {PROVIDER_ID} (known: {', '.join(sorted(PARAMETERS))})",
        )
    task = _str(config, "task", 200)
    if task is not None and not NAME.match(task):
        raise _bad("config.task", "an lm-eval task name is made of letters, digits, _ . and -")
    model_type = _str(config, "model", 64) or "local-completions"
    if model_type not in MODEL_TYPES:
        raise _bad("config.model", f"must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
    chat = config.get("apply_chat_template", False)
    if chat is None:
        chat = False
    if not isinstance(chat, bool):
        chat = _str(config, "apply_chat_template", 200) or False
    timeout = config.get("timeout_seconds", DEFAULT_TIMEOUT_S)
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_S
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise _bad(
            "config.timeout_seconds",
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:.0f}",
        )
    options = Options(
        task=task or benchmark_id,
        model_type=model_type,
        num_fewshot=_int(config, "num_fewshot", 0, 1000),
        limit=_limit(config),
        batch_size=_batch_size(config),
        apply_chat_template=chat,
        task_yaml=_str(config, "task_yaml"),
        include_path=_str(config, "include_path"),
        log_samples=_bool(config, "log_samples"),
        gen_kwargs=_kwargs(config, "gen_kwargs"),
        seed=_int(config, "seed", 0, 2**31 - 1),
        model_args=_kwargs(config, "model_args"),
        timeout_seconds=float(timeout),
        offline=_bool(config, "offline"),
    )
    if options.task_yaml is not None and not options.task_yaml.endswith((".yaml", ".yml")):
        raise _bad("config.task_yaml", "must name a .yaml or .yml file")
    return options


def _is_url(value: str | None) -> bool:
    if not value or len(value) > 2048 or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _mapped_server(server: str) -> str | None:
    for entry in os.environ.get(SERVERS_VARIABLE, "").split(","):
        name, _, url = entry.partition("=")
        if name.strip() == server and _is_url(url.strip()):
            return url.strip()
    return None


def model_endpoint(model: ModelSpec) -> str | None:
    """The model's OpenAI-compatible endpoint: ``url``, ``server`` when it is a URL, or the URL
    ``CAIRN_EVAL_MODEL_SERVERS`` gives for the ``server`` name."""
    for candidate in (model.url, model.server):
        if _is_url(candidate):
            return candidate
    if model.server:
        return _mapped_server(model.server)
    return None


def completions_url(endpoint: str, chat: bool) -> str:
    """``endpoint`` as the URL lm-eval posts to: ``…/v1/completions`` (or
    ``…/v1/chat/completions``); a base URL or one ending in ``/v1`` gets the rest appended."""
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if path.endswith("/completions"):
        return endpoint
    suffix = "chat/completions" if chat else "completions"
    path = f"{path}/{suffix}" if path.endswith("/v1") else f"{path}/v1/{suffix}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


# ---- results --------------------------------------------------------------------------------


def metric_key(raw: str) -> str:
    """``acc,none`` → ``acc``; ``exact_match,strict-match`` → ``exact_match_strict-match``."""
    metric, _, filter_name = raw.partition(",")
    key = metric if filter_name in ("", "none") else f"{metric}_{filter_name}"
    return _METRIC_CHARS.sub("_", key)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _members(data: Mapping[str, Any]) -> set[str]:
    groups = data.get("group_subtasks")
    found: set[str] = set()
    if isinstance(groups, Mapping):
        for members in groups.values():
            if isinstance(members, list):
                found.update(m for m in members if isinstance(m, str))
    return found


def _main_task(data: Mapping[str, Any], requested: str | None) -> str | None:
    results = data.get("results")
    if not isinstance(results, Mapping):
        return None
    if requested is not None and requested in results:
        return requested
    members = _members(data)
    top = [t for t in results if t not in members]
    return top[0] if len(top) == 1 else None


def _as_param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 1] + "…"


def parse_results(data: Mapping[str, Any], requested: str | None = None) -> BenchmarkResult:
    """An lm-eval results document (``results_*.json``) as a result: the requested task's
    numbers under their own names, every other task's as ``<task>/<name>``."""
    results = data.get("results")
    if not isinstance(results, Mapping) or not results:
        raise CairnError.invalid(
            "result_file: not an lm-eval results file (it has no 'results' object)"
        )
    main = _main_task(data, requested)
    metrics: dict[str, float] = {}
    origin: dict[str, tuple[str, str]] = {}
    for task, numbers in results.items():
        if not isinstance(numbers, Mapping):
            continue
        prefix = "" if task == main else _METRIC_CHARS.sub("_", str(task)) + "/"
        for raw, value in numbers.items():
            number = _number(value)
            if number is None or raw in _SKIPPED_RESULT_KEYS:
                continue
            key = prefix + metric_key(str(raw))
            metrics[key] = number
            origin[key] = (str(task), str(raw).partition(",")[0])
    params: dict[str, str] = {}
    if isinstance(data.get("lm_eval_version"), str):
        params["lm_eval_version"] = data["lm_eval_version"]
    found_config = data.get("config")
    config: Mapping[str, Any] = found_config if isinstance(found_config, Mapping) else {}
    if config.get("model") is not None:
        params["lm_eval_model"] = _as_param(config["model"])
    limit = config.get("limit")
    if limit is not None:
        whole = isinstance(limit, float) and limit.is_integer()
        params["limit"] = _as_param(int(limit) if whole else limit)
    task_key = main
    if task_key is not None:
        params["task"] = task_key
        for source, name in (("n-shot", "n_shot"), ("versions", "task_version")):
            table = data.get(source)
            if isinstance(table, Mapping) and table.get(task_key) is not None:
                params[name] = _as_param(table[task_key])
    samples = data.get("n-samples")
    if isinstance(samples, Mapping):
        effective = [v.get("effective") for v in samples.values() if isinstance(v, Mapping)]
        counted = [int(n) for n in effective if isinstance(n, int) and not isinstance(n, bool)]
        if counted:
            params["n_samples"] = str(sum(counted))
    subtasks = [t for t in results if t != main]
    if subtasks:
        params["subtasks"] = _as_param(",".join(str(t) for t in subtasks))
    primary, lower = _primary(data, main, origin)
    details: dict[str, Any] = {"task": main, "subtasks": subtasks[:200]}
    if primary is not None:
        details["lower_is_better"] = lower
    return BenchmarkResult(metrics=metrics, params=params, primary_metric=primary, details=details)


def _primary(
    data: Mapping[str, Any], main: str | None, origin: Mapping[str, tuple[str, str]]
) -> tuple[str | None, bool]:
    """The listed primary metric of the main task, else its first number that is not a
    standard error (else the first of any task), and whether lm-eval says lower is better."""
    listed = next((k for k in _KNOWN if k.id == main), None)
    if listed is not None and listed.primary in origin:
        return listed.primary, listed.lower_is_better
    candidates = [k for k, (_, metric) in origin.items() if not metric.endswith("_stderr")]
    own = [k for k in candidates if "/" not in k]
    if not (own or candidates):
        return None, False
    chosen = (own or candidates)[0]
    task, metric = origin[chosen]
    table = data.get("higher_is_better")
    per_task = table.get(task) if isinstance(table, Mapping) else None
    higher = per_task.get(metric) if isinstance(per_task, Mapping) else None
    return chosen, higher is False


def read_results_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CairnError.invalid(f"result_file: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise CairnError.invalid("result_file: an lm-eval results file is a JSON object")
    return data


def samples_name(path: Path) -> str:
    """``samples_arc_easy_2026-01-02T03-04-05.678901.jsonl`` → ``arc_easy.jsonl``."""
    stem = path.name.removeprefix("samples_").removesuffix(".jsonl")
    stem = re.sub(r"_\d{4}-\d{2}-\d{2}T[\d.-]+$", "", stem)
    return _METRIC_CHARS.sub("_", stem) + ".jsonl"


# ---- running --------------------------------------------------------------------------------


class _Yaml(yaml.SafeLoader):
    """A YAML loader that reads lm-eval's task files: its ``!function`` tags are kept as text."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return None


_Yaml.add_multi_constructor("!", _any_tag)


def task_name_of(path: Path) -> str | None:
    """The task (or group) a task YAML defines, after checking it parses; None when it names
    none itself (an ``include``-only file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad("config.task_yaml", f"cannot be read ({exc})") from exc
    try:
        document = yaml.load(text, Loader=_Yaml)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _bad("config.task_yaml", f"is not valid YAML: {exc}") from exc
    if not isinstance(document, Mapping):
        raise _bad("config.task_yaml", "must hold a YAML mapping (an lm-eval task or group)")
    for key in ("task", "group"):
        name = document.get(key)
        if isinstance(name, str):
            return name
    return None


@dataclass
class Plan:
    """What one run executes."""

    command: list[str]
    env: dict[str, str]
    output: Path
    task: str


def _python() -> str:
    return os.environ.get(PYTHON_VARIABLE) or sys.executable


def build_plan(ctx: BenchmarkContext, options: Options, root: Path) -> Plan:
    """The lm-eval command line and environment for one benchmark (checks the local files)."""
    task = options.task
    include: Path | None = None
    if options.include_path is not None:
        include = confined_path(options.include_path, "config.include_path", root)
        if not include.is_dir():
            raise _bad("config.include_path", f"{options.include_path!r} is not a folder")
    if options.task_yaml is not None:
        yaml_path = confined_path(options.task_yaml, "config.task_yaml", root)
        if not yaml_path.is_file():
            raise _bad("config.task_yaml", f"{options.task_yaml!r} is not a file")
        named = task_name_of(yaml_path)
        if "task" not in ctx.config and named is not None:
            if not NAME.match(named):
                raise _bad(
                    "config.task_yaml",
                    f"its task name {named[:100]!r} is not one Cairn runs (letters, digits, "
                    "_ . and -); give config.task",
                )
            task = named
        include = yaml_path.parent if include is None else include
    output = ctx.workdir / "output"
    command = [_python(), "-m", "lm_eval", "run", "--model", options.model_type]
    command += ["--tasks", task, "--output_path", str(output)]
    if options.model_type != "dummy":
        endpoint = model_endpoint(ctx.model)
        if endpoint is None:
            raise _bad(
                "model.url",
                f"no OpenAI-compatible endpoint for {ctx.model.name!r}: give the model's url, "
                f"a server that is a URL, or map the server name {ctx.model.server!r} to a "
                f"URL in {SERVERS_VARIABLE} (name=url,…) on the worker",
            )
        chat = options.model_type == "local-chat-completions"
        model_args: dict[str, Any] = {"base_url": completions_url(endpoint, chat)}
        model_args["model"] = ctx.model.name
        configuration = ctx.model.configuration or {}
        model_args.update({k: v for k, v in configuration.items() if k in _MODEL_ARG_KEYS})
        model_args.update(options.model_args)
        command += ["--model_args", json.dumps(model_args)]
        gen = {k: v for k, v in configuration.items() if k in _GEN_KEYS and _plain(v)}
        gen.update(options.gen_kwargs)
    else:
        gen = dict(options.gen_kwargs)
    if gen:
        command += ["--gen_kwargs", json.dumps(gen)]
    if include is not None:
        command += ["--include_path", str(include)]
    if options.num_fewshot is not None:
        command += ["--num_fewshot", str(options.num_fewshot)]
    if options.limit is not None:
        limit = options.limit
        command += ["--limit", str(int(limit)) if limit >= 1 else repr(limit)]
    if options.batch_size is not None:
        command += ["--batch_size", options.batch_size]
    if options.apply_chat_template is True:
        command.append("--apply_chat_template")
    elif isinstance(options.apply_chat_template, str):
        command.append(f"--apply_chat_template={options.apply_chat_template}")
    if options.seed is not None:
        command += ["--seed", str(options.seed)]
    if options.log_samples:
        command.append("--log_samples")
    # lm-eval needs its own variables (OPENAI_API_KEY, HF_TOKEN, HF_HOME…), not Cairn's
    # secrets and database URIs, nor an MLflow client's credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith(_WITHHELD_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TQDM_MININTERVAL", "2")
    if options.offline or include is not None:
        env["HF_DATASETS_OFFLINE"] = "1"
        env["HF_HUB_OFFLINE"] = "1"
    return Plan(command=command, env=env, output=output, task=task)


def _shown(command: Sequence[str]) -> str:
    return " ".join(c if re.fullmatch(r"[\w./:,=@+-]+", c) else repr(c) for c in command)


class _Output:
    """lm-eval's merged stdout/stderr, cut into lines for the job log (progress bars collapsed
    to their last state), with the last lines kept for an error message."""

    def __init__(self, ctx: BenchmarkContext) -> None:
        self.ctx = ctx
        self.pending = b""
        self.forwarded = 0
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.requests = False
        self.last_percent = -1

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if len(self.pending) > 64_000:
            lines.append(self.pending)
            self.pending = b""
        for line in lines:
            self.line(line)

    def close(self) -> None:
        if self.pending:
            self.line(self.pending)
            self.pending = b""

    def line(self, raw: bytes) -> None:
        pieces = [p for p in raw.decode("utf-8", "replace").split("\r") if p.strip()]
        if not pieces:
            return
        text = pieces[-1].rstrip()
        if len(text) > MAX_LOG_LINE_CHARS:
            text = text[:MAX_LOG_LINE_CHARS] + "…"
        self.tail.append(text)
        self.progress(text)
        if self.forwarded < MAX_LOG_LINES:
            self.ctx.log(text)
        elif self.forwarded == MAX_LOG_LINES:
            self.ctx.log(f"… lm-eval wrote more than {MAX_LOG_LINES} lines: the rest is not logged")
        self.forwarded += 1

    def progress(self, text: str) -> None:
        if "Running" in text and "requests" in text:
            self.requests = True
            self.ctx.progress("running", 0.0)
            return
        found = _PERCENT.search(text)
        if self.requests and found:
            percent = min(int(found.group(1)), 100)
            if percent != self.last_percent:
                self.last_percent = percent
                self.ctx.progress("running", percent / 100)

    def failure(self, code: int) -> str:
        lines = list(self.tail)
        if any("No module named lm_eval" in line for line in lines):
            return (
                f"lm-eval is not installed for {_python()}: pip install '{LM_EVAL_REQUIREMENT}' "
                f"(or point {PYTHON_VARIABLE} at a Python that has it)"
            )
        headline = next((ln for ln in reversed(lines) if _EXCEPTION_LINE.match(ln)), None)
        summary = f"lm-eval exited with code {code}"
        if headline:
            summary += f": {headline}"
        return summary + "\n--- last lines of its output ---\n" + "\n".join(lines[-20:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to lm-eval's process group (it runs in a session of its own, so the group is
    lm-eval and whatever it started); SIGKILL to what is left of it after the grace time."""
    stop_group(process, STOP_GRACE_S)


def execute(
    plan: Plan,
    ctx: BenchmarkContext,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run the plan's command to its end, streaming its output to ``ctx.log``; raise
    :class:`Cancelled` (after stopping it) on cancel, an error on timeout or failure."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    try:
        process = subprocess.Popen(
            plan.command,
            cwd=ctx.workdir,
            env=plan.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise RuntimeError(
            f"cannot start lm-eval with {plan.command[0]} ({exc}); set {PYTHON_VARIABLE} to a "
            f"Python that has '{LM_EVAL_REQUIREMENT}'"
        ) from exc
    lower_priority(process.pid)  # lm-eval's work waits for the server's (nice 19, SCHED_IDLE)
    ctx.log(f"started lm-eval (pid {process.pid}): {_shown(plan.command)}")
    out = _Output(ctx)
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = clock() + timeout_s
    exited_at: float | None = None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            open_pipe = True
            while True:
                if ctx.cancelled():
                    _stop(process)
                    out.close()
                    ctx.log("cancelled: lm-eval stopped")
                    raise Cancelled(f"lm-eval task {plan.task!r} was cancelled")
                now = clock()
                if now > deadline:
                    _stop(process)
                    out.close()
                    raise TimeoutError(
                        f"lm-eval did not finish within {timeout_s:g} s "
                        "(config.timeout_seconds): stopped"
                    )
                if open_pipe and selector.select(timeout=0.25):
                    chunk = os.read(fd, 65536)
                    if chunk:
                        out.feed(chunk)
                        continue
                    selector.unregister(fd)
                    open_pipe = False
                code = process.poll()
                if code is not None:
                    # the pipe may stay open in a leftover child: give it a moment, not forever
                    exited_at = exited_at if exited_at is not None else now
                    if not open_pipe:
                        break
                    if now - exited_at > 5.0:
                        _stop(process)  # a leftover child of lm-eval still holds the pipe
                        break
                elif not open_pipe:
                    time.sleep(0.1)
    finally:
        process.stdout.close()
        if process.poll() is None:
            _stop(process)
    out.close()
    code = process.returncode
    if code != 0:
        raise RuntimeError(out.failure(code))


def newest(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.rglob(pattern), key=lambda p: (p.stat().st_mtime, p.name))


class LmEvalProvider:
    """EleutherAI's lm-evaluation-harness against an OpenAI-compatible endpoint."""

    id = PROVIDER_ID
    name = "lm-evaluation-harness"
    description = (
        "EleutherAI's lm-evaluation-harness (lm-eval 0.4.13) run as a subprocess against the "
        "model's OpenAI-compatible endpoint (local-completions / local-chat-completions): any "
        "task or group of lm-eval's registry, or a task YAML under the server's evaluation "
        "data root"
    )
    runs_in_cairn = True
    own_process = True
    """It starts and watches lm-eval's own process: it runs in the worker, not in a child."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else data_root()

    def benchmarks(self) -> Sequence[BenchmarkInfo]:
        """The common benchmarks with their primary metric; every one is marked
        ``open_ended``: any other lm-eval task name is accepted too (``validate`` decides)."""
        listed = [
            BenchmarkInfo(
                id=k.id,
                name=k.name,
                description=k.description,
                category=k.category,
                metrics=k.metrics,
                primary_metric=k.primary,
                lower_is_better=k.lower_is_better,
                parameters=PARAMETERS,
                open_ended=True,
            )
            for k in _KNOWN
        ]
        return listed

    def collections(self) -> Sequence[Collection]:
        return COLLECTIONS

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        if not isinstance(benchmark_id, str) or not NAME.match(benchmark_id):
            raise _bad(
                "benchmark_id",
                f"{str(benchmark_id)[:100]!r} is not an lm-eval task name (letters, digits, "
                "_ . and -, not starting with -, at most 200)",
            )
        options = parse_options(benchmark_id, config)
        root = self.root
        if options.task_yaml is not None:
            confined_path(options.task_yaml, "config.task_yaml", root)
        if options.include_path is not None:
            confined_path(options.include_path, "config.include_path", root)
        if options.model_type == "dummy":
            return
        for name, value in (("model.url", model.url), ("model.server", model.server)):
            if value is not None and (not isinstance(value, str) or len(value) > 2048):
                raise _bad(name, "must be a string of at most 2048 characters")
        if model.url is not None and not _is_url(model.url):
            raise _bad("model.url", f"{model.url[:200]!r} is not an http(s) URL")
        for name, value in (("model.url", model.url), ("model.server", model.server)):
            if _is_url(value) and urlsplit(str(value)).username is not None:
                raise _bad(
                    name,
                    "credentials do not belong in the URL (it is logged and recorded): set "
                    "OPENAI_API_KEY in the worker's environment",
                )
        if model_endpoint(model) is None and not model.server:
            raise _bad(
                "model.url",
                f"{PROVIDER_ID} needs the model's OpenAI-compatible endpoint (model.url, or "
                "model.server as a URL); set config.model to 'dummy' for lm-eval's test model",
            )

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        options = parse_options(ctx.benchmark_id, ctx.config)
        plan = build_plan(ctx, options, self.root)
        ctx.progress("starting", None)
        execute(plan, ctx, options.timeout_seconds)
        ctx.progress("scoring", None)
        found = newest(plan.output, "results_*.json")
        if not found:
            raise RuntimeError(f"lm-eval finished but wrote no results_*.json under {plan.output}")
        results_path = found[-1]
        result = parse_results(read_results_file(results_path), plan.task)
        result.artifacts["results.json"] = results_path
        for samples in newest(plan.output, "samples_*.jsonl"):
            result.artifacts[f"samples/{samples_name(samples)}"] = samples
        result.params.setdefault("model_type", options.model_type)
        listed = next((k for k in _KNOWN if k.id == ctx.benchmark_id), None)
        if listed is not None and listed.primary in result.metrics:
            result.primary_metric = listed.primary
        ctx.log(
            f"lm-eval finished: {len(result.metrics)} metrics"
            + (f", {result.primary_metric} = {result.metrics[result.primary_metric]:.4f}"
               if result.primary_metric in result.metrics else "")
        )  # fmt: skip
        return result

    def report(self, path: Path) -> BenchmarkResult:
        result = parse_results(read_results_file(path))
        result.artifacts["results.json"] = path
        return result


PROVIDER = register(LmEvalProvider())
