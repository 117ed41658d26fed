"""Promotion policies, approval requests and their votes (SQL only).

A request keeps a snapshot of what the approver should know changed: the source run's tags,
the version's stage and the versions holding the target (stage or alias) when it was made.
Policy changes and every request decision record a change event in the same transaction.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities.approvals import (
    ApprovalRequest,
    Evidence,
    PromotionPolicy,
    RequestState,
    Vote,
    evaluation_outcomes,
)
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import Change, EntityType
from cairn.entities.registry import EventKind
from cairn.store import events
from cairn.store.registry import model_row
from cairn.store.schema import (
    approval_requests,
    approval_votes,
    evaluation_jobs,
    latest_metrics,
    metric_keys,
    model_aliases,
    model_events,
    model_versions,
    promotion_policies,
    registered_models,
    run_tags,
    runs,
)
from cairn.store.sql import AnyRow, now_ms, upsert_insert

pp, ar, av = promotion_policies.c, approval_requests.c, approval_votes.c
rm, mv = registered_models.c, model_versions.c


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


# ------------------------------------------------------------------------------ policies
def _policy(row: AnyRow, name: str) -> PromotionPolicy:
    evidence = tuple(
        Evidence(e["kind"], e["key"], e["value"], e.get("op")) for e in orjson.loads(row.evidence)
    )
    return PromotionPolicy(
        model_name=name,
        stages=tuple(orjson.loads(row.stages)),
        aliases=tuple(orjson.loads(row.aliases)),
        required_approvals=int(row.required_approvals),
        approver_role=row.approver_role,
        evidence=evidence,
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
    )


def policy_of(conn: Connection, model_id: int, name: str) -> PromotionPolicy | None:
    row = conn.execute(select(promotion_policies).where(pp.model_id == model_id)).first()
    return None if row is None else _policy(row, name)


def get_policy(conn: Connection, name: str) -> PromotionPolicy | None:
    model = model_row(conn, name)
    return policy_of(conn, model.id, model.name)


def _policy_change(conn: Connection, action: str, name: str, before: Any, after: Any) -> None:
    events.record(
        conn,
        Change(action, EntityType.POLICY, name, model_name=name, before=before, after=after),
    )


def _body(policy: PromotionPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    out = policy.to_json()
    for key in ("model_name", "updated_at", "updated_by"):
        out.pop(key)
    return out


def set_policy(conn: Connection, policy: PromotionPolicy) -> PromotionPolicy:
    model = model_row(conn, policy.model_name)
    old = policy_of(conn, model.id, model.name)
    values = {
        "stages": _json(list(policy.stages)),
        "aliases": _json(list(policy.aliases)),
        "required_approvals": policy.required_approvals,
        "approver_role": policy.approver_role,
        "evidence": _json([e.to_json() for e in policy.evidence]),
        "updated_at": now_ms(),
        "updated_by": policy.updated_by,
    }
    stmt = upsert_insert(conn, promotion_policies).values(model_id=model.id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=[pp.model_id], set_=values))
    new = policy_of(conn, model.id, model.name)
    assert new is not None
    if _body(old) != _body(new):
        _policy_change(conn, "policy.set", model.name, _body(old), _body(new))
    return new


def delete_policy(conn: Connection, name: str) -> None:
    model = model_row(conn, name)
    old = policy_of(conn, model.id, model.name)
    if old is None:
        raise CairnError.not_found(f"Registered model {name} has no promotion policy")
    conn.execute(delete(promotion_policies).where(pp.model_id == model.id))
    _policy_change(conn, "policy.delete", name, _body(old), None)


# --------------------------------------------------------------------------- run facts
def lock_model(conn: Connection, name: str) -> AnyRow:
    """The model's row, locked until the transaction ends (PostgreSQL, MySQL; SQLite has one
    writer): approvals and moves of one model run one after the other."""
    row = conn.execute(select(registered_models).where(rm.name == name).with_for_update()).first()
    if row is None:
        raise CairnError.not_found(f"Registered Model with name={name} not found")
    return row


def evaluation_facts(conn: Connection, name: str, version: int) -> dict[str, frozenset[str]]:
    """Per collection id, the outcomes of the evaluation jobs that ran on this registered
    version (jobs naming it as ``models:/…`` resolve to it at submission)."""
    ej = evaluation_jobs.c
    rows = conn.execute(
        select(ej.collection_id, ej.state, ej.passed).where(
            ej.registered_name == name,
            ej.registered_version == version,
            ej.collection_id.is_not(None),
        )
    ).all()
    found: dict[str, frozenset[str]] = {}
    for collection, state, passed in rows:
        key = str(collection)
        found[key] = found.get(key, frozenset()) | evaluation_outcomes(
            str(state), None if passed is None else bool(passed)
        )
    return found


def run_facts(conn: Connection, run_uuid: str | None) -> tuple[dict[str, str], dict[str, float]]:
    """A run's tags and the latest value of each of its metrics ({} {} when it is gone)."""
    if run_uuid is None:
        return {}, {}
    run_id = conn.execute(select(runs.c.id).where(runs.c.run_uuid == run_uuid)).scalar()
    if run_id is None:
        return {}, {}
    tag_rows = conn.execute(
        select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == run_id)
    ).all()
    tags = {str(key): str(value) for key, value in tag_rows}
    lm, mk = latest_metrics.c, metric_keys.c
    rows = conn.execute(
        select(mk.key, lm.value, lm.is_nan)
        .join(metric_keys, mk.id == lm.key_id)
        .where(lm.run_id == run_id)
    ).all()
    metrics = {r.key: float("nan") if r.is_nan else float(r.value) for r in rows}
    return tags, metrics


