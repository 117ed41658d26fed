"""One delivery attempt: sign as MLflow does, POST to the checked address, record the answer.

The signature is MLflow 3's: ``X-MLflow-Signature: v1,<base64 HMAC-SHA256 over
"{delivery_id}.{timestamp}.{body}">`` keyed by the webhook's secret, with the delivery id in
``X-MLflow-Delivery-Id`` and the Unix time in seconds in ``X-MLflow-Timestamp``; a receiver
written for MLflow verifies Cairn's deliveries unchanged. Redirects are never followed (a 3xx
fails the delivery), 408/429/5xx and network errors are retried with exponential backoff or
after the receiver's ``Retry-After``, and every attempt is kept.

:func:`attempt_delivery` is the job body: the job engine calls it with a delivery id and
retries after :attr:`Outcome.retry_after` seconds when it says so.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cairn.access.sealing import Sealer
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.events import ACTING, SYSTEM_ACTOR
from cairn.entities.numbers import decimal
from cairn.entities.webhooks import RESPONSE_EXCERPT, Attempt, DeliveryState
from cairn.services.webhook_targets import (
    NOTHING_ALLOWED,
    AllowList,
    Resolver,
    Target,
    check,
    system_resolver,
)
from cairn.store import webhooks as store
from cairn.store.db import Database

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth another attempt (and every other 5xx, see :func:`retryable`)."""
MAX_RETRY_AFTER_S = 24 * 3600
EXCERPT_BYTES = 4 * RESPONSE_EXCERPT


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """The ``X-MLflow-Signature`` value for one attempt."""
    content = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def retryable(status: int) -> bool:
    return status in RETRYABLE or 500 <= status <= 599


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped at a
    day; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    seconds = decimal(text, high=2**1023)
    if seconds is not None:
        return float(min(seconds, MAX_RETRY_AFTER_S))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - now_s, float(MAX_RETRY_AFTER_S)))


