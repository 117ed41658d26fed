"""The access service: users, tokens, sessions, grants and roles, and the one answer to "what
may this caller do with that resource".

How a permission is found, for a user on one experiment or registered model:

1. admins may do everything (MANAGE);
2. a grant to the user on that resource decides, when there is one (it can lower as well as
   raise: NO_PERMISSIONS on one experiment hides it from a user who reads everything else);
3. otherwise the highest of the server's default permission and every permission the user's
   roles give on a pattern matching the resource (``*``, its id, or its name);
4. a read-only token caps the result at READ.

Answers are cached per user for a few seconds (:data:`PROFILE_TTL`) and dropped at once on
this server when anything they depend on changes here; another server sharing the database
sees a change within that time (a password that verified is kept longer, but trusted only
while the user's profile still has the hash it was checked against: a reset elsewhere ends it
within :data:`PROFILE_TTL` too).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from cairn.access import secrets as sec
from cairn.entities.access import (
    ApiToken,
    AuthMethod,
    Grant,
    Identity,
    Permission,
    ResourceType,
    Role,
    RolePermission,
    User,
    Visibility,
)
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ACTING, SYSTEM_ACTOR, Actor, ActorKind
from cairn.entities.numbers import decimal
from cairn.entities.tracking import parse_experiment_id
from cairn.store import access as store
from cairn.store import evaluations as eval_store
from cairn.store.db import Database
from cairn.store.sql import AnyRow, now_ms

T = TypeVar("T")

_NO_IO: ContextVar[bool] = ContextVar("cairn_access_no_io", default=False)


class NeedsIO(Exception):
    """Raised inside :func:`no_io` when an answer is not in memory and needs the database:
    the caller (the access layer, on the event loop) asks again from a worker thread."""


@contextmanager
def no_io() -> Iterator[None]:
    """Answer from the caches only; raise :class:`NeedsIO` instead of touching the database."""
    token = _NO_IO.set(True)
    try:
        yield
    finally:
        _NO_IO.reset(token)


VERIFIED_TTL = 30.0
"""Seconds a password that verified is trusted from memory (as a keyed digest)."""
PROFILE_TTL = 5.0
"""Seconds a user's grants and roles, a token's or a session's validity are trusted from
memory before the database is asked again."""
TOKEN_TOUCH_MS = 60_000
"""A token's ``last_used_at`` is written at most once a minute."""
SESSION_MS = 12 * 3600 * 1000
LOGIN_WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES_PER_USER = 10
MAX_FAILURES_PER_ADDRESS = 50
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}$")
RESERVED_NAMES = frozenset({"local", "system", "anonymous"})
MAX_NAME = 256
RUNNER_USER = "eval-runner:"
"""The user name of an evaluation job's runner: ``eval-runner:<job id>``."""


def canonical_experiment_id(resource_id: str) -> str:
    """The experiment a handler reads from ``resource_id``: the tracking API takes "01",
    " 1" and other digit spellings as experiment 1, so a grant on "1" must decide for every
    spelling of it (otherwise a NO_PERMISSIONS grant is passed by asking for "01")."""
    try:
        return str(parse_experiment_id(resource_id))
    except CairnError:
        return resource_id


def unauthenticated(message: str = "Authentication required") -> CairnError:
    return CairnError(message, ErrorCode.UNAUTHENTICATED)


def denied(message: str) -> CairnError:
    return CairnError(message, ErrorCode.PERMISSION_DENIED)


def check_username(username: object, field: str = "username") -> str:
    if not isinstance(username, str) or not username:
        raise CairnError.invalid(f"Missing value for required parameter '{field}'")
    if not USERNAME.match(username):
        raise CairnError.invalid(
            f"Invalid value for parameter '{field}': a user name is 1 to 256 letters, digits "
            "and . _ @ + -, starting with a letter or digit"
        )
    if username.lower() in RESERVED_NAMES:
        raise CairnError.invalid(f"Invalid value for parameter '{field}': '{username}' is reserved")
    return username


def check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CairnError.invalid(f"Missing value for required parameter '{field}'")
    if len(value) > MAX_NAME:
        raise CairnError.invalid(f"'{field}' is longer than {MAX_NAME} characters")
    return value


