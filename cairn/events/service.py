"""The audit trail: query, verify the hash chain, export, prune past the retention period."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import partial

from sqlalchemy import Connection

from cairn.entities.errors import CairnError
from cairn.entities.events import (
    ChainReport,
    Change,
    ChangeEvent,
    EntityType,
    EventQuery,
    canonical,
    chain_hash,
)
from cairn.store import events as event_store
from cairn.store.db import Database
from cairn.store.paging import check_max_results, decode_token, encode_token, query_fingerprint
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
DEFAULT_PAGE = 100

_DIGITS = re.compile(r"-?[0-9]{1,16}")
MAX_FILTER = {
    "actor": 256,
    "action": 64,
    "entity_type": 32,
    "entity_id": 512,
    "experiment_id": 32,
    "model_name": 256,
}
"""The longest value each text filter can match (the column's width)."""


def parse_time(value: str | None, field: str) -> int | None:
    """A time filter: milliseconds since the epoch, or an ISO-8601 date (its midnight, UTC)
    or date-time (UTC unless it says otherwise). A 400 naming ``field`` for anything else."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        return int(when.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        raise CairnError.invalid(
            f"Invalid value {text[:60]!r} for parameter '{field}': expected milliseconds since "
            "the epoch or an ISO-8601 date (2026-12-04) or date-time (2026-12-04T10:30:00Z)"
        ) from None


def check_filters(query: EventQuery) -> EventQuery:
    """``query`` with its text filters checked (a 400 naming the field for an unknown entity
    type or a value longer than its column) and blank ones dropped."""
    changes: dict[str, str | None] = {}
    for name, longest in MAX_FILTER.items():
        value = getattr(query, name)
        if value is None:
            continue
        if not value.strip():
            changes[name] = None
        elif len(value) > longest:
            raise CairnError.invalid(
                f"Invalid value for parameter '{name}': longer than {longest} characters"
            )
        elif "\x00" in value:
            raise CairnError.invalid(f"Invalid value for parameter '{name}': a NUL character")
    if query.entity_type and query.entity_type.strip():
        if query.entity_type not in {kind.value for kind in EntityType}:
            kinds = ", ".join(EntityType)
            raise CairnError.invalid(
                f"Invalid value {query.entity_type[:40]!r} for parameter 'entity_type': "
                f"expected one of {kinds}"
            )
    if query.since is not None and query.until is not None and query.since > query.until:
        raise CairnError.invalid("Invalid time range: 'since' is after 'until'")
    return replace(query, **changes) if changes else query  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[ChangeEvent]
    next_page_token: str | None


class AuditService:
    def __init__(self, db: Database, retention_days: int = DEFAULT_RETENTION_DAYS):
        self.db = db
        self.retention_days = retention_days

    def search(self, query: EventQuery) -> list[ChangeEvent]:
        """A page of the events matching ``query`` (at most :data:`MAX_PAGE`)."""
        query = replace(query, limit=max(1, min(query.limit, MAX_PAGE)))
        return self.db.read(lambda c: event_store.search(c, query))

    def page(
        self, query: EventQuery, max_results: int = DEFAULT_PAGE, page_token: str | None = None
    ) -> EventPage:
        """One page of the events matching ``query``, newest first, and the token of the next
        page: an opaque keyset token holding the last id, tied to the query's filters (a
        token from another query, or edited, is a 400)."""
        check_max_results(max_results, MAX_PAGE)
        query = check_filters(query)
        fingerprint = query_fingerprint("audit", query.filters())
        before_id = None
        if page_token:
            (last,) = decode_token(page_token, fingerprint, 1)
            if not isinstance(last, int) or isinstance(last, bool) or not 0 < last < 2**62:
                raise CairnError.invalid("Invalid page_token: not a token this server made")
            before_id = last
        found = self.db.read(
            partial(
                event_store.search,
                query=replace(query, before_id=before_id, limit=max_results + 1, ascending=False),
            )
        )
        if len(found) <= max_results:
            return EventPage(found, None)
        found = found[:max_results]
        return EventPage(found, encode_token([found[-1].id], fingerprint))

    def head(self) -> tuple[int, str, int, str]:
        """(last id, last hash, first id kept, the prev_hash the first kept event carries)."""
        return self.db.read(event_store.head)

    def verify(self) -> ChainReport:
        """Walk the whole chain in one read snapshot (REPEATABLE READ where the database
        needs asking: the head and every event are read as of one moment, so events written
        meanwhile are neither half seen nor taken for events past the head)."""

        def read(conn: Connection) -> ChainReport:
            if not self.db.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ")
            head = event_store.head(conn)
            events = event_store.walk(conn, head[2] - 1)
            return verify_events(events, head, self.db.audit_key)

        return self.db.read(read)

    def export(self, query: EventQuery, batch: int = 5000) -> Iterator[ChangeEvent]:
        """Every event matching ``query`` in id order, read a batch at a time (each batch its
        own short read, so a long export holds no transaction open). The filters are checked
        before the first read."""
        query = check_filters(query)
        return self._export(query, batch)

    def _export(self, query: EventQuery, batch: int) -> Iterator[ChangeEvent]:
        cursor = query.after_id
        while True:
            page_query = replace(query, after_id=cursor, limit=batch, ascending=True)
            page = self.db.read(partial(event_store.search, query=page_query))
            if not page:
                return
            yield from page
            cursor = page[-1].id

    def prune(self, now: int | None = None) -> event_store.Pruned | None:
        """Delete the events older than the retention period, and record an ``audit.prune``
        event (in the same transaction) saying how many went and the id and hash the kept
        chain now starts after. None when nothing was that old."""
        cutoff = (now or now_ms()) - self.retention_days * DAY_MS

        def write(conn: Connection) -> event_store.Pruned | None:
            pruned = event_store.prune(conn, cutoff)
            if pruned is not None:
                after = {
                    "deleted": pruned.deleted,
                    "through_id": pruned.through_id,
                    "through_hash": pruned.through_hash,
                    "older_than": cutoff,
                    "retention_days": self.retention_days,
                }
                change = Change("audit.prune", EntityType.AUDIT, "change_events", after=after)
                event_store.record(conn, change)
            return pruned

        return self.db.write(write)
