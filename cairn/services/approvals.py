"""Promotion approvals: policies, approval requests, approving (which applies the move),
rejecting, cancelling, and rolling back to the previous version of a stage.

Under a policy, a stage transition or alias move covered by it becomes a request unless the
caller may bypass (admins and the ``system`` actor only). Approvers are the model's MANAGE
holders (and admins), or the holders of the policy's ``approver_role``; nobody approves their
own request. With access control off everyone is ``local``: a policy still makes requests, and
``local`` cannot approve a request ``local`` made, so approvals need ``--auth`` to mean
anything.

Approving, and every move that goes through :meth:`ApprovalService.move`, locks the model's
row first, so two approvals of different versions for one stage run one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from cairn.access.service import AccessService
from cairn.entities.access import ALL, AuthMethod, Identity, Permission, ResourceType, Visibility
from cairn.entities.approvals import (
    EVALUATION_OUTCOMES,
    OPERATORS,
    ApprovalRequest,
    Evidence,
    PromotionPolicy,
    RequestState,
)
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.numbers import decimal
from cairn.entities.registry import Stage
from cairn.services import validation as v
from cairn.services.registry import parse_stage, parse_version, validate_alias, validate_name
from cairn.store import approvals as store
from cairn.store import registry as registry_store
from cairn.store.db import Database

MAX_APPROVALS = 20
MAX_EVIDENCE = 20
MAX_COMMENT = 5000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What asking for a move did: applied at once (``request`` None), or made (or found)
    a pending ``request``. ``version`` is the version moved (or to be moved)."""

    version: int
    request: ApprovalRequest | None = None