def failure_key(username: str) -> str:
    """The rate limit's key for failed logins as ``username``. A name no user can have (longer
    than :data:`MAX_NAME`: HTTP basic credentials can hold anything) counts by its digest, so the
    key fits its column."""
    if len(username) > MAX_NAME:
        return "user:#" + hashlib.sha256(username.encode()).hexdigest()
    return f"user:{username}"


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Make ``actor`` the :data:`~cairn.entities.events.ACTING` one for the writes inside."""
    token = ACTING.set(actor)
    try:
        yield
    finally:
        ACTING.reset(token)


def signed_in(username: str, user_id: int) -> Actor:
    """The actor of a user who just proved their password: the request's address and id."""
    base = ACTING.get()
    return Actor(username, ActorKind.USER, base.address, base.request_id, user_id)


@dataclass(frozen=True, slots=True)
class Profile:
    """What decides a user's permissions, loaded in one go and cached for a few seconds."""

    user_id: int
    username: str
    is_admin: bool
    active: bool
    grants: dict[ResourceType, dict[str, Permission]]
    patterns: dict[ResourceType, tuple[tuple[str, Permission], ...]]
    credential: str
    """A digest of the stored password hash: a password verified from memory is trusted only
    while the profile (at most :data:`PROFILE_TTL` old) still has the hash it was checked
    against, so a password changed on another server stops working here within that time."""