def holders(conn: Connection, model_id: int, stage: str | None, alias: str | None) -> list[int]:
    """The versions in ``stage``, or the one ``alias`` points at."""
    if stage is not None:
        found = conn.execute(
            select(mv.version)
            .where(mv.model_id == model_id, mv.current_stage == stage)
            .order_by(mv.version)
        ).scalars()
        return [int(v) for v in found]
    a = model_aliases.c
    version = conn.execute(
        select(a.version).where(a.model_id == model_id, a.alias == alias)
    ).scalar_one_or_none()
    return [] if version is None else [int(version)]


def previous_holder(conn: Connection, model_id: int, stage: str) -> int | None:
    """The version that last moved into ``stage`` and is neither there now nor deleted."""
    e = model_events.c
    now = holders(conn, model_id, stage, None)
    stmt = (
        select(e.version)
        .join(model_versions, (mv.model_id == e.model_id) & (mv.version == e.version))
        .where(
            e.model_id == model_id,
            e.kind == EventKind.STAGE_TRANSITION.value,
            e.to_value == stage,
        )
        .order_by(e.id.desc())
        .limit(1)
    )
    if now:
        stmt = stmt.where(e.version.not_in(now))
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def _version(conn: Connection, model_id: int, version: int) -> AnyRow | None:
    return conn.execute(
        select(mv.current_stage, mv.run_id).where(mv.model_id == model_id, mv.version == version)
    ).first()


def snapshot(
    conn: Connection, model_id: int, version: AnyRow, stage: str | None, alias: str | None
) -> dict[str, Any]:
    tags, _ = run_facts(conn, version.run_id)
    return {
        "run_tags": tags,
        "stage": version.current_stage,
        "holders": holders(conn, model_id, stage, alias),
    }


# ---------------------------------------------------------------------------- requests
def _request_change(
    conn: Connection, action: str, request: ApprovalRequest, after: dict[str, Any]
) -> None:
    events.record(
        conn,
        Change(
            action,
            EntityType.APPROVAL_REQUEST,
            str(request.id),
            model_name=request.model_name,
            after={"version": request.version, "target": request.target, **after},
        ),
    )


def pending_for(
    conn: Connection, model_id: int, version: int, stage: str | None, alias: str | None
) -> int | None:
    """The id of a pending request for the same move, if there is one."""
    found: int | None = conn.execute(
        select(ar.id).where(
            ar.model_id == model_id,
            ar.version == version,
            ar.state == RequestState.PENDING.value,
            ar.target_stage == stage if stage is not None else ar.target_alias == alias,
        )
    ).scalar()
    return found


