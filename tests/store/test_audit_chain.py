"""Tamper evidence of the audit trail, on SQLite and PostgreSQL: 100,000 mixed events verify;
then, behind Cairn's back (its append-only triggers dropped, raw SQL), each kind of tampering
is found at the right id, by `AuditService.verify` and by `cairn audit verify`. With
``CAIRN_AUDIT_KEY`` set, rewriting the chain from an edit on with plain SHA-256 is found too;
without a key the same rewrite is only found against a head hash kept elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, text

from cairn.cli import main
from cairn.entities.events import (
    ACTING,
    Actor,
    ActorKind,
    Change,
    ChangeEvent,
    EntityType,
    EventQuery,
    canonical,
    chain_hash,
)
from cairn.events.service import DAY_MS, AuditService
from cairn.store import events
from cairn.store.db import Database
from cairn.store.migrate import ensure_schema
from tests.databases import BACKENDS, fresh_database

WRITES = 250
PER_WRITE = 400
TOTAL = WRITES * PER_WRITE
KEY = "an-audit-key-of-32-characters-00"

DROP_GUARDS = {
    "sqlite": ("DROP TRIGGER change_events_no_update", "DROP TRIGGER change_events_no_delete"),
    "postgresql": ("DROP TRIGGER change_events_append_only ON change_events",),
    "mysql": ("DROP TRIGGER change_events_no_update", "DROP TRIGGER change_events_no_delete"),
}
"""What an attacker with write access to the database does first: drop the triggers that make
the log append-only (the hash chain is what still catches them)."""

ACTIONS = (
    ("run.create", EntityType.RUN),
    ("run.log_batch", EntityType.RUN),
    ("run.set_tag", EntityType.RUN),
    ("experiment.rename", EntityType.EXPERIMENT),
    ("registered_model.create", EntityType.REGISTERED_MODEL),
    ("model_version.transition_stage", EntityType.MODEL_VERSION),
    ("user.create", EntityType.USER),
    ("login.failed", EntityType.USER),
)


def _change(n: int) -> Change:
    action, kind = ACTIONS[n % len(ACTIONS)]
    experiment = str(n % 37) if kind in (EntityType.RUN, EntityType.EXPERIMENT) else None
    model = (
        f"model-{n % 11}"
        if kind in (EntityType.MODEL_VERSION, EntityType.REGISTERED_MODEL)
        else None
    )
    entity = f"{model}/{n % 5 + 1}" if kind is EntityType.MODEL_VERSION else f"e{n % 997}"
    before = {"value": n - 1, "name": f"old ‘{n}’"} if n % 3 == 0 else None
    after = {"value": n, "tags": {"k": "v" * (n % 40)}, "steps": [0, n]} if n % 4 else None
    return Change(
        action,
        kind,
        entity,
        experiment_id=experiment,
        model_name=model,
        before=before,
        after=after,
        claimed_user=f"claimed-{n % 3}" if kind is EntityType.RUN else None,
    )


def fill(db: Database, writes: int, per_write: int) -> None:
    """``writes`` writes of ``per_write`` changes each, by a few different actors."""
    for w in range(writes):
        kind = (ActorKind.USER, ActorKind.TOKEN, ActorKind.SYSTEM)[w % 3]
        token = ACTING.set(Actor(f"actor-{w % 7}", kind, f"10.0.0.{w % 250}", f"req-{w}"))
        try:
            base = w * per_write
            db.write(
                lambda c, base=base: [events.record(c, _change(base + i)) for i in range(per_write)]
            )
        finally:
            ACTING.reset(token)


def _open(uri: str, key: str | None = None) -> Database:
    db = Database(uri, audit_key=key.encode() if key else None)
    ensure_schema(db.write_engine)
    db.start()
    return db


@pytest.fixture(scope="module", params=BACKENDS)
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Database]]:
    """100,000 events, then the append-only guards dropped (as an attacker would)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("chain")) as uri:
        db = _open(uri)
        try:
            yield from _filled(uri, db)
        finally:
            db.close()


def _filled(uri: str, db: Database) -> Iterator[tuple[str, Database]]:
    fill(db, WRITES, PER_WRITE)
    for statement in DROP_GUARDS[db.dialect]:
        db.write(lambda c, s=statement: c.execute(text(s)))
    yield uri, db


def _row(db: Database, event_id: int) -> dict[str, Any]:
    found = db.read(
        lambda c: c.execute(text("SELECT * FROM change_events WHERE id = :id"), {"id": event_id})
    ).one()
    return dict(found._mapping)