def _credential(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class LoginSession:
    secret: str
    """The cookie value: returned once, stored only as its digest."""
    csrf_token: str
    user: User
    expires_at: int


class _Ttl:
    """A bounded map whose entries expire; values are looked up with their age."""

    def __init__(self, size: int, ttl: float):
        self.size, self.ttl = size, ttl
        self._data: OrderedDict[object, tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            found = self._data.get(key)
            if found is None or time.monotonic() - found[1] > self.ttl:
                return None
            return found[0]

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._data[key] = (value, time.monotonic())
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class AccessService:
    def __init__(self, db: Database, default_permission: Permission = Permission.READ):
        self.db = db
        self.default = default_permission
        self._verified = _Ttl(4096, VERIFIED_TTL)  # credential_key -> (user id, credential)
        self._verified_key = secrets.token_bytes(32)
        self._profiles = _Ttl(4096, PROFILE_TTL)
        self._tokens = _Ttl(4096, PROFILE_TTL)
        self._sessions = _Ttl(4096, PROFILE_TTL)
        self._owners = _Ttl(65536, 3600.0)  # run / logged model -> experiment: never changes
        self._names = _Ttl(4096, PROFILE_TTL)  # experiment id -> name

    # ---- cache upkeep ----

    def _changed(self) -> None:
        """Something that decides permissions or credentials changed on this server."""
        self._profiles.clear()
        self._tokens.clear()
        self._sessions.clear()
        self._verified.clear()

    def _read(self, fn: Callable[[Connection], T]) -> T:
        if _NO_IO.get():
            raise NeedsIO
        return self.db.read(fn)

    def _dbwrite(self, fn: Callable[[Connection], T]) -> T:
        if _NO_IO.get():
            raise NeedsIO
        return self.db.write(fn)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        try:
            return self._dbwrite(fn)
        finally:
            self._changed()

    # ---- users ----

    def create_user(self, username: object, password: object, is_admin: bool = False) -> User:
        name = check_username(username)
        secret = sec.check_password_rules(password)
        hashed = sec.hash_password(secret)
        return self._write(lambda c: store.create_user(c, name, hashed, is_admin))

    def ensure_admin(self, username: str, password: str) -> User:
        """The first admin, from the environment at start: created when missing (by the
        ``system`` actor); an existing user of that name is left as it is (its password is not
        reset from the environment)."""
        name = check_username(username, "CAIRN_ADMIN_USERNAME")
        sec.check_password_rules(password, "CAIRN_ADMIN_PASSWORD")
        row = self._read(lambda c: store.user_row(c, name))
        if row is not None:
            return self.get_user(name)
        try:
            with acting_as(SYSTEM_ACTOR):
                return self.create_user(name, password, is_admin=True)
        except CairnError as exc:  # another server created it first
            if exc.error_code is not ErrorCode.RESOURCE_ALREADY_EXISTS:
                raise
            return self.get_user(name)

    def get_user(self, username: object) -> User:
        name = check_name(username, "username")
        return self._read(lambda c: store.get_user(c, name))

    def list_users(self) -> list[User]:
        return self._read(store.list_users)

    def has_users(self) -> bool:
        return bool(self._read(store.list_users))

    def update_password(self, username: object, password: object) -> None:
        user = self.get_user(username)
        hashed = sec.hash_password(sec.check_password_rules(password))

        def write(c: Connection) -> None:
            store.update_user(c, user.id, password_hash=hashed)
            store.delete_sessions_of(c, user.id)

        self._write(write)

    def change_own_password(
        self, username: object, current: object, password: object, address: str | None = None
    ) -> None:
        """A user changing their own password proves the current one first (a stolen session
        or token cannot lock its owner out); failures count towards the login rate limit."""
        name = check_name(username, "username")
        if not isinstance(current, str) or not current:
            raise CairnError.invalid(
                "Missing value for required parameter 'current_password': it is required "
                "when changing your own password"
            )
        if sec.looks_like_token(current):
            raise CairnError.invalid("'current_password' must be your password, not an API token")
        try:
            self.authenticate_password(name, current, address)
        except CairnError as exc:
            if exc.error_code is not ErrorCode.UNAUTHENTICATED:
                raise
            raise CairnError.invalid("'current_password' does not match") from None
        if password == current:
            raise CairnError.invalid(
                "Invalid value for parameter 'password': it must differ from the current one"
            )
        self.update_password(name, password)

    def set_admin(self, username: object, is_admin: bool) -> User:
        user = self.get_user(username)

        def write(c: Connection) -> None:
            if user.is_admin and not is_admin:
                self._keep_an_admin(c, user)
            store.update_user(c, user.id, is_admin=is_admin)

        self._write(write)
        return self.get_user(user.username)

    def set_active(self, username: object, active: bool) -> User:
        user = self.get_user(username)

        def write(c: Connection) -> None:
            if user.is_admin and not active:
                self._keep_an_admin(c, user)
            store.update_user(c, user.id, active=active)
            if not active:
                store.delete_sessions_of(c, user.id)

        self._write(write)
        return self.get_user(user.username)

    def delete_user(self, username: object) -> None:
        user = self.get_user(username)

        def write(c: Connection) -> None:
            if user.is_admin:
                self._keep_an_admin(c, user)
            store.delete_user(c, user.id)

        self._write(write)

    @staticmethod
    def _keep_an_admin(c: Connection, user: User) -> None:
        if user.active and store.count_admins(c) <= 1:
            raise CairnError(
                f"'{user.username}' is the last active admin: make another user admin first",
                ErrorCode.INVALID_STATE,
            )

    # ---- authentication ----

    def _identity(self, row: AnyRow, method: AuthMethod, token: ApiToken | None = None) -> Identity:
        return Identity(
            username=row.username,
            method=method,
            user_id=row.id,
            is_admin=bool(row.is_admin),
            read_only=bool(token and token.read_only),
            token_id=token.id if token else None,
        )

    def _check_rate(self, username: str, address: str | None, method: str) -> None:
        keys = [failure_key(username)] + ([f"addr:{address}"] if address else [])
        found = self._read(lambda c: store.failures(c, keys))
        now = now_ms()
        for key, (start, count) in found.items():
            limit = MAX_FAILURES_PER_USER if key.startswith("user:") else MAX_FAILURES_PER_ADDRESS
            if now - start < LOGIN_WINDOW_MS and count >= limit:
                self._refused(username, key, limit, method)
                wait = (start + LOGIN_WINDOW_MS - now) // 1000 + 1
                raise CairnError(
                    f"Too many failed logins; try again in {wait} seconds",
                    ErrorCode.TOO_MANY_REQUESTS,
                )

    def _refused(self, username: str, key: str, limit: int, method: str) -> None:
        """A refusal by the rate limit is a failed login too, recorded once per window and
        key (the first refusal) so that a locked-out caller cannot fill the log."""

        def write(c: Connection) -> None:
            if store.mark_refused(c, key, limit):
                store.record_login_failure(c, username, method, "rate_limited")

        self._dbwrite(write)

    def _fail(self, username: str, address: str | None, method: str, reason: str) -> CairnError:
        """Count a failed login against the user and the address (the rate limit) and record
        its ``login.failed`` event, in one write."""
        now = now_ms()

        def write(c: Connection) -> None:
            store.record_failure(c, failure_key(username), now, LOGIN_WINDOW_MS)
            if address:
                store.record_failure(c, f"addr:{address}", now, LOGIN_WINDOW_MS)
            store.record_login_failure(c, username, method, reason)

        self._dbwrite(write)
        return unauthenticated("Invalid username or password")

    def authenticate_password(
        self, username: str, password: str, address: str | None = None, method: str = "password"
    ) -> Identity:
        """HTTP basic credentials: the user's password, or one of their API tokens. A wrong
        password is a failed login (``method`` says which way: ``password``, or ``session``
        for a sign-in to the web UI); a right one is no event (it comes with every request)."""
        if sec.looks_like_token(password):
            who = self.authenticate_token(password)
            if who.username != username:
                raise unauthenticated("Invalid username or password")
            return who
        key = sec.credential_key(self._verified_key, username, password)
        verified = self._verified.get(key)
        if isinstance(verified, tuple):
            user_id, credential = verified
            profile = self._profile(user_id)
            if (
                profile is not None
                and profile.active
                and profile.username == username
                and profile.credential == credential
            ):
                return Identity(username, AuthMethod.PASSWORD, user_id, profile.is_admin)
        self._check_rate(username, address, method)
        row = self._read(lambda c: store.user_row(c, username))
        if row is None:
            sec.burn_verification(password)
            raise self._fail(username, address, method, "unknown_user")
        if not sec.verify_password(row.password_hash, password):
            raise self._fail(username, address, method, "wrong_password")
        if not row.active:
            raise self._fail(username, address, method, "inactive_user")
        self._verified.put(key, (row.id, _credential(row.password_hash)))
        return self._identity(row, AuthMethod.PASSWORD)

    def authenticate_token(self, secret: str) -> Identity:
        hashed = sec.digest(secret)
        cached = self._tokens.get(hashed)
        if isinstance(cached, Identity):
            return cached
        found = self._read(lambda c: store.token_by_hash(c, hashed))
        if found is None:
            raise unauthenticated("Invalid API token")
        token, row = found
        now = now_ms()
        if token.revoked_at is not None:
            raise unauthenticated(f"API token '{token.name}' has been revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise unauthenticated(f"API token '{token.name}' has expired")
        if not row.active:
            raise unauthenticated(f"User '{row.username}' is deactivated")
        if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_MS:
            self._dbwrite(lambda c: store.touch_token(c, token.id, now))
        who = self._identity(row, AuthMethod.TOKEN, token)
        if token.expires_at is None or token.expires_at - now > PROFILE_TTL * 1000:
            self._tokens.put(hashed, who)
        return who

    # ---- evaluation runners ----

    def authenticate_runner(self, job_id: str, secret: str) -> Identity:
        """The runner of evaluation job ``job_id``, when ``secret`` is that job's runner token
        (compared by digest; tokens are stored hashed). Any other token is a 401."""
        hashed = sec.digest(secret)
        stored = self._read(lambda c: eval_store.token_hash(c, job_id[:64]))
        if stored is None or not sec.same(stored, hashed):
            raise unauthenticated(f"Invalid runner token for evaluation job '{job_id[:64]}'")
        return Identity(RUNNER_USER + job_id, AuthMethod.RUNNER)

    # ---- sessions (the web UI) ----

    def login(self, username: object, password: object, address: str | None) -> LoginSession:
        name = check_name(username, "username")
        if not isinstance(password, str) or not password:
            raise CairnError.invalid("Missing value for required parameter 'password'")
        if sec.looks_like_token(password):
            raise unauthenticated("Log in with your password, not an API token")
        who = self.authenticate_password(name, password, address, method="session")
        assert who.user_id is not None
        user = self.get_user(name)
        secret, csrf = sec.new_secret(), sec.new_secret()
        expires = now_ms() + SESSION_MS
        uid = who.user_id

        def write(c: Connection) -> None:
            store.delete_expired_sessions(c, now_ms())
            store.create_session(c, uid, sec.digest(secret), csrf, expires)
            store.clear_failures(c, failure_key(name))

        with acting_as(signed_in(user.username, uid)):  # the session's user made it
            self._dbwrite(write)
        return LoginSession(secret, csrf, user, expires)

    def authenticate_session(self, secret: str) -> tuple[Identity, str]:
        """The identity of a session cookie and its CSRF token."""
        hashed = sec.digest(secret)
        cached = self._sessions.get(hashed)
        if isinstance(cached, tuple):
            return cached
        found = self._read(lambda c: store.session_by_hash(c, hashed))
        if found is None:
            raise unauthenticated("Your session has ended: log in again")
        session, row = found
        if session.expires_at <= now_ms() or not row.active:
            raise unauthenticated("Your session has ended: log in again")
        result = (self._identity(row, AuthMethod.SESSION), session.csrf_token)
        self._sessions.put(hashed, result)
        return result

    def logout(self, secret: str) -> None:
        hashed = sec.digest(secret)
        self._write(lambda c: store.delete_session(c, hashed))

    # ---- API tokens ----

    def create_token(
        self,
        user_id: int,
        name: object,
        expires_at: int | None = None,
        read_only: bool = False,
    ) -> tuple[ApiToken, str]:
        """A new token and its secret, which is shown once and never stored."""
        label = check_name(name, "name")
        if expires_at is not None and expires_at <= now_ms():
            raise CairnError.invalid("Invalid value for parameter 'expires_at': it is in the past")
        secret = sec.new_token()

        def write(c: Connection) -> ApiToken:
            live = [t for t in store.list_tokens(c, user_id) if t.revoked_at is None]
            if any(t.name == label for t in live):
                raise CairnError.exists(f"You already have a token named '{label}'")
            return store.create_token(
                c,
                user_id,
                label,
                sec.digest(secret),
                secret[: sec.PREFIX_SHOWN],
                read_only,
                expires_at,
            )

        return self._write(write), secret

    def list_tokens(self, user_id: int) -> list[ApiToken]:
        return self._read(lambda c: store.list_tokens(c, user_id))

    def revoke_token(self, who: Identity, token_id: int) -> ApiToken:
        token = self._read(lambda c: store.get_token(c, token_id))
        if token is None or (
            token.user_id != who.user_id and not (who.is_admin or who.unrestricted)
        ):
            raise CairnError.not_found(f"API token with id={token_id} not found")
        self._write(lambda c: store.revoke_token(c, token_id))
        found = self._read(lambda c: store.get_token(c, token_id))
        assert found is not None
        return found

    # ---- grants ----

    def _user_id(self, username: object) -> int:
        return self.get_user(username).id

    @staticmethod
    def _grant_key(kind: ResourceType, resource_id: object) -> str:
        """A grant's resource as stored: an experiment's id must be a number."""
        field = "experiment_id" if kind is ResourceType.EXPERIMENT else "name"
        text = check_name(resource_id, field)
        if kind is ResourceType.EXPERIMENT and decimal(text) is None:
            raise CairnError.invalid(f"Invalid value '{text}' for parameter '{field}'")
        return text

    @staticmethod
    def _must_exist(c: Connection, kind: ResourceType, resource_id: str) -> None:
        """A grant on an experiment needs the experiment (registered models are granted by
        name, as MLflow does, whether or not the model exists yet)."""
        if kind is ResourceType.EXPERIMENT and not store.experiment_names(c, [int(resource_id)]):
            raise CairnError.not_found(f"Experiment with id={resource_id} not found")

    def create_grant(
        self, kind: ResourceType, resource_id: str, username: object, permission: Permission
    ) -> Grant:
        resource_id = self._grant_key(kind, resource_id)
        uid = self._user_id(username)

        def write(c: Connection) -> None:
            self._must_exist(c, kind, resource_id)
            if store.get_grant(c, kind, resource_id, uid) is not None:
                raise CairnError.exists(
                    f"{kind.value} permission ({resource_id}, {username}) already exists"
                )
            store.set_grant(c, kind, resource_id, uid, permission)

        self._write(write)
        return Grant(kind, resource_id, uid, str(username), permission)

    def set_grant(
        self, kind: ResourceType, resource_id: str, username: object, permission: Permission
    ) -> Grant:
        """Create or change a grant (Cairn's own API and the creator's MANAGE)."""
        resource_id = self._grant_key(kind, resource_id)
        uid = self._user_id(username)

        def write(c: Connection) -> None:
            self._must_exist(c, kind, resource_id)
            store.set_grant(c, kind, resource_id, uid, permission)

        self._write(write)
        return Grant(kind, resource_id, uid, str(username), permission)

    def grant_creator(self, who: Identity, kind: ResourceType, resource_id: str) -> None:
        """The creator of an experiment or registered model gets MANAGE on it."""
        uid = who.user_id
        if uid is None:
            return
        self._write(lambda c: store.set_grant(c, kind, resource_id, uid, Permission.MANAGE))

    def get_grant(self, kind: ResourceType, resource_id: str, username: object) -> Grant:
        resource_id = self._grant_key(kind, resource_id)
        uid = self._user_id(username)
        found = self._read(lambda c: store.get_grant(c, kind, resource_id, uid))
        if found is None:
            raise CairnError.not_found(
                f"{kind.value} permission with {kind.value}={resource_id} and "
                f"username={username} not found"
            )
        return Grant(kind, resource_id, uid, str(username), found)

    def update_grant(
        self, kind: ResourceType, resource_id: str, username: object, permission: Permission
    ) -> Grant:
        self.get_grant(kind, resource_id, username)
        return self.set_grant(kind, resource_id, username, permission)

    def delete_grant(self, kind: ResourceType, resource_id: str, username: object) -> None:
        grant = self.get_grant(kind, resource_id, username)
        self._write(lambda c: store.delete_grant(c, kind, resource_id, grant.user_id))

    def grants_on(self, kind: ResourceType, resource_id: str) -> list[Grant]:
        key = self._grant_key(kind, resource_id)
        return self._read(lambda c: store.grants_on(c, kind, key))

    def grants_of(self, username: object) -> dict[ResourceType, dict[str, Permission]]:
        uid = self._user_id(username)
        return self._read(
            lambda c: {kind: store.grants_of_user(c, kind, uid) for kind in ResourceType}
        )

    def model_renamed(self, old: str, new: str) -> None:
        self._write(lambda c: store.rename_model_grants(c, old, new))

    # ---- roles ----

    def create_role(self, name: object, description: object = "") -> Role:
        label = check_name(name, "name")
        text = description if isinstance(description, str) else ""
        return self._write(lambda c: store.create_role(c, label, text))

    def get_role(self, role_id: int) -> Role:
        return self._read(lambda c: store.get_role(c, role_id))

    def role_by_name(self, name: object) -> Role:
        label = check_name(name, "name")
        return self._read(lambda c: store.role_by_name(c, label))

    def list_roles(self) -> list[Role]:
        return self._read(store.list_roles)

    def update_role(
        self, role_id: int, name: str | None = None, description: str | None = None
    ) -> Role:
        self.get_role(role_id)
        values: dict[str, object] = {}
        if name is not None:
            values["name"] = check_name(name, "name")
        if description is not None:
            values["description"] = description
        if values:
            self._write(lambda c: store.update_role(c, role_id, **values))
        return self.get_role(role_id)

    def delete_role(self, role_id: int) -> None:
        self.get_role(role_id)
        self._write(lambda c: store.delete_role(c, role_id))

    def add_role_permission(
        self, role_id: int, kind: ResourceType, pattern: object, permission: Permission
    ) -> RolePermission:
        self.get_role(role_id)
        text = check_name(pattern, "resource_pattern")
        return self._write(lambda c: store.add_role_permission(c, role_id, kind, text, permission))

    def get_role_permission(self, permission_id: int) -> RolePermission:
        return self._read(lambda c: store.get_role_permission(c, permission_id))

    def update_role_permission(self, permission_id: int, permission: Permission) -> RolePermission:
        self.get_role_permission(permission_id)
        self._write(lambda c: store.update_role_permission(c, permission_id, permission))
        return self.get_role_permission(permission_id)

    def remove_role_permission(self, permission_id: int) -> None:
        self.get_role_permission(permission_id)
        self._write(lambda c: store.remove_role_permission(c, permission_id))

    def assign_role(self, username: object, role_id: int) -> None:
        uid = self._user_id(username)
        self.get_role(role_id)
        self._write(lambda c: store.assign_role(c, uid, role_id))

    def assign_new_role(self, username: object, role_id: int) -> User:
        """Like :meth:`assign_role`, but a user who already has the role is an error
        (RESOURCE_ALREADY_EXISTS, as MLflow's role API answers); returns the user."""
        user = self.get_user(username)
        self.get_role(role_id)
        if any(r.id == role_id for r in self.roles_of(user.username)):
            raise CairnError.exists(f"User '{user.username}' already has role {role_id}")
        self._write(lambda c: store.assign_role(c, user.id, role_id))
        return user

    def unassign_role(self, username: object, role_id: int) -> None:
        uid = self._user_id(username)
        self.get_role(role_id)
        if not self._write(lambda c: store.unassign_role(c, uid, role_id)):
            raise CairnError.not_found(f"User '{username}' does not have role {role_id}")

    def roles_of(self, username: object) -> list[Role]:
        uid = self._user_id(username)
        return self._read(lambda c: store.roles_of_user(c, uid))

    def users_of_role(self, role_id: int) -> list[User]:
        self.get_role(role_id)
        return self._read(lambda c: store.users_of_role(c, role_id))

    # ---- decisions ----

    def _profile(self, user_id: int) -> Profile | None:
        cached = self._profiles.get(user_id)
        if isinstance(cached, Profile):
            return cached

        def read(c: Connection) -> Profile | None:
            row = store.user_row_by_id(c, user_id)
            if row is None:
                return None
            patterns: dict[ResourceType, list[tuple[str, Permission]]] = {
                kind: [] for kind in ResourceType
            }
            for role in store.roles_of_user(c, user_id):
                for p in role.permissions:
                    patterns[p.resource_type].append((p.pattern, p.permission))
            return Profile(
                user_id=row.id,
                username=row.username,
                is_admin=bool(row.is_admin),
                active=bool(row.active),
                grants={kind: store.grants_of_user(c, kind, user_id) for kind in ResourceType},
                patterns={kind: tuple(found) for kind, found in patterns.items()},
                credential=_credential(row.password_hash),
            )

        profile = self._read(read)
        if profile is not None:
            self._profiles.put(user_id, profile)
        return profile

    def _experiment_name(self, experiment_id: str) -> str | None:
        cached = self._names.get(experiment_id)
        if isinstance(cached, str):
            return cached
        number = decimal(experiment_id)
        if number is None:
            return None
        found = self._read(lambda c: store.experiment_names(c, [number]))
        name = found.get(number)
        if name is not None:
            self._names.put(experiment_id, name)
        return name

    def permission(self, who: Identity, kind: ResourceType, resource_id: str) -> Permission:
        """What ``who`` may do with one experiment (by id) or registered model (by name)."""
        if kind is ResourceType.EXPERIMENT:
            resource_id = canonical_experiment_id(resource_id)
        if who.unrestricted:
            return Permission.MANAGE
        if who.user_id is None:
            return Permission.NO_PERMISSIONS
        profile = self._profile(who.user_id)
        if profile is None or not profile.active:
            return Permission.NO_PERMISSIONS
        if profile.is_admin:
            found = Permission.MANAGE
        else:
            explicit = profile.grants[kind].get(resource_id)
            found = explicit if explicit is not None else self._by_roles(profile, kind, resource_id)
        return min(found, Permission.READ) if who.read_only else found

    def _by_roles(self, profile: Profile, kind: ResourceType, resource_id: str) -> Permission:
        best = self.default
        patterns = profile.patterns[kind]
        name: str | None = None
        for pattern, permission in patterns:
            if permission <= best:
                continue
            if pattern in ("*", resource_id):
                best = permission
                continue
            if kind is ResourceType.EXPERIMENT:
                name = name if name is not None else (self._experiment_name(resource_id) or "")
                if pattern == name:
                    best = permission
        return best

    def permission_of_user(
        self, username: object, kind: ResourceType, resource_id: str
    ) -> Permission:
        """What the user ``username`` may do with one resource, as their requests would find."""
        user = self.get_user(username)
        who = Identity(user.username, AuthMethod.PASSWORD, user.id, user.is_admin)
        return self.permission(who, kind, resource_id)

    def visibility(self, who: Identity, kind: ResourceType) -> Visibility:
        """What ``who`` may read of ``kind``, as a search filter."""
        if who.unrestricted:
            return Visibility()
        if who.user_id is None:
            return Visibility(everything=False)
        profile = self._profile(who.user_id)
        if profile is None or not profile.active:
            return Visibility(everything=False)
        if profile.is_admin:
            return Visibility()
        grants = profile.grants[kind]
        deny = frozenset(r for r, p in grants.items() if not p.can_read)
        base = max([self.default] + [p for pattern, p in profile.patterns[kind] if pattern == "*"])
        if base.can_read:
            return Visibility(everything=True, deny_ids=deny)
        allowed = {r for r, p in grants.items() if p.can_read}
        named = {pattern for pattern, p in profile.patterns[kind] if p.can_read and pattern != "*"}
        return Visibility(
            everything=False,
            allow_ids=frozenset(allowed | named),
            allow_names=frozenset(named) if kind is ResourceType.EXPERIMENT else frozenset(),
            deny_ids=deny,
        )

    def managed(self, who: Identity, kind: ResourceType) -> Visibility:
        """The experiments (by id) or registered models (by name) ``who`` holds MANAGE on, as
        a filter: what their audit trail readers may see. The same rules as
        :meth:`permission` (a grant decides over roles; a read-only token manages nothing);
        an experiment role pattern that names an experiment is resolved to its id."""
        if who.unrestricted:
            return Visibility()
        if who.user_id is None or who.read_only:
            return Visibility(everything=False)
        profile = self._profile(who.user_id)
        if profile is None or not profile.active:
            return Visibility(everything=False)
        if profile.is_admin:
            return Visibility()
        grants = profile.grants[kind]
        deny = frozenset(r for r, p in grants.items() if not p.can_manage)
        patterns = profile.patterns[kind]
        base = max([self.default] + [p for pattern, p in patterns if pattern == "*"])
        if base.can_manage:
            return Visibility(everything=True, deny_ids=deny)
        allowed = {r for r, p in grants.items() if p.can_manage}
        named = {pattern for pattern, p in patterns if p.can_manage and pattern != "*"}
        if kind is ResourceType.EXPERIMENT and named:
            found = self._read(lambda c: [store.experiment_by_name(c, n) for n in sorted(named)])
            named |= {str(eid) for eid in found if eid is not None}
        return Visibility(everything=False, allow_ids=frozenset(allowed | named), deny_ids=deny)

    # ---- what a request names, resolved to its experiment ----

    def _owner(self, key: tuple[str, str], find: Callable[[Connection], int | None]) -> str | None:
        cached = self._owners.get(key)
        if isinstance(cached, str):
            return cached
        found = self._read(find)
        if found is None:
            return None
        self._owners.put(key, str(found))
        return str(found)

    def experiment_of_run(self, run_id: str) -> str | None:
        return self._owner(("run", run_id), lambda c: store.experiment_of_run(c, run_id))

    def experiment_of_logged_model(self, model_id: str) -> str | None:
        return self._owner(
            ("model", model_id), lambda c: store.experiment_of_logged_model(c, model_id)
        )

    def experiment_of_trace(self, trace_id: str) -> str | None:
        return self._owner(("trace", trace_id), lambda c: store.experiment_of_trace(c, trace_id))

    def experiment_by_name(self, name: str) -> str | None:
        found = self._read(lambda c: store.experiment_by_name(c, name))
        return None if found is None else str(found)

    def readable_ids(self, who: Identity, kind: ResourceType, ids: Iterable[str]) -> list[str]:
        """``ids`` without those ``who`` may not read (MLflow's runs search drops them)."""
        if who.unrestricted:
            return list(ids)
        return [i for i in ids if self.permission(who, kind, i).can_read]
