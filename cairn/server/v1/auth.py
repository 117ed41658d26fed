"""Cairn's own access API: signing in to the web UI (a session cookie and its CSRF token), the
caller's password and API tokens. The admin routes (users, roles) and the per-resource
permission routes live in :mod:`cairn.server.v1.users` and :mod:`cairn.server.v1.permissions`."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cairn.access import policy as p
from cairn.access import secrets
from cairn.access.service import SESSION_MS, AccessService, LoginSession
from cairn.entities.access import AuthMethod
from cairn.entities.errors import CairnError, ErrorCode
from cairn.server.access import SESSION_COOKIE
from cairn.server.state import identity
from cairn.server.v1.access_schemas import (
    TokenCreated,
    TokenList,
    TokenOut,
    UserOut,
    enabled,
    user_id_of,
)

MAX_TOKEN_DAYS = 3650
DAY_MS = 86_400_000

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginIn(BaseModel):
    username: str
    password: str


class Caller(BaseModel):
    username: str
    is_admin: bool
    id: int | None = Field(description="None for the local user (access control off).")
    read_only: bool = Field(description="Signed in with a read-only API token.")


class SessionOut(BaseModel):
    user: Caller
    csrf_token: str | None = Field(
        description="Send as the X-CSRF-Token header with every write made with the session "
        "cookie. None when the caller did not sign in with the cookie."
    )
    auth_enabled: bool


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class PasswordIn(BaseModel):
    current_password: str
    new_password: str


class TokenIn(BaseModel):
    name: str
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)
    expires_at: int | None = Field(
        default=None, description="Milliseconds since the epoch; or give expires_in_days."
    )
    read_only: bool = False


def _secure(request: Request) -> bool:
    """The cookie is Secure when the browser reached us over HTTPS (directly, or through a
    proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_session(request: Request, response: Response, session: LoginSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=SESSION_MS // 1000,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


@router.post(
    "/auth/login",
    response_model=LoginOut,
    summary="Sign in to the web UI",
    description="Checks the user's password (not an API token) and sets the session cookie "
    f"`{SESSION_COOKIE}` (HttpOnly, SameSite=Lax, Secure over HTTPS). Wrong credentials: 401; "
    "too many failed attempts for the user or from the address: 429.",
)
@p.requires(p.PUBLIC)
async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    service = enabled(request)
    session = await run_in_threadpool(
        service.login, body.username, body.password, _address(request)
    )
    _set_session(request, response, session)
    return LoginOut(user=UserOut.of(session.user), csrf_token=session.csrf_token)


@router.post("/auth/logout", status_code=204, summary="Sign out (ends the session)")
@p.requires(p.USER_WRITE)
async def logout(request: Request) -> Response:
    service = enabled(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await run_in_threadpool(service.logout, secret)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return answer


async def _csrf(service: AccessService, request: Request) -> str | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if identity(request).method is not AuthMethod.SESSION or not secret:
        return None
    _who, csrf = await run_in_threadpool(service.authenticate_session, secret)
    return csrf


@router.get(
    "/auth/session",
    response_model=SessionOut,
    summary="Who is signed in",
    description="The caller, the CSRF token of their session cookie, and whether access "
    "control is on (when it is off: the local user, who may do everything).",
)
@p.requires(p.USER_READ)
async def session(request: Request) -> SessionOut:
    who = identity(request)
    settings = getattr(request.app.state, "settings", None)
    if not getattr(settings, "auth", False):
        return SessionOut(
            user=Caller(username=who.username, is_admin=True, id=None, read_only=False),
            csrf_token=None,
            auth_enabled=False,
        )
    csrf = await _csrf(enabled(request), request)
    caller = Caller(
        username=who.username, is_admin=who.is_admin, id=who.user_id, read_only=who.read_only
    )
    return SessionOut(user=caller, csrf_token=csrf, auth_enabled=True)


@router.post(
    "/auth/password",
    response_model=LoginOut | None,
    summary="Change the caller's password",
    description="Ends every session of the user; a caller signed in with the session cookie "
    "gets a new session (and CSRF token) in the answer. A wrong current_password: 400.",
)
@p.requires(p.USER_WRITE)
async def change_password(
    body: PasswordIn, request: Request, response: Response
) -> LoginOut | None:
    service = enabled(request)
    who = identity(request)
    user_id_of(who)
    address = _address(request)
    try:
        if secrets.looks_like_token(body.current_password):
            raise CairnError("token", ErrorCode.UNAUTHENTICATED)
        await run_in_threadpool(
            service.authenticate_password, who.username, body.current_password, address
        )
    except CairnError as exc:
        if exc.error_code is not ErrorCode.UNAUTHENTICATED:
            raise
        raise CairnError.invalid(
            "Invalid value for parameter 'current_password': it is not your password"
        ) from None
    await run_in_threadpool(service.update_password, who.username, body.new_password)
    if who.method is not AuthMethod.SESSION:
        return None
    fresh = await run_in_threadpool(service.login, who.username, body.new_password, address)
    _set_session(request, response, fresh)
    return LoginOut(user=UserOut.of(fresh.user), csrf_token=fresh.csrf_token)


@router.get("/tokens", response_model=TokenList, summary="The caller's API tokens")
@p.requires(p.USER_READ)
async def list_tokens(request: Request) -> TokenList:
    service = enabled(request)
    found = await run_in_threadpool(service.list_tokens, user_id_of(identity(request)))
    return TokenList(tokens=[TokenOut.of(t) for t in found])


@router.post(
    "/tokens",
    response_model=TokenCreated,
    summary="Create an API token for the caller",
    description="The answer holds the token's secret: it is shown this once. Use it as "
    "MLFLOW_TRACKING_TOKEN (bearer) or as the password of basic authentication.",
)
@p.requires(p.USER_WRITE)
async def create_token(body: TokenIn, request: Request) -> TokenCreated:
    service = enabled(request)
    expires = body.expires_at
    if body.expires_in_days is not None:
        if expires is not None:
            raise CairnError.invalid("Give one of 'expires_in_days' and 'expires_at', not both")
        expires = int(time.time() * 1000) + body.expires_in_days * DAY_MS
    token, secret = await run_in_threadpool(
        service.create_token, user_id_of(identity(request)), body.name, expires, body.read_only
    )
    return TokenCreated(token=TokenOut.of(token), secret=secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke an API token")
@p.requires(p.USER_WRITE)
async def revoke_token(request: Request, token_id: Annotated[int, Path()]) -> TokenOut:
    service = enabled(request)
    who = identity(request)
    user_id_of(who)
    return TokenOut.of(await run_in_threadpool(service.revoke_token, who, token_id))