def pending_alias_requests(
    conn: Connection, model_id: int, alias: str, requested_by: str
) -> list[int]:
    """The ids of ``requested_by``'s pending requests to move ``alias`` of the model."""
    found = conn.execute(
        select(ar.id)
        .where(
            ar.model_id == model_id,
            ar.target_alias == alias,
            ar.requested_by == requested_by,
            ar.state == RequestState.PENDING.value,
        )
        .order_by(ar.id)
    ).scalars()
    return [int(i) for i in found]


def create_request(
    conn: Connection,
    model: AnyRow,
    version: int,
    stage: str | None,
    alias: str | None,
    archive_existing: bool,
    requested_by: str,
    comment: str | None,
    required_approvals: int,
    snap: dict[str, Any],
    reason: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """A pending request; ``reason``: why Cairn asks by itself (added to the event's
    ``after``)."""
    new_id = conn.execute(
        approval_requests.insert()
        .values(
            model_id=model.id,
            version=version,
            target_stage=stage,
            target_alias=alias,
            archive_existing=archive_existing,
            state=RequestState.PENDING.value,
            requested_by=requested_by,
            requested_at=now_ms(),
            comment=comment,
            required_approvals=required_approvals,
            snapshot=_json(snap),
        )
        .returning(ar.id)
    ).scalar_one()
    request = get_request(conn, int(new_id))
    after = {
        "archive_existing_versions": archive_existing,
        "comment": comment,
        "required_approvals": required_approvals,
        **(reason or {}),
    }
    _request_change(conn, "approval_request.create", request, after)
    return request


SELECT_REQUESTS = select(approval_requests, rm.name.label("model_name")).join(
    registered_models, rm.id == ar.model_id
)


def _request(row: AnyRow, votes: list[Vote]) -> ApprovalRequest:
    return ApprovalRequest(
        id=int(row.id),
        model_name=row.model_name,
        version=int(row.version),
        target_stage=row.target_stage,
        target_alias=row.target_alias,
        archive_existing=bool(row.archive_existing),
        state=RequestState(row.state),
        requested_by=row.requested_by,
        requested_at=int(row.requested_at),
        comment=row.comment,
        required_approvals=int(row.required_approvals),
        approvals=votes,
        decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else int(row.decided_at),
        decision_comment=row.decision_comment,
    )


def _votes(conn: Connection, ids: list[int]) -> dict[int, list[Vote]]:
    out: dict[int, list[Vote]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(approval_votes).where(av.request_id.in_(ids)).order_by(av.time, av.actor)
    )
    for r in rows:
        out[int(r.request_id)].append(Vote(r.actor, int(r.time), r.comment))
    return out


def request_row(conn: Connection, request_id: int) -> AnyRow:
    row = conn.execute(SELECT_REQUESTS.where(ar.id == request_id)).first()
    if row is None:
        raise CairnError.not_found(f"Approval request {request_id} not found")
    return row


def get_request(conn: Connection, request_id: int) -> ApprovalRequest:
    return load(conn, [request_row(conn, request_id)])[0]


def load(conn: Connection, rows: list[AnyRow]) -> list[ApprovalRequest]:
    """Requests with their votes, the evidence checked now, and (pending ones) what changed
    since they were made."""
    votes = _votes(conn, [int(r.id) for r in rows])
    policies: dict[int, PromotionPolicy | None] = {}
    out = []
    for row in rows:
        request = _request(row, votes[int(row.id)])
        model_id = int(row.model_id)
        if model_id not in policies:
            policies[model_id] = policy_of(conn, model_id, row.model_name)
        current = _version(conn, model_id, request.version)
        run_id = None if current is None else current.run_id
        tags, metrics = run_facts(conn, run_id)
        policy = policies[model_id]
        if policy is not None:
            evaluations = (
                evaluation_facts(conn, row.model_name, request.version)
                if any(e.kind == "evaluation" for e in policy.evidence)
                else {}
            )
            request.evidence = [
                e.check(run_id, tags, metrics, evaluations) for e in policy.evidence
            ]
        if request.state is RequestState.PENDING:
            now = None if current is None else (current.current_stage, tags)
            found = holders(conn, model_id, request.target_stage, request.target_alias)
            request.changes_since_request = changes(orjson.loads(row.snapshot), now, found, request)
        out.append(request)
    return out


def changes(
    snap: dict[str, Any],
    now: tuple[str, dict[str, str]] | None,
    found: list[int],
    request: ApprovalRequest,
) -> list[str]:
    """What changed since ``snap`` was taken, in words for the approver."""
    if now is None:
        return [f"version {request.version} was deleted"]
    stage, tags = now
    out = []
    old_tags: dict[str, str] = snap.get("run_tags", {})
    for key in sorted(set(old_tags) | set(tags)):
        before, after = old_tags.get(key), tags.get(key)
        if before == after:
            continue
        if before is None:
            out.append(f"run tag {key} was set to {after}")
        elif after is None:
            out.append(f"run tag {key} was removed (was {before})")
        else:
            out.append(f"run tag {key} changed from {before} to {after}")
    if snap.get("stage") != stage:
        out.append(f"version {request.version} moved from {snap.get('stage')} to {stage}")
    old = set(snap.get("holders", []))
    where = request.target_stage or f"alias {request.target_alias}"
    for version in sorted(set(found) - old - {request.version}):
        verb = "was promoted to" if request.target_stage else "was given"
        out.append(f"version {version} {verb} {where} meanwhile")
    for version in sorted(old - set(found) - {request.version}):
        out.append(f"version {version} left {where} meanwhile")
    return out


def list_requests(
    conn: Connection,
    state: RequestState | None,
    model_name: str | None,
    version: int | None,
    allowed: tuple[frozenset[str] | None, frozenset[str]],
    limit: int,
    before_id: int | None,
) -> list[ApprovalRequest]:
    """Newest first, at most ``limit``; ``allowed`` = (names the caller may read or None for
    all, names denied)."""
    stmt = SELECT_REQUESTS
    if state is not None:
        stmt = stmt.where(ar.state == state.value)
    if model_name is not None:
        stmt = stmt.where(rm.name == model_name)
    if version is not None:
        stmt = stmt.where(ar.version == version)
    only, deny = allowed
    if only is not None:
        stmt = stmt.where(rm.name.in_(sorted(only)))
    if deny:
        stmt = stmt.where(rm.name.not_in(sorted(deny)))
    if before_id is not None:
        stmt = stmt.where(ar.id < before_id)
    rows = conn.execute(stmt.order_by(ar.id.desc()).limit(limit)).all()
    return load(conn, list(rows))


def set_archive(conn: Connection, request_id: int, archive: bool) -> None:
    conn.execute(
        update(approval_requests).where(ar.id == request_id).values(archive_existing=archive)
    )


def vote_count(conn: Connection, request_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(approval_votes).where(av.request_id == request_id)
        ).scalar_one()
    )


