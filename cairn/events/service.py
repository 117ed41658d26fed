"""The audit trail: query, verify the hash chain, export, prune past the retention period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

from sqlalchemy import Connection

from cairn.entities.events import (
    ChainReport,
    ChangeEvent,
    EventQuery,
    canonical,
    chain_hash,
)
from cairn.store import events as event_store
from cairn.store.db import Database
from cairn.store.sql import now_ms

DAY_MS = 86_400_000
DEFAULT_RETENTION_DAYS = 7 * 365 + 2


def verify_events(
    events: Iterator[ChangeEvent],
    head: tuple[int, str, int, str],
    key: bytes | None = None,
) -> ChainReport:
    """Walk ``events`` (in id order) and check every link: ids follow each other from the
    chain's first kept id, each event's ``prev_hash`` is the hash before it, each hash is the
    hash of its own fields, and the last event is the head. The first broken link is reported."""
    head_id, head_hash, first_id, first_prev = head
    expected_id, prev = first_id, first_prev
    checked = 0

    def broken(at: int, reason: str) -> ChainReport:
        return ChainReport(
            checked, head_id, head_hash, False, broken_at=at, reason=reason, first_id=first_id
        )

    for event in events:
        if event.id != expected_id:
            if event.id > expected_id:
                return broken(expected_id, f"event {expected_id} is missing (next is {event.id})")
            return broken(event.id, f"event {event.id} is out of order")
        if event.prev_hash != prev:
            return broken(event.id, "its prev_hash is not the previous event's hash")
        values = event.to_json()
        if chain_hash(prev, canonical(values), key) != event.hash:
            return broken(event.id, "its content does not match its hash (edited)")
        prev = event.hash
        expected_id += 1
        checked += 1
    if expected_id - 1 != head_id:
        if expected_id - 1 < head_id:
            return broken(expected_id, f"events {expected_id}..{head_id} are missing")
        return broken(head_id + 1, "events exist past the chain's head")
    if prev != head_hash:
        return broken(head_id, "the last event's hash is not the chain's head")
    return ChainReport(checked, head_id, head_hash, True, first_id=first_id)


MAX_PAGE = 1000


class AuditService:
    def __init__(self, db: Database, retention_days: int = DEFAULT_RETENTION_DAYS):
        self.db = db
        self.retention_days = retention_days

    def search(self, query: EventQuery) -> list[ChangeEvent]:
        """A page of the events matching ``query`` (at most :data:`MAX_PAGE`)."""
        query = replace(query, limit=max(1, min(query.limit, MAX_PAGE)))
        return self.db.read(lambda c: event_store.search(c, query))

    def verify(self) -> ChainReport:
        """Walk the whole chain in one read snapshot."""

        def read(conn: Connection) -> ChainReport:
            head = event_store.head(conn)
            events = event_store.walk(conn, head[2] - 1)
            return verify_events(events, head, self.db.audit_key)

        return self.db.read(read)

    def export(self, query: EventQuery, batch: int = 5000) -> Iterator[ChangeEvent]:
        """Every event matching ``query`` in id order, read a batch at a time (each batch its
        own short read, so a long export holds no transaction open)."""
        cursor = query.after_id
        while True:
            page_query = replace(query, after_id=cursor, limit=batch, ascending=True)
            page = self.db.read(partial(event_store.search, query=page_query))
            if not page:
                return
            yield from page
            cursor = page[-1].id

    def prune(self, now: int | None = None) -> int:
        """Delete the events older than the retention period; how many went."""
        cutoff = (now or now_ms()) - self.retention_days * DAY_MS
        return self.db.write(lambda c: event_store.prune(c, cutoff))
