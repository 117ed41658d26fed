"""The sync ledger: what the destination has confirmed receiving, per run.

One JSON file per destination, ``<state dir>/<destination hash>.json`` inside the source store
(``D/.cairn-sync/`` for a store directory ``D``). It is rewritten atomically (temporary file,
then rename), so a sync killed at any moment leaves either the previous or the next version.
Only what the server acknowledged is ever recorded, so the ledger never claims more than was
delivered; at worst a killed sync resends the last unrecorded batch.

Shape (``version`` 1)::

    {"version": 1, "source_store": "<store id>", "destination": "<url>",
     "experiments": {"<source id>": {"dest_id": "3", "name": "...", "tags": {key: hash}}},
     "runs": {"<source run id>": {
         "dest_id": "<destination run id>", "experiment": "<source experiment id>",
         "tags": {key: hash}, "params": {key: hash},
         "status": "FINISHED", "end_time": 1700000000000,
         "metrics": {"loss": {"count": 2000, "last": [step, timestamp, value, is_nan]}},
         "inputs": [hash, ...], "artifacts": {"path/in/run": [size, mtime_ns]},
         "complete": true}},
     "models": {"<name>": {"tags": {key: hash}, "description": hash,
         "versions": {"<source version>": {"dest": "<destination version>",
             "stage": "Production", "tags": {key: hash}, "description": hash}},
         "aliases": {"<alias>": "<destination version>"}}},
     "logged_models": {"<model id>": {"dest_id": "<model id>", "artifact_uri": "...",
         "status": "LOGGED_MODEL_READY", "artifacts": {"path": [size, mtime_ns]}}},
     "traces": {"<trace id>": "<destination experiment id>"}}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from cairn.sync.errors import SyncError

if sys.platform != "win32":
    import fcntl

VERSION = 1


def normalize_url(url: str) -> str:
    """The destination's identity: scheme and host lower-cased, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def destination_key(url: str) -> str:
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:16]


def value_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def hashes(values: dict[str, str]) -> dict[str, str]:
    return {k: value_hash(v) for k, v in values.items()}


class Ledger:
    def __init__(self, path: Path, store_id: str, destination: str):
        self.path = path
        self.data: dict[str, Any] = {
            "version": VERSION,
            "source_store": store_id,
            "destination": normalize_url(destination),
            "experiments": {},
            "runs": {},
        }
        self.dirty = False
        self.saved_at = 0.0  # time.monotonic() of the last save
        self.last_save_s = 0.0  # how long it took

    @classmethod
    def load(cls, state_dir: Path, store_id: str, destination: str) -> Ledger:
        path = state_dir / f"{destination_key(destination)}.json"
        ledger = cls(path, store_id, destination)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return ledger
        except (OSError, ValueError):
            # unreadable: start afresh; the destination tags still prevent duplicate runs
            return ledger
        if (
            isinstance(raw, dict)
            and raw.get("version") == VERSION
            and raw.get("source_store") == store_id
            and isinstance(raw.get("runs"), dict)
            and isinstance(raw.get("experiments"), dict)
        ):
            ledger.data["experiments"] = raw["experiments"]
            ledger.data["runs"] = raw["runs"]
            for extra in ("models", "logged_models", "traces"):
                if isinstance(raw.get(extra), dict):
                    ledger.data[extra] = raw[extra]
        return ledger

    @property
    def experiments(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.data["experiments"])

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], self.data["runs"])

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.runs.get(run_id)

    def forget_experiment(self, source_experiment_id: str) -> None:
        """Drop what the ledger says about an experiment and its runs (the destination no
        longer has the experiment it recorded)."""
        self.experiments.pop(source_experiment_id, None)
        for run_id in [
            r for r, e in self.runs.items() if e.get("experiment") == source_experiment_id
        ]:
            del self.runs[run_id]
        models = self.data.get("logged_models", {})
        for model_id in [
            m for m, e in models.items() if e.get("experiment") == source_experiment_id
        ]:
            del models[model_id]
        self.dirty = True

    def save(self) -> None:
        started = time.monotonic()
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.data, separators=(",", ":")))
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SyncError(f"Cannot write the sync ledger {self.path}: {exc.strerror}") from None
        self.dirty = False
        self.saved_at = time.monotonic()
        self.last_save_s = self.saved_at - started


@contextmanager
def exclusive(state_dir: Path, destination: str) -> Iterator[None]:
    """Hold the lock of one (source store, destination) pair for the length of a sync, so
    two syncs of the same store to the same server cannot both create its runs. The kernel
    releases it when the process ends, however it ends."""
    path = state_dir / f"{destination_key(destination)}.lock"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # closed by the with block below
    except OSError as exc:
        raise SyncError(f"Cannot write in {state_dir}: {exc.strerror}") from None
    with handle:
        if sys.platform != "win32":
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncError(
                    f"Another `cairn sync` of this store to {normalize_url(destination)} is "
                    "running; wait for it to finish"
                ) from None
        yield