def add_vote(conn: Connection, request: ApprovalRequest, actor: str, comment: str | None) -> int:
    """Record ``actor``'s approval; the number of approvals now."""
    try:
        with conn.begin_nested():
            conn.execute(
                approval_votes.insert().values(
                    request_id=request.id, actor=actor, time=now_ms(), comment=comment
                )
            )
    except IntegrityError as exc:
        raise CairnError(
            f"{actor} has already approved request {request.id}",
            error_code=ErrorCode.RESOURCE_ALREADY_EXISTS,
        ) from exc
    count = vote_count(conn, request.id)
    after = {"approvals": count, "comment": comment}
    _request_change(conn, "approval_request.approve", request, after)
    return count


def decide(
    conn: Connection,
    request: ApprovalRequest,
    state: RequestState,
    actor: str,
    comment: str | None,
    *,
    record: bool = True,
) -> None:
    """Close ``request`` as ``state``; ``record`` = False when the caller records the event
    (an approval's vote event)."""
    conn.execute(
        update(approval_requests)
        .where(ar.id == request.id)
        .values(state=state.value, decided_by=actor, decided_at=now_ms(), decision_comment=comment)
    )
    if record:
        verb = {RequestState.REJECTED: "reject", RequestState.CANCELLED: "cancel"}[state]
        after = {"state": state.value, "comment": comment}
        _request_change(conn, f"approval_request.{verb}", request, after)
