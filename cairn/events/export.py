"""The audit trail's export formats: JSON Lines (one event object a line, as the API gives
them) and CSV (a header row, ``before``/``after`` as JSON text), produced a chunk at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import orjson

from cairn.entities.events import HASHED_FIELDS, ChangeEvent

FORMATS = ("jsonl", "csv")
COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
"""An event's fields in file order: the hashed ones, then its link in the chain."""
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


def _cell(value: object) -> object:
    return "" if value is None else value


def _json_cell(value: object) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def csv_rows(events: Iterator[ChangeEvent], batch: int = 1000) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows: list[tuple[object, ...]] = []
    for e in events:
        rows.append(
            (
                e.id,
                e.time,
                e.actor,
                str(e.actor_kind),
                _cell(e.address),
                _cell(e.request_id),
                e.action,
                e.entity_type,
                e.entity_id,
                _cell(e.experiment_id),
                _cell(e.model_name),
                _json_cell(e.before),
                _json_cell(e.after),
                _cell(e.claimed_user),
                e.prev_hash,
                e.hash,
            )
        )
        if len(rows) >= batch:
            writer.writerows(rows)
            rows.clear()
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(rows)
    yield buffer.getvalue().encode()


def export_chunks(events: Iterator[ChangeEvent], format: str) -> Iterator[bytes]:
    """The export file for ``format`` (``jsonl`` or ``csv``), a chunk of bytes at a time."""
    return csv_rows(events) if format == "csv" else jsonl(events)
