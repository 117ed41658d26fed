"""Red-team results beyond an evaluation job: log a red-team run the way seed 000's service
does (``POST /api/v1/red-team/log``), and a model's vulnerability trend across versions and
time (``GET /api/v1/red-team/models/{name}``). See docs/red-team.md.

A logged result is an ordinary run (in experiment ``red-team`` unless told otherwise) with
the metrics of :func:`cairn.evals.red_team.summarize`, the tags ``cairn.red_team.model_name``
(+ ``cairn.red_team.model_version`` when the name is a registered model: its latest
version, or the one given) and the artifacts ``detailed_results.json`` and
``attack_analysis.json``; the registered version gets the tag ``cairn.red_team.last_run``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cairn.access.service import AccessService
from cairn.artifacts.paths import join
from cairn.entities.access import ALL, Identity, Permission, ResourceType, Visibility
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.numbers import decimal
from cairn.entities.tracking import Metric
from cairn.evals import red_team as suites
from cairn.services.artifacts import ArtifactService
from cairn.services.registry import RegistryService
from cairn.services.tracking import TrackingService
from cairn.store import artifact_events
from cairn.store import red_team as store
from cairn.store.db import Database

DEFAULT_EXPERIMENT = "red-team"
LAST_RUN_TAG = "cairn.red_team.last_run"
MAX_RESULTS = 10_000
MAX_PATTERNS = 1_000
MAX_NAME = 256
MAX_POINTS = 500
RATE_EPSILON = 1e-9

ACCEPTED = {"model_name", "test_results", "attack_patterns", "experiment_name", "model_version"}


def _text(value: object, field: str, limit: int = MAX_NAME, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CairnError.invalid(f"{field}: expected a non-empty string")
    if len(value) > limit or any(ord(ch) < 32 for ch in value):
        raise CairnError.invalid(f"{field}: at most {limit} characters, no control characters")
    return value


def _flag(item: Mapping[str, Any], where: str) -> bool:
    """Whether the model detected the attack: ``detected``, or the seed's ``success`` (the
    attack got through) or ``blocked``; when several are given they must agree."""
    said: list[bool] = []
    for key, means_detected in (("detected", True), ("blocked", True), ("success", False)):
        if key in item and item[key] is not None:
            value = item[key]
            if not isinstance(value, bool):
                raise CairnError.invalid(f"{where}.{key}: expected true or false")
            said.append(value if means_detected else not value)
    if not said:
        raise CairnError.invalid(
            f"{where}: needs 'detected' (the model flagged it) or 'success' (the attack got "
            "through), true or false"
        )
    if len(set(said)) > 1:
        raise CairnError.invalid(f"{where}: 'detected' and 'success' contradict each other")
    return said[0]


def parse_results(raw: object) -> list[dict[str, Any]]:
    """The ``test_results`` of a log call, each with ``attack_type`` and ``detected`` (and
    ``success``) set; other fields are kept as given."""
    if not isinstance(raw, list) or not raw:
        raise CairnError.invalid("test_results: expected a non-empty list")
    if len(raw) > MAX_RESULTS:
        raise CairnError.invalid(f"test_results: at most {MAX_RESULTS} items")
    parsed = []
    for i, item in enumerate(raw):
        where = f"test_results[{i}]"
        if not isinstance(item, dict):
            raise CairnError.invalid(f"{where}: expected an object")
        kind_key = "attack_type" if "attack_type" in item else "type"
        kind = suites.attack_type(item.get(kind_key), f"{where}.attack_type")
        prompt = item.get("prompt")
        if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 20_000):
            raise CairnError.invalid(f"{where}.prompt: expected a string (≤ 20000 characters)")
        detected = _flag(item, where)
        success = (not detected) if kind != suites.BENIGN else False
        parsed.append({**item, "attack_type": kind, "detected": detected, "success": success})
    return parsed


def parse_patterns(raw: object) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CairnError.invalid("attack_patterns: expected a list")
    if len(raw) > MAX_PATTERNS:
        raise CairnError.invalid(f"attack_patterns: at most {MAX_PATTERNS} items")
    for i, item in enumerate(raw):
        if not isinstance(item, str | dict):
            raise CairnError.invalid(f"attack_patterns[{i}]: expected a string or an object")
    return raw


class RedTeamService:
    def __init__(
        self,
        db: Database,
        tracking: TrackingService,
        registry: RegistryService,
        artifacts: ArtifactService,
        access: AccessService | None = None,
    ):
        """``access``: the AccessService deciding who may write where (None: access control
        off)."""
        self.db = db
        self.tracking = tracking
        self.registry = registry
        self.artifacts = artifacts
        self.access = access

    # ------------------------------------------------------------------------------ who
    def _permission(self, who: Identity, kind: ResourceType, resource_id: str) -> Permission:
        if who.unrestricted or self.access is None:
            return Permission.MANAGE
        return self.access.permission(who, kind, resource_id)

    def _need_edit(self, who: Identity, kind: ResourceType, resource_id: str, what: str) -> None:
        if who.read_only:
            raise CairnError("A read-only token cannot log red-team results",
                             ErrorCode.PERMISSION_DENIED)  # fmt: skip
        if self._permission(who, kind, resource_id) < Permission.EDIT:
            raise CairnError(
                f"Logging red-team results needs EDIT on the {what}", ErrorCode.PERMISSION_DENIED
            )

    def _visibility(self, who: Identity) -> Visibility:
        if who.unrestricted or self.access is None:
            return ALL
        return self.access.visibility(who, ResourceType.EXPERIMENT)

    # ------------------------------------------------------------------------------ log
    def _registered_version(self, name: str, asked: object) -> int | None:
        """The version a log call links to: the one asked for, else the model's newest;
        None when ``name`` is not a registered model (or has no versions)."""
        try:
            self.registry.get_model(name)
        except CairnError as exc:
            if exc.error_code != ErrorCode.RESOURCE_DOES_NOT_EXIST:
                raise
            if asked is not None:
                raise CairnError.invalid(
                    f"model_version: '{name}' is not a registered model"
                ) from None
            return None
        if asked is not None:
            if isinstance(asked, bool) or not isinstance(asked, int | str):
                raise CairnError.invalid("model_version: expected a version number")
            text = str(asked).strip()
            if decimal(text) is None:
                raise CairnError.invalid("model_version: expected a version number")
            try:
                return self.registry.get_version(name, int(text)).version
            except CairnError as exc:
                raise CairnError.invalid(f"model_version: {exc.message}") from None
        versions = self.registry.latest_versions(name)
        return max((v.version for v in versions), default=None)

    def _experiment(self, who: Identity, name: str) -> tuple[str, bool]:
        """(experiment id, created now) of the experiment called ``name``."""
        try:
            found = self.tracking.get_experiment_by_name(name)
        except CairnError as exc:
            if exc.error_code != ErrorCode.RESOURCE_DOES_NOT_EXIST:
                raise
        else:
            if found.lifecycle_stage != "active":
                raise CairnError.invalid(f"experiment_name: experiment '{name}' is deleted")
            self._need_edit(who, ResourceType.EXPERIMENT, found.experiment_id,
                            f"experiment '{name}'")  # fmt: skip
            return found.experiment_id, False
        if who.read_only:
            raise CairnError("A read-only token cannot log red-team results",
                             ErrorCode.PERMISSION_DENIED)  # fmt: skip
        try:
            return self.tracking.create_experiment(name), True
        except CairnError as refused:
            if refused.error_code != ErrorCode.RESOURCE_ALREADY_EXISTS:  # created meanwhile?
                raise CairnError.invalid(f"experiment_name: {refused.message}") from None
            return self.tracking.get_experiment_by_name(name).experiment_id, False

    def log(self, who: Identity, body: object) -> dict[str, Any]:
        """Log one red-team run; what was recorded. See docs/red-team.md for the body."""
        if not isinstance(body, dict):
            raise CairnError.invalid("body: expected a JSON object")
        unknown = sorted(k for k in body if k not in ACCEPTED)
        if unknown:
            raise CairnError.invalid(
                f"{unknown[0]}: unknown field (accepted: {', '.join(sorted(ACCEPTED))})"
            )
        name = str(_text(body.get("model_name"), "model_name"))
        results = parse_results(body.get("test_results"))
        patterns = parse_patterns(body.get("attack_patterns"))
        experiment_name = str(
            _text(body.get("experiment_name"), "experiment_name", required=False)
            or DEFAULT_EXPERIMENT
        )
        version = self._registered_version(name, body.get("model_version"))
        if version is not None:
            self._need_edit(who, ResourceType.REGISTERED_MODEL, name,
                            f"registered model '{name}'")  # fmt: skip
        experiment_id, created = self._experiment(who, experiment_name)
        if created and self.access is not None and who.user_id is not None:
            self.access.grant_creator(who, ResourceType.EXPERIMENT, experiment_id)
        metrics, analysis = suites.summarize(results)
        for kind in suites.ATTACK_TYPES:  # the seed's four types are always reported
            metrics.setdefault(f"attack_{kind}_count", 0.0)
        now = int(time.time() * 1000)
        tags = [(suites.MODEL_NAME_TAG, name), ("cairn.red_team.source", "api")]
        if version is not None:
            tags.append((suites.MODEL_VERSION_TAG, str(version)))
        run = self.tracking.create_run(
            experiment_id, user_id=who.username, start_time=now,
            run_name=f"red-team-{name}"[:250], tags=tags,
        )  # fmt: skip
        run_id = run.info.run_id
        params = [("model_name", name), ("total_results", str(len(results))),
                  ("attack_patterns", str(len(patterns)))]  # fmt: skip
        if version is not None:
            params.append(("model_version", str(version)))
        points = [Metric(k, v, now, 0) for k, v in sorted(metrics.items())]
        self.tracking.log_batch(run_id, metrics=points, params=params)
        detail = {
            "model_name": name,
            "model_version": version,
            "metrics": metrics,
            "attack_analysis": analysis,
            "attack_patterns": patterns,
            "test_results": results,
        }
        root = self.artifacts.run_root(run.info)
        self._write(join(root, "detailed_results.json"), detail)
        self._write(join(root, "attack_analysis.json"), analysis)
        self.tracking.update_run(run_id, "FINISHED", int(time.time() * 1000))
        if version is not None:
            self.registry.set_version_tag(name, version, LAST_RUN_TAG, run_id)
        return {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "experiment_name": experiment_name,
            "model_name": name,
            "model_version": version,
            "metrics": metrics,
            "attack_analysis": analysis,
        }

    def _write(self, path: str, data: object) -> None:
        payload = json.dumps(data, indent=1, default=str).encode()
        writer = self.artifacts.repo.open_write(path)
        try:
            writer.write(payload)
            size = writer.commit()
        except BaseException:
            writer.abort()
            raise
        self.db.write(
            lambda c: artifact_events.record(c, "artifact.write", path, None, {"size": size})
        )

    # ---------------------------------------------------------------------------- trend
    def trend(self, who: Identity, name: object, max_points: int = 100) -> dict[str, Any]:
        """The model's red-team runs the caller may read, oldest first, and what changed
        between consecutive ones."""
        model = str(_text(name, "name"))
        if not 0 < max_points <= MAX_POINTS:
            raise CairnError.invalid(f"max_points: between 1 and {MAX_POINTS}")
        found = self.db.read(
            lambda c: store.model_runs(c, model, max_points, self._visibility(who))
        )
        points = [_point(run) for run in found]
        return {"model_name": model, "points": points, "changes": changes(points)}


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _point(run: store.RedTeamRun) -> dict[str, Any]:
    m = run.metrics
    per_type: dict[str, dict[str, Any]] = {}
    for key, value in m.items():
        if key.startswith("attack_") and key.endswith("_count"):
            kind = key[len("attack_") : -len("_count")]
            rate = _number(m.get(f"attack_{kind}_success_rate"))
            count = int(value)
            per_type[kind] = {
                "count": count,
                "successful": round(rate * count) if rate is not None else None,
                "success_rate": rate,
            }
    total = _number(m.get("red_team_total_tests"))
    successful = _number(m.get("red_team_successful_attacks"))
    return {
        "run_id": run.run_id,
        "time": run.start_time,
        "version": run.version,
        "experiment_id": run.experiment_id,
        "total": int(total) if total is not None else None,
        "successful": int(successful) if successful is not None else None,
        "detection_rate": _number(m.get("red_team_detection_rate")),
        "vulnerability_rate": _number(m.get("red_team_vulnerability_rate")),
        "benign_false_positive_rate": _number(m.get("benign_false_positive_rate")),
        "per_type": dict(sorted(per_type.items())),
    }


def _through(point: Mapping[str, Any]) -> set[str]:
    return {k for k, v in point["per_type"].items() if v["count"] and (v["successful"] or 0) > 0}


def changes(points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Between consecutive points: the attack types that newly got through (some attack of
    that type succeeded now and none did before) and those that stopped getting through,
    among the types both points tested."""
    found = []
    for before, after in zip(points, points[1:], strict=False):
        tested = set(before["per_type"]) & set(after["per_type"])
        was, now = _through(before) & tested, _through(after) & tested
        newly, stopped = sorted(now - was), sorted(was - now)
        if not newly and not stopped:
            continue
        found.append({
            "from_run_id": before["run_id"], "to_run_id": after["run_id"],
            "from_version": before["version"], "to_version": after["version"],
            "time": after["time"], "newly_through": newly, "stopped": stopped,
        })  # fmt: skip
    return found
