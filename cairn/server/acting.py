"""Who is acting: every request's :data:`~cairn.entities.events.ACTING` actor and request id.

:class:`Acting` is the outermost layer inside the request guard. It gives each request an id
(the client's ``X-Request-Id`` when it is a sane one, else a new one), sends it back in the
response's ``X-Request-Id``, and sets the actor every change event of the request is written
with: ``local`` from the client's address while access control is off, ``anonymous`` until the
access layer has found the caller, whom :func:`actor_for` then puts in its place.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.entities.access import AuthMethod, Identity
from cairn.entities.events import ACTING, Actor, ActorKind
from cairn.server.logs import ACTOR_KEY, REQUEST_ID_KEY

REQUEST_ID = "x-request-id"
_REQUEST_ID = REQUEST_ID.encode()
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _Ids:
    """New request ids: a random 64-bit prefix per process (drawn again in a forked child)
    and a counter, as 32 hex digits. Unique like a random id, without a call to the
    system's random source on every request."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_IDS = _Ids()
_KINDS = {
    AuthMethod.TOKEN: ActorKind.TOKEN,
    AuthMethod.RUNNER: ActorKind.TOKEN,  # an evaluation runner: actor eval-runner:<job id>
    AuthMethod.SYSTEM: ActorKind.SYSTEM,
}


def actor_for(who: Identity, base: Actor) -> Actor:
    """The actor of ``who``, with the address and request id of ``base``."""
    kind = _KINDS.get(who.method, ActorKind.USER)
    return Actor(who.username, kind, base.address, base.request_id, who.user_id)


class Acting:
    def __init__(self, app: ASGIApp, *, access_control: bool):
        self.app = app
        self.access_control = access_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == _REQUEST_ID), b"").decode("latin-1")
        request_id = given if SANE_ID.fullmatch(given) else _IDS.new()
        header = (_REQUEST_ID, request_id.encode("latin-1"))
        client = scope.get("client")
        address = client[0][:64] if client else None
        name = "anonymous" if self.access_control else "local"
        token = ACTING.set(Actor(name, ActorKind.USER, address, request_id))
        scope[REQUEST_ID_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":  # on every response: kept cheap
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            scope[ACTOR_KEY] = ACTING.get().name  # who the access layer found, for the log
            ACTING.reset(token)