@dataclass(frozen=True)
class DeliveryConfig:
    """How deliveries are made (from the server settings)."""

    sealer: Sealer
    allow: AllowList = NOTHING_ALLOWED
    timeout_s: float = 10.0
    max_attempts: int = 8
    disable_after: int = 10
    """Disable a webhook after this many deliveries in a row failed for good (0: never)."""
    backoff_s: float = 10.0
    """The wait before the second attempt; doubled for each one after, up to ``backoff_max_s``."""
    backoff_max_s: float = 3600.0
    resolve: Resolver = field(default=system_resolver)
    ca_bundle: str | None = None
    """A PEM file of the CA certificates https receivers are checked against (default: the
    system's trusted CAs, through certifi)."""

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_s * (2 ** max(0, attempt - 1)), self.backoff_max_s))

    @property
    def lease_ms(self) -> int:
        """How long a claimed attempt keeps others off (its timeout and a margin)."""
        return int((self.timeout_s * 3 + 30) * 1000)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt came to: ``state`` (``pending`` with ``retry_after`` seconds when to
    try again), and the attempt's answer."""

    delivery_id: str
    state: DeliveryState
    retry_after: float | None = None
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    attempted: bool = True
    """False when nothing was sent (not due yet, already done, or taken by another worker)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    latency_ms: int | None
    excerpt: str | None
    retry_after: str | None
    location: str | None
    error: str | None


Post = Callable[[Target, bytes, dict[str, str], "DeliveryConfig"], Answer]


def _verify(config: DeliveryConfig) -> ssl.SSLContext | bool:
    if config.ca_bundle:
        return ssl.create_default_context(cafile=config.ca_bundle)
    return True


def post(target: Target, body: bytes, headers: dict[str, str], config: DeliveryConfig) -> Answer:
    """POST ``body`` to the checked address of ``target`` (the Host header, and for https the
    TLS server name the certificate is checked against, are the URL's host), without
    following redirects; read at most a few KiB of the answer."""
    timeout_s = config.timeout_s
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    started = time.perf_counter()
    try:
        with httpx.Client(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s),
            verify=_verify(config),
        ) as client:
            request = client.build_request(
                "POST",
                target.connect_url(),
                content=body,
                headers={**headers, "Host": target.host_header()},
                extensions=extensions,
            )
            response = client.send(request, stream=True)
            try:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= EXCERPT_BYTES:
                        break
                latency = int((time.perf_counter() - started) * 1000)
                text = b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", "replace")
                return Answer(
                    response.status_code,
                    latency,
                    text[:RESPONSE_EXCERPT],
                    response.headers.get("retry-after"),
                    response.headers.get("location"),
                    None,
                )
            finally:
                response.close()
    except httpx.TimeoutException as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Answer(
            None,
            latency,
            None,
            None,
            None,
            f"timed out after {timeout_s:g} s ({type(exc).__name__})",
        )
    except httpx.HTTPError as exc:
        latency = int((time.perf_counter() - started) * 1000)
        return Answer(None, latency, None, None, None, f"{type(exc).__name__}: {exc}"[:500])


def headers_for(delivery_id: str, body: str, secret: str | None, now_s: float) -> dict[str, str]:
    timestamp = str(int(now_s))
    out = {
        "Content-Type": "application/json",
        "User-Agent": "cairn-webhooks",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        out[SIGNATURE_HEADER] = sign(secret, delivery_id, timestamp, body)
    return out


def _judge(
    answer: Answer, attempt: int, config: DeliveryConfig, now_s: float, retry: bool
) -> tuple[DeliveryState, float | None, str | None]:
    """(state, seconds until the next attempt, error) for one answer."""
    error = answer.error
    code = answer.status_code
    if code is not None and 200 <= code <= 299:
        return DeliveryState.SUCCEEDED, None, None
    if code is not None and 300 <= code <= 399:
        where = f" to {answer.location}" if answer.location else ""
        return DeliveryState.FAILED, None, f"HTTP {code}: redirect{where} not followed"
    again = code is None or retryable(code)
    if code is not None:
        error = f"HTTP {code}"
    if not again or not retry or attempt >= config.max_attempts:
        if again and retry:
            error = f"{error}; gave up after {attempt} attempts"
        return DeliveryState.FAILED, None, error
    wait = parse_retry_after(answer.retry_after, now_s)
    return DeliveryState.PENDING, (config.backoff(attempt) if wait is None else wait), error


def attempt_delivery(
    db: Database,
    delivery_id: str,
    now: int,
    config: DeliveryConfig,
    *,
    send: Post = post,
    retry: bool = True,
    count_failure: bool = True,
    even_if_disabled: bool = False,
) -> Outcome:
    """One attempt of delivery ``delivery_id`` at ``now`` (ms): claim it, check its target
    again, sign and send, and record the answer. ``retry`` False (test deliveries): one
    attempt only; ``even_if_disabled`` (test deliveries, as MLflow tests a disabled hook too).
    A delivery that is not pending or not due is left alone."""
    token = ACTING.set(SYSTEM_ACTOR)
    try:
        try:
            claimed = db.write(lambda c: store.claim(c, delivery_id, now, config.lease_ms))
        except CairnError as exc:  # deleted with its webhook since the job was made
            if exc.error_code is not ErrorCode.RESOURCE_DOES_NOT_EXIST:
                raise
            return Outcome(delivery_id, DeliveryState.FAILED, error=exc.message, attempted=False)
        if claimed is None:
            found = db.read(lambda c: store.get_delivery(c, delivery_id))
            wait = None
            if found.state is DeliveryState.PENDING and found.next_attempt_at is not None:
                wait = max(0.0, (found.next_attempt_at - now) / 1000)
            return Outcome(delivery_id, found.state, wait, attempted=False)
        now_s = now / 1000
        answer: Answer
        if not claimed.webhook_active and not even_if_disabled:
            answer = Answer(None, None, None, None, None, "the webhook is disabled")
            state, wait, error = DeliveryState.FAILED, None, answer.error
        else:
            answer, state, wait, error = _send(claimed, config, now_s, send, retry)
        attempt = Attempt(
            claimed.attempt,
            now,
            answer.status_code,
            answer.latency_ms,
            error,
            answer.excerpt,
        )
        next_at = None if wait is None else now + int(wait * 1000)
        limit = config.disable_after if count_failure else 0
        db.write(
            lambda c: store.record_attempt(
                c, claimed, attempt, state, next_at, limit, count_failure
            )
        )
        return Outcome(delivery_id, state, wait, answer.status_code, error, answer.excerpt)
    finally:
        ACTING.reset(token)


def _send(
    claimed: store.Claimed, config: DeliveryConfig, now_s: float, send: Post, retry: bool
) -> tuple[Answer, DeliveryState, float | None, str | None]:
    try:
        target = check(claimed.url, config.allow, config.resolve)
    except CairnError as exc:
        answer = Answer(None, None, None, None, None, exc.message)
        transient = "does not resolve" in exc.message
        if transient and retry and claimed.attempt < config.max_attempts:
            return answer, DeliveryState.PENDING, config.backoff(claimed.attempt), exc.message
        return answer, DeliveryState.FAILED, None, exc.message
    try:
        secret = config.sealer.open(claimed.secret) if claimed.secret else None
    except CairnError as exc:
        answer = Answer(None, None, None, None, None, exc.message)
        return answer, DeliveryState.FAILED, None, exc.message
    headers = headers_for(claimed.delivery_id, claimed.body, secret, now_s)
    answer = send(target, claimed.body.encode(), headers, config)
    state, wait, error = _judge(answer, claimed.attempt, config, now_s, retry)
    return answer, state, wait, error
