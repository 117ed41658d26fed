"""The JSON log's records: one line each, the request's id and actor on what a request
logged, a traceback as one field."""

from __future__ import annotations

import json
import logging

from cairn.entities.events import ACTING, Actor, ActorKind
from cairn.server.logs import JsonFormatter


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    logger = logging.getLogger("cairn.test")
    if not exc:
        return logger.makeRecord("cairn.test", logging.WARNING, __file__, 1, message, args, None)
    try:
        raise ValueError("the cause")
    except ValueError:
        import sys

        return logger.makeRecord(
            "cairn.test", logging.ERROR, __file__, 1, message, args, sys.exc_info()
        )


def test_a_record_written_while_answering_a_request_names_it() -> None:
    token = ACTING.set(Actor("alice", ActorKind.TOKEN, "127.0.0.1", "req-7"))
    try:
        line = JsonFormatter().format(_record("slow write on %s", "runs/log-batch", exc=True))
    finally:
        ACTING.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "slow write on runs/log-batch"
    assert (entry["level"], entry["logger"]) == ("error", "cairn.test")
    assert (entry["request_id"], entry["actor"]) == ("req-7", "alice")
    assert "Traceback" in entry["error"]
    assert "ValueError: the cause" in entry["error"]


def test_a_record_outside_a_request_has_no_request_fields() -> None:
    entry = json.loads(JsonFormatter().format(_record("checkpoint done")))
    assert "request_id" not in entry
    assert "actor" not in entry
    assert "error" not in entry
    assert entry["time"].endswith("Z")
    assert entry["level"] == "warning"
