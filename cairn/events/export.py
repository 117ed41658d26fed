"""The audit trail's export formats: JSON Lines (one event object a line, as the API gives
them) and CSV (a header row, ``before``/``after`` as JSON text), produced a chunk at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import orjson

from cairn.entities.events import ChangeEvent

FORMATS = ("jsonl", "csv")
COLUMNS = (
    "id",
    "time",
    "actor",
    "actor_kind",
    "address",
    "request_id",
    "action",
    "entity_type",
    "entity_id",
    "experiment_id",
    "model_name",
    "before",
    "after",
    "claimed_user",
    "prev_hash",
    "hash",
)
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def jsonl(events: Iterator[ChangeEvent], batch: int = 1000) -> Iterator[bytes]:
    chunk: list[bytes] = []
    for event in events:
        chunk.append(orjson.dumps(event.to_json()))
        if len(chunk) >= batch:
            yield b"\n".join(chunk) + b"\n"
            chunk = []
    if chunk:
        yield b"\n".join(chunk) + b"\n"


def csv_rows(events: Iterator[ChangeEvent], batch: int = 1000) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for event in events:
        row = event.to_json()
        for name in ("before", "after"):
            if row[name] is not None:
                row[name] = orjson.dumps(row[name]).decode()
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
        count += 1
        if count % batch == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def export_chunks(events: Iterator[ChangeEvent], format: str) -> Iterator[bytes]:
    """The export file for ``format`` (``jsonl`` or ``csv``), a chunk of bytes at a time."""
    return csv_rows(events) if format == "csv" else jsonl(events)