def _comment(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CairnError.invalid("Parameter 'comment' must be a string")
    if len(value) > MAX_COMMENT:
        raise CairnError.invalid(f"Parameter 'comment' is longer than {MAX_COMMENT}")
    return value


def _target(stage: object, alias: object) -> tuple[str | None, str | None]:
    if (stage is None) == (alias is None):
        raise CairnError.invalid("Give exactly one of 'stage' or 'alias' as the target")
    if stage is not None:
        st = parse_stage(stage)
        if st in (Stage.NONE, Stage.ARCHIVED):
            raise CairnError.invalid(
                f"Invalid value {stage!r} for parameter 'stage': requests move a version to "
                "Staging or Production"
            )
        return st.value, None
    return None, validate_alias(alias)


def _evidence(items: object) -> tuple[Evidence, ...]:
    if items is None:
        return ()
    if not isinstance(items, list) or len(items) > MAX_EVIDENCE:
        raise CairnError.invalid(
            f"Parameter 'evidence' must be a list of at most {MAX_EVIDENCE} checks"
        )
    out = []
    for i, item in enumerate(items):
        where = f"evidence[{i}]"
        if not isinstance(item, dict):
            raise CairnError.invalid(f"Parameter '{where}' must be an object")
        kind = item.get("kind")
        key = v.validate_key(f"{where}.key", item.get("key"))
        value = item.get("value")
        if kind == "tag":
            if not isinstance(value, str):
                raise CairnError.invalid(f"Parameter '{where}.value' must be a string")
            out.append(Evidence("tag", key, value))
        elif kind == "metric":
            op = item.get("op", ">=")
            if op not in OPERATORS:
                ops = ", ".join(OPERATORS)
                raise CairnError.invalid(f"Parameter '{where}.op' must be one of {ops}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CairnError.invalid(f"Parameter '{where}.value' must be a number")
            out.append(Evidence("metric", key, float(value), op))
        elif kind == "evaluation":
            value = "passed" if value is None else value
            if value not in EVALUATION_OUTCOMES:
                allowed = " or ".join(repr(o) for o in EVALUATION_OUTCOMES)
                raise CairnError.invalid(f"Parameter '{where}.value' must be {allowed}")
            out.append(Evidence("evaluation", key, value))
        else:
            raise CairnError.invalid(
                f"Parameter '{where}.kind' must be 'tag', 'metric' or 'evaluation'"
            )
    return tuple(out)


def _names(items: object, field: str, check: Any) -> tuple[str, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise CairnError.invalid(f"Parameter '{field}' must be a list")
    return tuple(dict.fromkeys(check(item) for item in items))


def _policy_stage(stage: object) -> str:
    found, _ = _target(stage, None)
    assert found is not None
    return found


def _request_id(value: object) -> int:
    number = decimal(value)
    if number is None:
        raise CairnError.invalid(f"Invalid approval request id {value!r}")
    if number >= 2**31:  # beyond the id column: no such request
        raise CairnError.not_found(f"Approval request {number} not found")
    return number


class ApprovalService:
    def __init__(self, db: Database, access: AccessService | None = None):
        """``access``: who holds MANAGE or a role (None when access control is off)."""
        self.db = db
        self.access = access

    # --------------------------------------------------------------------------- who
    @staticmethod
    def bypasses(who: Identity) -> bool:
        """Admins and the system move without asking."""
        return not who.read_only and (who.is_admin or who.method is AuthMethod.SYSTEM)

    def may_approve(self, who: Identity, model_name: str, role: str | None) -> bool:
        """Whether ``who`` may approve or reject requests of ``model_name``."""
        if who.read_only or not who.authenticated:
            return False
        if self.bypasses(who) or who.method is AuthMethod.LOCAL or self.access is None:
            return True
        if role is not None:
            return any(r.name == role for r in self.access.roles_of(who.username))
        found = self.access.permission(who, ResourceType.REGISTERED_MODEL, model_name)
        return found >= Permission.MANAGE

    def _manages(self, who: Identity, model_name: str) -> bool:
        if who.unrestricted or self.access is None:
            return True
        found = self.access.permission(who, ResourceType.REGISTERED_MODEL, model_name)
        return found >= Permission.MANAGE

    def _readable(self, who: Identity, model_name: str) -> bool:
        if who.unrestricted or self.access is None:
            return True
        found = self.access.permission(who, ResourceType.REGISTERED_MODEL, model_name)
        return found >= Permission.READ

    def can_approve(self, who: Identity, request: ApprovalRequest) -> bool:
        if request.state is not RequestState.PENDING or who.username == request.requested_by:
            return False
        if any(vote.actor == who.username for vote in request.approvals):
            return False
        return self.may_approve(who, request.model_name, self._role(request.model_name))

    def _role(self, model_name: str) -> str | None:
        try:
            found = self.db.read(lambda c: store.get_policy(c, model_name))
        except CairnError:
            return None
        return None if found is None else found.approver_role

    # ---------------------------------------------------------------------- policies
    def get_policy(self, name: object) -> PromotionPolicy:
        found = self.find_policy(name)
        if found is None:
            n = validate_name(name)
            raise CairnError.not_found(f"Registered model {n} has no promotion policy")
        return found

    def find_policy(self, name: object) -> PromotionPolicy | None:
        """The model's promotion policy, or None when it has none."""
        n = validate_name(name)
        return self.db.read(lambda c: store.get_policy(c, n))

    def set_policy(self, who: Identity, name: object, body: dict[str, Any]) -> PromotionPolicy:
        n = validate_name(name)
        required = body.get("required_approvals", 1)
        if isinstance(required, bool) or not isinstance(required, int):
            raise CairnError.invalid("Parameter 'required_approvals' must be an integer")
        if not 1 <= required <= MAX_APPROVALS:
            raise CairnError.invalid(
                f"Parameter 'required_approvals' must be between 1 and {MAX_APPROVALS}"
            )
        role = body.get("approver_role")
        if role is not None:
            if not isinstance(role, str) or not role.strip():
                raise CairnError.invalid("Parameter 'approver_role' must be a role name or null")
            if self.access is not None:
                self.access.role_by_name(role)  # 404 for an unknown role
        policy = PromotionPolicy(
            model_name=n,
            stages=_names(body.get("stages"), "stages", _policy_stage),
            aliases=_names(body.get("aliases"), "aliases", validate_alias),
            required_approvals=required,
            approver_role=role,
            evidence=_evidence(body.get("evidence")),
            updated_by=who.username,
        )
        if not policy.stages and not policy.aliases:
            raise CairnError.invalid(
                "A promotion policy names at least one of 'stages' or 'aliases'"
            )
        return self.db.write(lambda c: store.set_policy(c, policy))

    def delete_policy(self, name: object) -> None:
        n = validate_name(name)
        self.db.write(lambda c: store.delete_policy(c, n))

    # ------------------------------------------------------------------------- moves
    def move(
        self,
        who: Identity,
        name: object,
        version: object,
        stage: object = None,
        alias: object = None,
        archive_existing: bool = False,
        comment: object = None,
        actor: str | None = None,
    ) -> Outcome:
        """Move ``version`` to ``stage`` (or point ``alias`` at it): at once when no policy
        covers the target or ``who`` may bypass, else as a pending request (an existing
        pending request for the same move is answered again). A request whose version lacks
        the policy's evidence is refused (400) with the reasons. ``actor``: the name the
        promotion history shows for a move made at once (default: ``who``)."""
        n, ver = validate_name(name), parse_version(version)
        st, al = _target(stage, alias)
        note, moved_by = _comment(comment), actor or who.username
        return self.db.write(
            lambda c: self._move(c, who, n, ver, st, al, bool(archive_existing), note, moved_by)
        )

    def ask(
        self, who: Identity, name: object, version: object, stage: object, comment: object
    ) -> ApprovalRequest:
        """A request to move ``version`` to ``stage`` even where no policy asks for one (MLflow's
        transition-requests/create): one approval by an approver applies it."""
        n, ver = validate_name(name), parse_version(version)
        st, _ = _target(stage, None)
        note = _comment(comment)
        outcome = self.db.write(
            lambda c: self._move(c, who, n, ver, st, None, False, note, who.username, True)
        )
        assert outcome.request is not None
        return outcome.request

    def pending_id(
        self, name: object, version: object, stage: object, creator: object = None
    ) -> int:
        """The pending request to move ``version`` to ``stage`` (made by ``creator`` if
        given), else 404."""
        n, ver = validate_name(name), parse_version(version)
        st, _ = _target(stage, None)

        def read(c: Connection) -> int | None:
            model = registry_store.model_row(c, n)
            return store.pending_for(c, model.id, ver, st, None)

        found = self.db.read(read)
        if found is not None and creator not in (None, ""):
            rid = found
            request = self.db.read(lambda c: store.get_request(c, rid))
            found = found if request.requested_by == creator else None
        if found is None:
            who = f" by {creator}" if creator else ""
            raise CairnError.not_found(
                f"No pending transition request{who} for version {ver} of registered model "
                f"{n} to {st}"
            )
        return found

    def transition(
        self,
        who: Identity,
        name: object,
        version: object,
        stage: object,
        archive: bool,
        actor: str | None = None,
    ) -> None:
        """MLflow's transition-stage under the policy: moved, or APPROVAL_REQUIRED naming the
        request (which is stored). Moves to None or Archived are never gated."""
        st = parse_stage(stage)
        if st in (Stage.NONE, Stage.ARCHIVED):
            n, ver = validate_name(name), parse_version(version)
            self.db.write(lambda c: registry_store.transition_stage(c, n, ver, st, archive, actor))
            return
        outcome = self.move(
            who, name, version, stage=st.value, archive_existing=archive, actor=actor
        )
        self._required(outcome)

    def set_alias(
        self,
        who: Identity,
        name: object,
        alias: object,
        version: object,
        actor: str | None = None,
    ) -> None:
        """MLflow's set-alias under the policy: moved, or APPROVAL_REQUIRED."""
        self._required(self.move(who, name, version, alias=alias, actor=actor))

    @staticmethod
    def _required(outcome: Outcome) -> None:
        request = outcome.request
        if request is None:
            return
        raise CairnError(
            f"Moving version {request.version} of registered model {request.model_name} to "
            f"{request.target_label} needs approval: approval request {request.id} is pending "
            f"({len(request.approvals)} of {request.required_approvals} approvals). See "
            f"/api/v1/approval-requests/{request.id}",
            ErrorCode.APPROVAL_REQUIRED,
        )

    def _move(
        self,
        c: Connection,
        who: Identity,
        name: str,
        version: int,
        stage: str | None,
        alias: str | None,
        archive: bool,
        comment: str | None,
        actor: str,
        always_ask: bool = False,
    ) -> Outcome:
        model = store.lock_model(c, name)
        row = registry_store.version_row(c, model, version)
        policy = store.policy_of(c, model.id, model.name)
        if policy is None or not policy.covers(stage, alias):
            if always_ask:  # one approval by a MANAGE holder, no evidence
                policy = PromotionPolicy(model.name, (), (), 1, None, ())
            else:
                policy = None
        if policy is None or (self.bypasses(who) and not always_ask):
            _apply(c, name, version, stage, alias, archive, actor)
            return Outcome(version)
        existing = store.pending_for(c, model.id, version, stage, alias)
        if existing is not None:
            return Outcome(version, store.get_request(c, existing))
        tags, metrics = store.run_facts(c, row.run_id)
        evaluations = (
            store.evaluation_facts(c, model.name, version)
            if any(e.kind == "evaluation" for e in policy.evidence)
            else {}
        )
        missing = [e.check(row.run_id, tags, metrics, evaluations) for e in policy.evidence]
        refused = [check for check in missing if not check.ok]
        if refused:
            reasons = "; ".join(f"{ch.check} is required ({ch.detail})" for ch in refused)
            raise CairnError.invalid(
                f"Version {version} of registered model {name} lacks the evidence its "
                f"promotion policy requires: {reasons}"
            )
        snap = store.snapshot(c, model.id, row, stage, alias)
        request = store.create_request(
            c, model, version, stage, alias, archive, who.username, comment,
            policy.required_approvals, snap,
        )  # fmt: skip
        return Outcome(version, request)

    # ---------------------------------------------------------------------- requests
    def get_request(self, who: Identity, request_id: object) -> ApprovalRequest:
        rid = _request_id(request_id)
        found = self.db.read(lambda c: store.get_request(c, rid))
        if not self._readable(who, found.model_name):
            raise CairnError.not_found(f"Approval request {rid} not found")
        return found

    def list_requests(
        self,
        state: object = None,
        model_name: object = None,
        max_results: int = 100,
        page_token: str | None = None,
        *,
        version: object = None,
        visibility: Visibility = ALL,
    ) -> tuple[list[ApprovalRequest], str | None]:
        """Newest first; the page token is the last id answered."""
        ver = None if version in (None, "") else parse_version(version)
        st = None
        if state not in (None, "", "all"):
            try:
                st = RequestState(str(state).lower())
            except ValueError as exc:
                names = ", ".join(s.value for s in RequestState)
                raise CairnError.invalid(
                    f"Invalid value {state!r} for parameter 'state': one of {names} or all"
                ) from exc
        name = validate_name(model_name, "model_name") if model_name else None
        if not 1 <= max_results <= 1000:
            raise CairnError.invalid("Parameter 'max_results' must be between 1 and 1000")
        before = None
        if page_token:
            before = decimal(page_token)
            if before is None:
                raise CairnError.invalid(f"Invalid page_token {page_token!r}")
        only = None if visibility.everything else visibility.allow_ids
        allowed = (only, visibility.deny_ids)
        found = self.db.read(
            lambda c: store.list_requests(c, st, name, ver, allowed, max_results + 1, before)
        )
        if len(found) > max_results:
            return found[:max_results], str(found[max_results - 1].id)
        return found, None

    def _decidable(self, who: Identity, rid: int) -> ApprovalRequest:
        request = self.get_request(who, rid)
        if request.state is not RequestState.PENDING:
            raise CairnError(
                f"Approval request {rid} is {request.state.value}, not pending",
                ErrorCode.INVALID_STATE,
            )
        return request

    def approve(
        self,
        who: Identity,
        request_id: object,
        comment: object = None,
        archive: bool | None = None,
    ) -> ApprovalRequest:
        """Add ``who``'s approval; the one that reaches the required count applies the move
        (in the same transaction, after re-checking the evidence). ``archive``: decide
        ``archive_existing_versions`` now (MLflow's transition-requests/approve)."""
        rid, note = _request_id(request_id), _comment(comment)
        request = self._decidable(who, rid)
        if who.username == request.requested_by:
            raise CairnError(
                f"{who.username} asked for approval request {rid} and cannot approve it; "
                "another approver must",
                ErrorCode.PERMISSION_DENIED,
            )
        self._check_approver(who, request)
        self.db.write(lambda c: self._approve(c, who, rid, note, archive))
        return self.get_request(who, rid)

    def _approve(
        self, c: Connection, who: Identity, rid: int, note: str | None, archive: bool | None
    ) -> None:
        row = store.request_row(c, rid)
        model = store.lock_model(c, row.model_name)
        request = store.get_request(c, rid)  # read again under the lock
        if request.state is not RequestState.PENDING:
            raise CairnError(
                f"Approval request {rid} is {request.state.value}, not pending",
                ErrorCode.INVALID_STATE,
            )
        if archive is not None and archive != request.archive_existing:
            store.set_archive(c, rid, archive)
            request.archive_existing = archive
        count = store.add_vote(c, request, who.username, note)
        if count < request.required_approvals:
            return
        refused = [check for check in request.evidence if not check.ok]
        if refused:
            reasons = "; ".join(f"{ch.check} ({ch.detail})" for ch in refused)
            raise CairnError.invalid(
                f"Approval request {rid} cannot be applied: the version no longer has the "
                f"evidence its policy requires: {reasons}"
            )
        registry_store.version_row(c, model, request.version)
        store.decide(c, request, RequestState.APPROVED, who.username, note, record=False)
        _apply(
            c,
            request.model_name,
            request.version,
            request.target_stage,
            request.target_alias,
            request.archive_existing,
            who.username,
        )

    def _check_approver(self, who: Identity, request: ApprovalRequest) -> None:
        self.check_approver(who, request.model_name, f"approval request {request.id}")

    def check_approver(self, who: Identity, model_name: object, what: str = "") -> None:
        """403 unless ``who`` may approve or reject requests of ``model_name``."""
        n = validate_name(model_name)
        role = self._role(n)
        if not self.may_approve(who, n, role):
            whom = f"holders of role {role}" if role else "MANAGE holders of the model"
            raise CairnError(
                f"Only {whom} may approve or reject {what or f'requests of {n}'}",
                ErrorCode.PERMISSION_DENIED,
            )

    def reject(self, who: Identity, request_id: object, comment: object = None) -> ApprovalRequest:
        rid, note = _request_id(request_id), _comment(comment)
        request = self._decidable(who, rid)
        self._check_approver(who, request)
        self.db.write(lambda c: self._close(c, rid, RequestState.REJECTED, who, note))
        return self.get_request(who, rid)

    def cancel(self, who: Identity, request_id: object, comment: object = None) -> ApprovalRequest:
        """Withdraw a pending request: its requester or a MANAGE holder of the model."""
        rid, note = _request_id(request_id), _comment(comment)
        request = self._decidable(who, rid)
        if who.username != request.requested_by and not self._manages(who, request.model_name):
            raise CairnError(
                f"Only {request.requested_by} or a MANAGE holder of the model may cancel "
                f"approval request {rid}",
                ErrorCode.PERMISSION_DENIED,
            )
        self.db.write(lambda c: self._close(c, rid, RequestState.CANCELLED, who, note))
        return self.get_request(who, rid)

    @staticmethod
    def _close(
        c: Connection, rid: int, state: RequestState, who: Identity, note: str | None
    ) -> None:
        row = store.request_row(c, rid)
        store.lock_model(c, row.model_name)
        request = store.get_request(c, rid)
        if request.state is not RequestState.PENDING:
            raise CairnError(
                f"Approval request {rid} is {request.state.value}, not pending",
                ErrorCode.INVALID_STATE,
            )
        store.decide(c, request, state, who.username, note)

    # ---------------------------------------------------------------------- rollback
    def previous_version(self, name: object, stage: object) -> int:
        """The version that was in ``stage`` before the one there now: the last to move into
        it that is neither there now nor deleted."""
        n, st = validate_name(name), parse_stage(stage)
        if st not in (Stage.STAGING, Stage.PRODUCTION):
            raise CairnError.invalid("Rollback restores the previous Staging or Production version")

        def read(c: Connection) -> int | None:
            model = registry_store.model_row(c, n)
            return store.previous_holder(c, model.id, st.value)

        found = self.db.read(read)
        if found is None:
            raise CairnError(
                f"Registered model {n} has no earlier {st.value} version to restore",
                ErrorCode.INVALID_STATE,
            )
        return found

    def rollback(self, who: Identity, name: object, stage: object, comment: object) -> Outcome:
        """Restore the previous version of ``stage`` (archiving the current one) through the
        policy: applied, or a request."""
        version = self.previous_version(name, stage)
        return self.move(who, name, version, stage=stage, archive_existing=True, comment=comment)


def _apply(
    c: Connection,
    name: str,
    version: int,
    stage: str | None,
    alias: str | None,
    archive: bool,
    actor: str | None,
) -> None:
    if stage is not None:
        registry_store.transition_stage(c, name, version, Stage(stage), archive, actor)
    elif alias is not None:
        registry_store.set_alias(c, name, alias, version, actor)