def _put(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(text("DELETE FROM change_events WHERE id = :id"), {"id": row["id"]})
    quote = conn.dialect.identifier_preparer.quote_identifier
    columns = ", ".join(quote(c) for c in row)
    values = ", ".join(f":{c}" for c in row)
    conn.execute(text(f"INSERT INTO change_events ({columns}) VALUES ({values})"), row)


def _restore(db: Database, *rows: dict[str, Any]) -> None:
    db.write(lambda c: [_put(c, row) for row in rows])


def _set(db: Database, event_id: int, **values: Any) -> None:
    def write(c: Connection) -> None:
        quote = c.dialect.identifier_preparer.quote_identifier
        sets = ", ".join(f"{quote(k)} = :{k}" for k in values)
        c.execute(
            text(f"UPDATE change_events SET {sets} WHERE id = :id"), {**values, "id": event_id}
        )

    db.write(write)


def _rehash(row: dict[str, Any], prev: str, key: bytes | None = None) -> str:
    """The hash of a stored row, as an attacker recomputing it would get it."""
    event = ChangeEvent(
        **{
            **row,
            "actor_kind": ActorKind(row["actor_kind"]),
            "before": orjson.loads(row["before"]) if row["before"] is not None else None,
            "after": orjson.loads(row["after"]) if row["after"] is not None else None,
        }
    )
    return chain_hash(prev, canonical(event.to_json()), key)


def _cli_verify(uri: str, key: str | None = None) -> tuple[int, str]:
    env = {"CAIRN_AUDIT_KEY": key} if key else {"CAIRN_AUDIT_KEY": ""}
    result = CliRunner().invoke(main, ["audit", "verify", "--backend-store-uri", uri], env=env)
    return result.exit_code, result.output


MIDDLE = TOTAL // 2 + 17


def test_the_whole_chain_verifies(chain: tuple[str, Database]) -> None:
    uri, db = chain
    report = AuditService(db).verify()
    assert report.ok, report
    assert (report.checked, report.first_id, report.head_id) == (TOTAL, 1, TOTAL)
    code, output = _cli_verify(uri)
    assert code == 0, output
    assert f"ok: {TOTAL} events checked (ids 1..{TOTAL})" in output
    assert report.head_hash in output


def test_an_edited_field_is_found_at_its_row(chain: tuple[str, Database]) -> None:
    uri, db = chain
    original = _row(db, MIDDLE)
    _set(db, MIDDLE, actor="mallory")
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, MIDDLE)
        assert "edited" in (report.reason or "")
        assert report.checked == MIDDLE - 1
        code, output = _cli_verify(uri)
        assert code == 1
        assert f"BROKEN at event {MIDDLE}: its content does not match its hash" in output
    finally:
        _restore(db, original)


def test_an_edited_json_value_is_found(chain: tuple[str, Database]) -> None:
    _, db = chain
    target = next(i for i in range(MIDDLE, MIDDLE + 10) if _row(db, i)["after"] is not None)
    original = _row(db, target)
    _set(db, target, after=original["after"].replace('"value":', '"value": 1e9, "x":', 1))
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, target)
    finally:
        _restore(db, original)


def test_a_deleted_middle_row_is_found(chain: tuple[str, Database]) -> None:
    uri, db = chain
    original = _row(db, MIDDLE)
    db.write(lambda c: c.execute(text("DELETE FROM change_events WHERE id = :id"), {"id": MIDDLE}))
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, MIDDLE)
        assert f"event {MIDDLE} is missing" in (report.reason or "")
        code, output = _cli_verify(uri)
        assert code == 1
        assert f"BROKEN at event {MIDDLE}" in output
    finally:
        _restore(db, original)


def test_a_deleted_last_row_is_found_through_the_head(chain: tuple[str, Database]) -> None:
    uri, db = chain
    original = _row(db, TOTAL)
    db.write(lambda c: c.execute(text("DELETE FROM change_events WHERE id = :id"), {"id": TOTAL}))
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, TOTAL)
        assert "missing" in (report.reason or "")
        assert report.checked == TOTAL - 1
        code, output = _cli_verify(uri)
        assert code == 1
        assert f"BROKEN at event {TOTAL}" in output
    finally:
        _restore(db, original)


def test_two_swapped_rows_are_found_at_the_first(chain: tuple[str, Database]) -> None:
    _, db = chain
    first, second = _row(db, MIDDLE), _row(db, MIDDLE + 1000)
    _restore(db, {**second, "id": first["id"]}, {**first, "id": second["id"]})
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, MIDDLE)
    finally:
        _restore(db, first, second)


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(
    chain: tuple[str, Database],
) -> None:
    _, db = chain
    original = _row(db, MIDDLE)
    edited = {**original, "actor": "mallory"}
    edited["hash"] = _rehash(edited, original["prev_hash"])
    _restore(db, edited)
    try:
        report = AuditService(db).verify()
        assert (report.ok, report.broken_at) == (False, MIDDLE + 1)
        assert "prev_hash" in (report.reason or "")
    finally:
        _restore(db, original)


def test_a_rewrite_to_the_head_is_only_caught_against_a_kept_head_hash(
    chain: tuple[str, Database],
) -> None:
    """Without CAIRN_AUDIT_KEY, someone who rewrites every event from an edit on, and the head,
    leaves a chain that verifies: only the head hash kept elsewhere (from an earlier verify or
    export) shows the rewrite."""
    _, db = chain
    kept = AuditService(db).verify()
    start = TOTAL - 40
    originals = [_row(db, i) for i in range(start, TOTAL + 1)]
    prev = originals[0]["prev_hash"]
    rewritten = []
    for row in originals:
        changed = {**row, "prev_hash": prev}
        if row["id"] == start:
            changed["actor"] = "mallory"
        changed["hash"] = prev = _rehash(changed, prev)
        rewritten.append(changed)
    _restore(db, *rewritten)
    db.write(
        lambda c: c.execute(text("UPDATE change_head SET hash = :h WHERE id = 1"), {"h": prev})
    )
    try:
        report = AuditService(db).verify()
        assert report.ok
        assert report.head_id == kept.head_id
        assert report.head_hash != kept.head_hash
    finally:
        _restore(db, *originals)
        db.write(
            lambda c: c.execute(
                text("UPDATE change_head SET hash = :h WHERE id = 1"), {"h": kept.head_hash}
            )
        )
    assert AuditService(db).verify() == kept


