"""Provider ``red_team``: attack suites run against a registered text classifier, and the
red-team summary shared with ``POST /api/v1/red-team/log``.

Suites are JSON Lines files, one test a line::

    {"id": "pi-001", "attack_type": "prompt_injection", "prompt": "Ignore…",
     "expected": "prompt_injection"}

Cairn ships ``prompt_injection``, ``jailbreak``, ``system_extraction``, ``code_injection`` and
a ``benign`` control set (cairn/evals/suites/); ``config.suite_path`` adds a user suite of the
same format from the evaluation data root. Each prompt goes to the model as one row of a
one-column table (``config.input_column``, default ``text``). An attack is **detected** when
the model's label counts as detected (``config.attack_label_map``; by default every label but
the benign ones: ``benign``, ``safe``, ``clean``, ``normal``, ``0``…) and **succeeds** when it
is not. A benign prompt that is flagged is a false positive.

Metrics (the seed's names): ``red_team_total_tests`` (attack prompts; the benign control set
is not counted), ``red_team_successful_attacks``, ``red_team_detection_rate``,
``red_team_vulnerability_rate``, ``attack_<type>_count``, ``attack_<type>_success_rate``, and
for the control set ``benign_count``, ``benign_false_positives``,
``benign_false_positive_rate``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources as package_files
from pathlib import Path
from typing import Any

from cairn.entities.errors import CairnError
from cairn.evals import tables
from cairn.evals.cairn_model import load_registered, require_registered
from cairn.evals.child import TIMEOUT_PARAM
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

ATTACK_TYPES = ("prompt_injection", "jailbreak", "system_extraction", "code_injection")
BENIGN = "benign"
SUITES = (*ATTACK_TYPES, BENIGN)
ALL = "all"
BENIGN_LABELS = frozenset(
    {"benign", "safe", "clean", "normal", "legit", "legitimate", "negative", "none", "ok",
     "0", "false", "label_0"}
)  # fmt: skip
MODEL_NAME_TAG = "cairn.red_team.model_name"
MODEL_VERSION_TAG = "cairn.red_team.model_version"
MAX_TESTS = 10_000
"""At most this many tests in one run (shipped + user suite, after ``limit``)."""
MAX_PROMPT = 20_000
BATCH = 256
_TYPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

_PARAMS = {
    "suite_path": ParamSpec(
        "str",
        "A user suite (JSON Lines: id, attack_type, prompt, expected) under the evaluation data "
        "root; its tests are added to the shipped ones",
    ),
    "attack_label_map": ParamSpec(
        "object",
        "How the model's labels map to 'detected': {label: true|false} (labels not listed "
        "count as not detected), or a list of the labels that count as detected. Default: "
        "every label but benign/safe/clean/normal/0/false",
    ),
    "limit": ParamSpec("int", "At most this many tests of each suite"),
    "input_column": ParamSpec("str", "The model's text input column", "text"),
    "timeout_seconds": TIMEOUT_PARAM,
}


def _info(suite: str) -> BenchmarkInfo:
    if suite == BENIGN:
        return BenchmarkInfo(
            id=BENIGN,
            name="Benign control set",
            description="Harmless prompts: how many does the model wrongly flag?",
            category="security",
            metrics=("benign_count", "benign_false_positives", "benign_false_positive_rate"),
            primary_metric="benign_false_positive_rate",
            lower_is_better=True,
            parameters=_PARAMS,
        )
    return BenchmarkInfo(
        id=suite,
        name=suite.replace("_", " ").capitalize(),
        description=f"The shipped {suite.replace('_', ' ')} suite",
        category="security",
        metrics=(
            "red_team_total_tests",
            "red_team_successful_attacks",
            "red_team_detection_rate",
            "red_team_vulnerability_rate",
            f"attack_{suite}_count",
            f"attack_{suite}_success_rate",
        ),
        primary_metric="red_team_detection_rate",
        parameters=_PARAMS,
    )


ALL_INFO = BenchmarkInfo(
    id=ALL,
    name="All suites",
    description="Every shipped attack suite and the benign control set (or those in "
    "`suites`), plus a user suite",
    category="security",
    metrics=(
        "red_team_total_tests",
        "red_team_successful_attacks",
        "red_team_detection_rate",
        "red_team_vulnerability_rate",
        *(f"attack_{t}_count" for t in ATTACK_TYPES),
        *(f"attack_{t}_success_rate" for t in ATTACK_TYPES),
        "benign_false_positive_rate",
    ),
    primary_metric="red_team_detection_rate",
    parameters={
        "suites": ParamSpec("list", f"Which shipped suites ({', '.join(SUITES)})", list(SUITES)),
        **_PARAMS,
    },
)
INFOS = {info.id: info for info in (*(_info(s) for s in SUITES), ALL_INFO)}


# ------------------------------------------------------------------------------- summary
def summarize(results: Iterable[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, Any]]:
    """(metrics, attack analysis) of test results, each ``{attack_type, detected: bool}``
    (``benign`` results are the control set: detected means a false positive)."""
    per_type: dict[str, dict[str, int]] = {}
    for item in results:
        kind = str(item["attack_type"])
        counts = per_type.setdefault(kind, {"count": 0, "detected": 0})
        counts["count"] += 1
        counts["detected"] += 1 if item["detected"] else 0
    metrics: dict[str, float] = {}
    analysis: dict[str, Any] = {}
    total = detected = 0
    for kind, counts in sorted(per_type.items()):
        count, flagged = counts["count"], counts["detected"]
        if kind == BENIGN:
            metrics["benign_count"] = float(count)
            metrics["benign_false_positives"] = float(flagged)
            metrics["benign_false_positive_rate"] = flagged / count
            analysis[kind] = {"count": count, "false_positives": flagged,
                              "false_positive_rate": flagged / count}  # fmt: skip
            continue
        total, detected = total + count, detected + flagged
        successful = count - flagged
        metrics[f"attack_{kind}_count"] = float(count)
        metrics[f"attack_{kind}_success_rate"] = successful / count
        analysis[kind] = {"count": count, "detected": flagged, "successful": successful,
                          "success_rate": successful / count}  # fmt: skip
    metrics["red_team_total_tests"] = float(total)
    metrics["red_team_successful_attacks"] = float(total - detected)
    if total:
        metrics["red_team_detection_rate"] = detected / total
        metrics["red_team_vulnerability_rate"] = (total - detected) / total
    return metrics, analysis


def attack_type(value: object, field: str) -> str:
    if not isinstance(value, str) or not _TYPE.match(value):
        raise CairnError.invalid(
            f"{field}: expected an attack type of letters, digits, '_', '.' or '-' "
            "(at most 64), e.g. prompt_injection"
        )
    return value


# -------------------------------------------------------------------------------- suites
def parse_suite(lines: Iterable[str], field: str, source: str) -> list[dict[str, Any]]:
    """The tests of a suite file; a 400 naming ``field`` and the line for a bad one."""
    tests: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(tests) >= MAX_TESTS:
            raise CairnError.invalid(f"{field}: more than {MAX_TESTS} tests in {source}")
        where = f"{field}: {source} line {number}"
        try:
            item = json.loads(line)
        except ValueError:
            raise CairnError.invalid(f"{where}: not a JSON object") from None
        if not isinstance(item, dict):
            raise CairnError.invalid(f"{where}: not a JSON object")
        prompt = item.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT:
            raise CairnError.invalid(f"{where}: 'prompt' must be a non-empty string")
        kind = attack_type(item.get("attack_type"), f"{where}: 'attack_type'")
        test_id = item.get("id", f"{Path(source).stem}-{number}")
        expected = item.get("expected")
        if expected is not None and not isinstance(expected, str):
            raise CairnError.invalid(f"{where}: 'expected' must be a string")
        tests.append({"id": str(test_id)[:200], "attack_type": kind, "prompt": prompt,
                      "expected": expected})  # fmt: skip
    return tests


def shipped_suite(name: str) -> list[dict[str, Any]]:
    text = (package_files.files("cairn.evals") / "suites" / f"{name}.jsonl").read_text("utf-8")
    return parse_suite(text.splitlines(), "config.suites", f"{name}.jsonl")


# ------------------------------------------------------------------------------- config
def check_config(benchmark_id: str, config: Mapping[str, Any]) -> BenchmarkInfo:
    info = INFOS.get(benchmark_id)
    if info is None:
        raise CairnError.invalid(
            f"benchmark_id: provider 'red_team' has no benchmark {benchmark_id!r} "
            f"({', '.join(INFOS)})"
        )
    tables.check_keys(config, set(info.parameters))
    suites = config.get("suites")
    if suites is not None:
        if not isinstance(suites, list) or not suites:
            raise CairnError.invalid("config.suites: expected a non-empty list of suite names")
        for i, name in enumerate(suites):
            if name not in SUITES:
                raise CairnError.invalid(
                    f"config.suites[{i}]: unknown suite {str(name)[:60]!r} ({', '.join(SUITES)})"
                )
    tables.text_value(config, "suite_path")
    tables.int_value(config, "limit", MAX_TESTS)
    column = tables.text_value(config, "input_column")
    if column is not None and len(column) > 250:
        raise CairnError.invalid("config.input_column: at most 250 characters")
    label_map(config.get("attack_label_map"))
    return info


def label_map(raw: object) -> dict[str, bool] | None:
    """``attack_label_map`` as {label: detected}, or None for the default rule."""
    if raw is None:
        return None
    if isinstance(raw, list):
        if not raw or len(raw) > 1000 or not all(isinstance(v, str | int) for v in raw):
            raise CairnError.invalid(
                "config.attack_label_map: a list must hold 1 to 1000 labels (strings)"
            )
        return {str(v): True for v in raw}
    if isinstance(raw, dict):
        if not raw or len(raw) > 1000:
            raise CairnError.invalid("config.attack_label_map: expected 1 to 1000 labels")
        mapped: dict[str, bool] = {}
        for key, value in raw.items():
            if isinstance(value, bool):
                mapped[str(key)] = value
            elif value in ("detected", "attack", "benign", "safe"):
                mapped[str(key)] = value in ("detected", "attack")
            else:
                raise CairnError.invalid(
                    f"config.attack_label_map.{str(key)[:60]}: expected true/false "
                    "(or 'detected'/'benign')"
                )
        return mapped
    raise CairnError.invalid(
        "config.attack_label_map: expected an object {label: true|false} or a list of labels"
    )


def is_detected(label: object, mapping: Mapping[str, bool] | None) -> bool:
    text = str(label)
    if mapping is not None:
        return mapping.get(text, False)
    return text.strip().lower() not in BENIGN_LABELS


# ----------------------------------------------------------------------------- provider
class RedTeamProvider:
    id = "red_team"
    name = "Red team"
    description = (
        "Attack suites (prompt injection, jailbreak, system extraction, code injection) and a "
        "benign control set run against a registered text classifier: which attacks get "
        "through, which harmless prompts are flagged"
    )
    runs_in_cairn = True

    def benchmarks(self) -> Sequence[BenchmarkInfo]:
        return tuple(INFOS.values())

    def collections(self) -> Sequence[Collection]:
        return (
            Collection(
                id="red_team_full",
                name="Red team: every suite",
                description="All shipped attack suites and the benign control set in one run",
                benchmarks=({"benchmark_id": ALL, "provider_id": self.id},),
            ),
        )

    def validate(self, benchmark_id: str, config: Mapping[str, Any], model: ModelSpec) -> None:
        check_config(benchmark_id, config)
        require_registered(self.id, model)

    def tests(self, ctx: BenchmarkContext) -> list[dict[str, Any]]:
        """The tests this benchmark runs: the chosen shipped suites, then the user suite."""
        config = ctx.config
        if ctx.benchmark_id == ALL:
            names = list(config.get("suites") or SUITES)
        else:
            names = [ctx.benchmark_id]
        limit = config.get("limit")
        chosen: list[dict[str, Any]] = []
        for name in names:
            chosen.extend(shipped_suite(name)[:limit])
        if config.get("suite_path"):
            ref = str(config["suite_path"])
            try:
                path = ctx.resources.dataset_file(ref, ctx.workdir / "suite")
            except CairnError as exc:
                message = re.sub(r"^dataset(_path)?", "config.suite_path", exc.message)
                raise CairnError(message, exc.error_code) from None
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                raise CairnError.invalid("config.suite_path: not a UTF-8 text file") from None
            user = parse_suite(text.splitlines(), "config.suite_path", path.name)
            by_type: dict[str, int] = {}
            for test in user:
                seen = by_type.get(test["attack_type"], 0)
                if limit is None or seen < limit:
                    chosen.append({**test, "suite": "user"})
                by_type[test["attack_type"]] = seen + 1
        if len(chosen) > MAX_TESTS:
            raise CairnError.invalid(f"config.limit: {len(chosen)} tests, at most {MAX_TESTS}")
        return chosen

    def run(self, ctx: BenchmarkContext) -> BenchmarkResult:
        check_config(ctx.benchmark_id, ctx.config)
        mapping = label_map(ctx.config.get("attack_label_map"))
        column = str(ctx.config.get("input_column") or "text")
        ctx.progress("loading", 0.0)
        tests = self.tests(ctx)
        model = load_registered(ctx)
        labels = predict_all(ctx, model, column, [t["prompt"] for t in tests])
        results = []
        for test, label in zip(tests, labels, strict=True):
            detected = is_detected(label, mapping)
            kind = test["attack_type"]
            results.append({**test, "predicted": label, "detected": detected,
                            "success": (not detected) if kind != BENIGN else False,
                            "false_positive": detected if kind == BENIGN else False})  # fmt: skip
        metrics, analysis = summarize(results)
        out = ctx.workdir / "out"
        out.mkdir(parents=True, exist_ok=True)
        name = ctx.model.registered_name or ctx.model.name
        version = ctx.model.registered_version
        detail = {
            "model_name": name,
            "model_version": version,
            "benchmark_id": ctx.benchmark_id,
            "metrics": metrics,
            "attack_analysis": analysis,
            "test_results": results,
        }
        (out / "detailed_results.json").write_text(json.dumps(detail, indent=1), "utf-8")
        tags = {MODEL_NAME_TAG: str(name)}
        if version is not None:
            tags[MODEL_VERSION_TAG] = str(version)
        got_through = sorted(k for k, a in analysis.items() if a.get("successful"))
        ctx.log(
            f"{ctx.benchmark_id}: {int(metrics['red_team_total_tests'])} attacks, "
            f"{int(metrics['red_team_successful_attacks'])} got through"
            + (f" ({', '.join(got_through)})" if got_through else "")
        )
        ctx.progress("done", 1.0)
        return BenchmarkResult(
            metrics=metrics,
            params={"tests": str(len(results)), "input_column": column},
            tags=tags,
            artifacts={"detailed_results.json": out / "detailed_results.json"},
            primary_metric=INFOS[ctx.benchmark_id].primary_metric,
            details={"attack_analysis": analysis},
        )

    def report(self, path: Path) -> BenchmarkResult:
        """A ``detailed_results.json`` written by this provider (or one with the same
        ``test_results`` list) turned back into a result."""
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            raise CairnError.invalid("result_file: not a JSON file") from None
        items = data.get("test_results") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise CairnError.invalid('result_file: expected {"test_results": [...]}')
        results = []
        for i, item in enumerate(items[:MAX_TESTS]):
            if not isinstance(item, dict) or not isinstance(item.get("detected"), bool):
                raise CairnError.invalid(
                    f"result_file: test_results[{i}] needs attack_type and detected (bool)"
                )
            kind = attack_type(item.get("attack_type"), f"result_file: test_results[{i}]")
            results.append({"attack_type": kind, "detected": item["detected"]})
        metrics, analysis = summarize(results)
        return BenchmarkResult(
            metrics=metrics,
            artifacts={"detailed_results.json": path},
            primary_metric="red_team_detection_rate",
            details={"attack_analysis": analysis},
        )


def predict_all(ctx: BenchmarkContext, model: Any, column: str, prompts: list[str]) -> list[str]:
    """The model's label for every prompt, in batches (cancellable, with progress)."""
    import pandas as pd

    labels: list[str] = []
    for start in range(0, len(prompts), BATCH):
        if ctx.cancelled():
            raise Cancelled()
        batch = pd.DataFrame({column: prompts[start : start + BATCH]})
        try:
            predicted = list(model.predict(batch))
        except (ValueError, KeyError, TypeError) as exc:
            raise CairnError.invalid(
                f"config.input_column: the model cannot score a {column!r} column: {exc}"[:600]
            ) from None
        labels.extend(str(p.item() if hasattr(p, "item") else p) for p in predicted)
        ctx.progress("attacking", 0.1 + 0.8 * len(labels) / max(len(prompts), 1))
    if ctx.cancelled():
        raise Cancelled()
    return labels


PROVIDER = register(RedTeamProvider())
