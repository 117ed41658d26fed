"""Registered models and their versions, after the runs they come from.

A version is copied when its files are in a synced run's artifacts: a ``runs:/<run>/<path>``
source, or a location inside that run's artifact folder. Its source is rewritten to the
destination run. Versions of MLflow 3 logged models (``models:/m-…``) and versions whose run
was not synced are skipped, with a note. Each destination version carries the tag
``cairn.sync.source = <store id>/<model name>/<source version>``; the ledger keeps the
mapping, the stage, tags, description and aliases delivered.
"""

from __future__ import annotations

import re
from typing import Any

from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.sync.errors import ServerRefused
from cairn.sync.ledger import Ledger, hashes, value_hash
from cairn.sync.remote import SYNC_TAG, RegistryCalls

RUNS_SOURCE = re.compile(r"^runs:/([0-9a-f]{32})(/.*)?$")
LOGGED_SOURCE = re.compile(r"^models:/(m-[0-9a-f]{32})/?$")


class RunMap:
    """Source run id -> (source artifact URI, destination run id, destination artifact URI)."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple[str, str, str]] = {}
        # logged models sent: source id -> destination id (the same for an import)
        self.logged: dict[str, str] = {}
        # logged models sent as run artifacts (no logged models there): id -> (source, run)
        self.in_runs: dict[str, tuple[str, str]] = {}

    def add(self, run_id: str, source_uri: str | None, dest_id: str, dest_uri: str | None) -> None:
        self.runs[run_id] = (source_uri or "", dest_id, dest_uri or "")

    def rewrite(self, version: ModelVersion) -> tuple[str, str] | None:
        """(destination source, destination run id) for a version, or None."""
        if m := LOGGED_SOURCE.match(version.source):
            if m.group(1) in self.in_runs:
                return self.in_runs[m.group(1)]
            if m.group(1) not in self.logged:
                return None
            mapped = self.runs.get(version.run_id or "")
            return f"models:/{self.logged[m.group(1)]}", mapped[1] if mapped else ""
        if m := RUNS_SOURCE.match(version.source):
            found = self.runs.get(m.group(1))
            if found is None:
                return None
            return f"runs:/{found[1]}{m.group(2) or ''}", found[1]
        candidates = [version.run_id] if version.run_id else list(self.runs)
        for run_id in candidates:
            found = self.runs.get(run_id or "")
            if found is None or not found[0] or not found[2]:
                continue
            base = found[0].rstrip("/")
            if version.source == base or version.source.startswith(base + "/"):
                return found[2].rstrip("/") + version.source[len(base) :], found[1]
        return None


class RegistrySync:
    def __init__(
        self,
        calls: RegistryCalls,
        ledger: Ledger,
        store_id: str,
        runs: RunMap,
        report: Any,
        keep_ids: bool = False,
    ):
        """``keep_ids`` (imports): versions carry no sync tag, so that they equal their
        source; one an earlier import made is found by its source and run instead."""
        self.keep_ids = keep_ids
        self.calls = calls
        self.ledger = ledger
        self.store_id = store_id
        self.runs = runs
        self.report = report

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        found = self.ledger.data.setdefault("models", {})
        assert isinstance(found, dict)
        return found

    def sync(self, models: list[tuple[RegisteredModel, list[ModelVersion]]]) -> None:
        for model, versions in models:
            try:
                self._model(model, versions)
            except ServerRefused as exc:
                self.report.failures.append(f"model '{model.name}': {exc.message}")

    def plan(self, models: list[tuple[RegisteredModel, list[ModelVersion]]]) -> None:
        """Dry run: count models and versions the ledger has not recorded."""
        for model, versions in models:
            entry = self.models.get(model.name)
            if entry is None:
                self.report.models_created += 1
            known = (entry or {}).get("versions", {})
            self.report.versions_created += sum(1 for v in versions if str(v.version) not in known)

    def _model(self, model: RegisteredModel, versions: list[ModelVersion]) -> None:
        name = model.name
        entry = self.models.get(name)
        if entry is not None and self.calls.get_model(name) is None:
            entry = None  # the destination lost it (a wiped server): sync it afresh
            del self.models[name]
        if entry is None:
            found = self.calls.get_model(name)
            if found is None:
                try:
                    self.calls.create_model(name, model.tags, model.description)
                except ServerRefused as exc:  # an earlier attempt made it after all
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    found = self.calls.get_model(name)
            if found is None:
                entry = {
                    "tags": hashes(model.tags),
                    "description": value_hash(model.description or ""),
                    "versions": {},
                    "aliases": {},
                }
                self.report.models_created += 1
            else:
                tags = {t["key"]: t.get("value", "") for t in found.get("tags", [])}
                entry = {
                    "tags": hashes(tags),
                    "description": value_hash(found.get("description") or ""),
                    "versions": self._recover(name, versions),
                    "aliases": {},
                }
            self.models[name] = entry
            self.ledger.save()
        sent_tags: dict[str, str] = entry["tags"]
        for key, value in model.tags.items():
            if sent_tags.get(key) != value_hash(value):
                self.calls.set_model_tag(name, key, value)
                sent_tags[key] = value_hash(value)
                self.ledger.save()
        if model.description and entry["description"] != value_hash(model.description):
            self.calls.update_model(name, model.description)
            entry["description"] = value_hash(model.description)
            self.ledger.save()
        for version in versions:
            self._version(name, entry["versions"], version)
        sent_aliases: dict[str, str] = entry["aliases"]
        for alias, number in model.aliases.items():
            target = entry["versions"].get(str(number), {}).get("dest")
            if target is None or sent_aliases.get(alias) == target:
                continue
            self.calls.set_alias(name, alias, target)
            sent_aliases[alias] = target
            self.ledger.save()

    def _found_versions(self, name: str, versions: list[ModelVersion]) -> dict[str, dict[str, Any]]:
        """Source version number -> destination version an earlier run made."""
        if not self.keep_ids:
            return self.calls.versions_from_store(name, self.store_id)
        there = sorted(self.calls.versions_of(name), key=lambda v: int(v["version"]))
        out: dict[str, dict[str, Any]] = {}
        for version in versions:
            target = self.runs.rewrite(version)
            if target is None:
                continue
            for i, found in enumerate(there):
                if (found.get("source"), found.get("run_id") or "") == (target[0], target[1]):
                    out[str(version.version)] = there.pop(i)
                    break
        return out

    def _recover(self, name: str, versions: list[ModelVersion]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for number, found in self._found_versions(name, versions).items():
            tags = {t["key"]: t.get("value", "") for t in found.get("tags", [])}
            out[number] = {
                "dest": str(found["version"]),
                "stage": found.get("current_stage", "None"),
                "tags": hashes(tags),
                "description": value_hash(found.get("description") or ""),
            }
        return out

    def _version(self, name: str, sent: dict[str, dict[str, Any]], version: ModelVersion) -> None:
        key = str(version.version)
        entry = sent.get(key)
        if entry is None:
            target = self.runs.rewrite(version)
            if target is None:
                self.report.notes.append(
                    f"model '{name}' version {version.version}: its files ('{version.source}')"
                    " are not in a synced run's artifacts; not copied"
                )
                return
            source, run_id = target
            tags = dict(version.tags)
            if not self.keep_ids:
                tags[SYNC_TAG] = f"{self.store_id}/{name}/{key}"
            dest = self.calls.create_version(
                name,
                source,
                run_id,
                tags,
                version.description,
                version.user_id,
                find=lambda: self._found_versions(name, [version]).get(key),
                model_id=m.group(1) if (m := LOGGED_SOURCE.match(source)) else None,
            )
            entry = {
                "dest": dest,
                "stage": "None",
                "tags": hashes(tags),
                "description": value_hash(version.description or ""),
            }
            sent[key] = entry
            self.report.versions_created += 1
            self.ledger.save()
        dest = entry["dest"]
        if entry["stage"] != version.current_stage:
            self.calls.transition(name, dest, version.current_stage)
            entry["stage"] = version.current_stage
            self.ledger.save()
        for tag, value in version.tags.items():
            if entry["tags"].get(tag) != value_hash(value):
                self.calls.set_version_tag(name, dest, tag, value)
                entry["tags"][tag] = value_hash(value)
                self.ledger.save()
        if version.description and entry["description"] != value_hash(version.description):
            self.calls.update_version(name, dest, version.description)
            entry["description"] = value_hash(version.description)
            self.ledger.save()