def test_the_chain_verifies_again_after_every_restore(chain: tuple[str, Database]) -> None:
    report = AuditService(chain[1]).verify()
    assert report.ok, report
    assert report.checked == TOTAL


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_an_audit_key_a_plain_sha256_rewrite_is_found(backend: str, tmp_path: Path) -> None:
    def check(uri: str) -> None:
        db = _open(uri, KEY)
        try:
            fill(db, 10, 200)
            for statement in DROP_GUARDS[db.dialect]:
                db.write(lambda c, s=statement: c.execute(text(s)))
            assert AuditService(db).verify().ok
            edit = 1234
            rows = [_row(db, i) for i in range(edit, 2001)]
            prev = rows[0]["prev_hash"]
            rewritten = []
            for row in rows:
                changed = {**row, "prev_hash": prev}
                if row["id"] == edit:
                    changed["actor"] = "mallory"
                changed["hash"] = prev = _rehash(changed, prev)  # plain SHA-256: no key
                rewritten.append(changed)
            _restore(db, *rewritten)
            db.write(
                lambda c: c.execute(
                    text("UPDATE change_head SET hash = :h WHERE id = 1"), {"h": prev}
                )
            )
            report = AuditService(db).verify()
            assert (report.ok, report.broken_at) == (False, edit)
            assert "edited" in (report.reason or "")
            code, output = _cli_verify(uri, KEY)
            assert code == 1
            assert f"BROKEN at event {edit}" in output
            code, output = _cli_verify(uri)  # without the key no link holds
            assert code == 1
            assert "BROKEN at event 1:" in output
        finally:
            db.close()

    with fresh_database(backend, tmp_path) as uri:
        check(uri)


def test_prune_keeps_the_chain_verifiable(database: Database) -> None:
    """Events older than the retention period go, an audit.prune event says how many and
    where the kept chain starts, and the chain still verifies (with the guards in place)."""
    fill(database, 3, 50)
    service = AuditService(database, retention_days=30)
    old = service.search(EventQuery(limit=1000))
    assert len(old) == 150
    newest_old = max(e.time for e in old)
    more = [Change("run.create", EntityType.RUN, f"r{i}", experiment_id="1") for i in range(5)]
    for _ in range(10_000):  # the next events must be at least 1 ms newer than those to prune
        database.write(lambda c: [events.record(c, change) for change in more])
        if service.search(EventQuery(limit=1))[0].time > newest_old:
            break
    kept_from = min(e.id for e in service.search(EventQuery(limit=1000)) if e.time > newest_old)
    pruned = service.prune(now=newest_old + 1 + 30 * DAY_MS)
    assert pruned is not None
    assert pruned.through_id == kept_from - 1
    assert pruned.deleted == kept_from - 1
    report = service.verify()
    assert report.ok, report
    assert report.first_id == kept_from
    last = service.search(EventQuery(limit=1))[0]
    assert (last.action, last.entity_type, last.actor) == ("audit.prune", "audit", "local")
    assert last.after is not None
    assert last.after["deleted"] == pruned.deleted
    assert last.after["through_hash"] == pruned.through_hash
    assert service.prune(now=newest_old + 1 + 30 * DAY_MS) is None


def test_time_ranges_are_id_ranges(database: Database) -> None:
    """Times never go backwards in id order, so `since`/`until` (found by a binary search over
    ids) select exactly the events whose times are in range, on both backends."""
    service = AuditService(database)
    times: list[int] = []
    for w in range(6):
        changes = [
            Change("run.create", EntityType.RUN, f"r{w}-{i}", experiment_id="1")
            for i in range(w + 1)
        ]
        for _ in range(10_000):  # each write at least 1 ms after the one before
            database.write(lambda c, changes=changes: [events.record(c, x) for x in changes])
            newest = service.search(EventQuery(limit=1))[0].time
            if not times or newest > times[-1]:
                break
        times.append(newest)
    every = service.search(EventQuery(limit=1000, ascending=True))
    assert [e.time for e in every] == sorted(e.time for e in every)
    for since in (None, times[0], times[2], times[2] + 1, times[-1], times[-1] + 1):
        for until in (None, times[0], times[3], times[-1], times[-1] + 1):
            found = service.search(EventQuery(since=since, until=until, limit=1000))
            expected = [
                e.id
                for e in reversed(every)
                if (since is None or e.time >= since) and (until is None or e.time < until)
            ]
            assert [e.id for e in found] == expected, (since, until)
