"""Access control with two servers behind nginx: a session, its CSRF token, an API token and
the login rate limit made or counted on one server hold on the other (they live in the
database, not in a process). A revocation or a sign-out reaches the other server within the
access caches' lifetime (``PROFILE_TTL``, docs/deploy.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from cairn.access.service import MAX_FAILURES_PER_USER, PROFILE_TTL
from tests.compat.balancer import CLUSTER_BACKENDS, UPSTREAM_HEADER, Cluster, start_cluster

API = "/api/2.0/mlflow"
ADMIN, PASSWORD = "admin", "the admin's long password"
SERVERS = 2
ROUNDS = 8
"""Requests per check: with round-robin over two servers, both answer some of them."""

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module", params=CLUSTER_BACKENDS)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    env = {"CAIRN_AUTH": "true", "CAIRN_ADMIN_USERNAME": ADMIN, "CAIRN_ADMIN_PASSWORD": PASSWORD}
    workdir = tmp_path_factory.mktemp("scaleout-auth")
    yield from start_cluster(workdir, SERVERS, request.param, extra_env=env)


def statuses(responses: list[httpx.Response]) -> tuple[set[int], set[str]]:
    """The statuses seen and the servers that answered."""
    return {r.status_code for r in responses}, {r.headers[UPSTREAM_HEADER] for r in responses}


def test_session_and_csrf_work_on_every_server(cluster: Cluster) -> None:
    with cluster.client() as client:
        login = client.post("/api/v1/auth/login", json={"username": ADMIN, "password": PASSWORD})
        assert login.status_code == 200, login.text
        csrf = login.json()["csrf_token"]
        assert client.cookies.get("cairn_session")
        reads = [client.get("/api/v1/auth/session") for _ in range(ROUNDS)]
        codes, servers = statuses(reads)
        assert (codes, len(servers)) == ({200}, SERVERS), (codes, servers)
        assert {r.json()["csrf_token"] for r in reads} == {csrf}
        assert {r.json()["user"]["username"] for r in reads} == {ADMIN}
        # writes with the session's CSRF token pass whichever server checks them
        writes = [
            client.post(
                f"{API}/experiments/create",
                json={"name": f"session-write-{i}"},
                headers={"X-CSRF-Token": csrf},
            )
            for i in range(ROUNDS)
        ]
        codes, servers = statuses(writes)
        assert (codes, len(servers)) == ({200}, SERVERS), [w.text for w in writes]
        # and without it, or with another, every server refuses them
        refused = [
            client.post(
                f"{API}/experiments/create",
                json={"name": f"no-csrf-{i}"},
                headers={"X-CSRF-Token": "wrong"} if i % 2 else {},
            )
            for i in range(ROUNDS)
        ]
        codes, servers = statuses(refused)
        assert (codes, len(servers)) == ({403}, SERVERS), [r.text for r in refused]
        assert {r.json()["error_code"] for r in refused} == {"PERMISSION_DENIED"}

        # signing out on one server ends the session on every server within PROFILE_TTL
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code in (
            200,
            204,
        )
        cookie = login.cookies.get("cairn_session")
        assert cookie
        ended = _refused_everywhere(cluster, {"Cookie": f"cairn_session={cookie}"})
        assert ended <= PROFILE_TTL + 1.0, ended


def _refused_everywhere(
    cluster: Cluster, headers: dict[str, str], auth: tuple[str, str] | None = None
) -> float:
    """How long after the call a request with ``headers`` (or ``auth``) was last accepted by
    some server (0.0 if never), once ``ROUNDS`` requests in a row were refused by every
    server: 401, or 429 once a wrong password has failed often enough to meet the login rate
    limit. Bounded by twice the caches' lifetime."""
    start = time.monotonic()
    last_accepted = 0.0
    with cluster.client(**({"auth": auth} if auth else {})) as client:
        while time.monotonic() - start < 2 * PROFILE_TTL + 2:
            answers = []
            for _ in range(ROUNDS):
                sent = time.monotonic() - start
                answer = client.get("/api/v1/auth/session", headers=headers)
                if answer.status_code == 200:
                    last_accepted = sent
                answers.append(answer)
            codes, servers = statuses(answers)
            if codes <= {401, 429} and len(servers) == SERVERS:
                return last_accepted
            time.sleep(0.25)
    raise AssertionError(f"still accepted on some server after {2 * PROFILE_TTL + 2} s")


def test_api_token_made_on_one_server_works_on_every_server(cluster: Cluster) -> None:
    with cluster.client(auth=(ADMIN, PASSWORD)) as admin:
        made = admin.post("/api/v1/tokens", json={"name": "scaleout"})
        assert made.status_code == 200, made.text
        token, token_id = made.json()["secret"], made.json()["token"]["id"]
    bearer = {"Authorization": f"Bearer {token}"}
    with cluster.client(headers=bearer) as client:
        uses = [
            client.post(f"{API}/experiments/create", json={"name": f"token-{i}"})
            for i in range(ROUNDS)
        ]
        codes, servers = statuses(uses)
        assert (codes, len(servers)) == ({200}, SERVERS), [u.text for u in uses]
    with cluster.client(auth=(ADMIN, PASSWORD)) as admin:
        revoked = admin.delete(f"/api/v1/tokens/{token_id}")
        assert revoked.status_code == 200, revoked.text
    took = _refused_everywhere(cluster, bearer)
    assert took <= PROFILE_TTL + 1.0, took


def test_password_reset_on_one_server_ends_the_old_password_on_every_server(
    cluster: Cluster,
) -> None:
    """A password verified once is trusted from memory for 30 s, but only while the user's
    profile (at most PROFILE_TTL old) still has the hash it was checked against: a reset on
    one server ends the old password on the other within PROFILE_TTL, not 30 s."""
    name, old, new = "resetme", "the first long password", "the second long password"
    with cluster.client(auth=(ADMIN, PASSWORD)) as admin:
        made = admin.post("/api/v1/users", json={"username": name, "password": old})
        assert made.status_code == 200, made.text
    with cluster.client(auth=(name, old)) as user:
        uses = [user.get("/api/v1/auth/session") for _ in range(ROUNDS)]
        codes, servers = statuses(uses)  # every server has now verified (and cached) it
        assert (codes, len(servers)) == ({200}, SERVERS), [u.text for u in uses]
    with cluster.client(auth=(ADMIN, PASSWORD)) as admin:
        reset = admin.patch(f"/api/v1/users/{name}", json={"password": new})
        assert reset.status_code == 200, reset.text
    with cluster.client(auth=(name, new)) as user:  # the new one works at once everywhere
        codes, servers = statuses([user.get("/api/v1/auth/session") for _ in range(ROUNDS)])
        assert (codes, len(servers)) == ({200}, SERVERS)
    took = _refused_everywhere(cluster, {}, auth=(name, old))
    assert took <= PROFILE_TTL + 1.0, took


def test_login_rate_limit_is_counted_across_servers(cluster: Cluster) -> None:
    """Failed logins spread over both servers count towards one limit (it is kept in the
    database): the next attempt is refused with 429 whichever server answers."""
    name = "rate-limited-user"
    with cluster.client() as client:
        failures = [
            client.post("/api/v1/auth/login", json={"username": name, "password": "wrong one"})
            for _ in range(MAX_FAILURES_PER_USER)
        ]
        codes, servers = statuses(failures)
        assert (codes, len(servers)) == ({401}, SERVERS), [f.text for f in failures]
        after = [
            client.post("/api/v1/auth/login", json={"username": name, "password": "wrong one"})
            for _ in range(4)
        ]
        codes, servers = statuses(after)
        assert (codes, len(servers)) == ({429}, SERVERS), [a.text for a in after]
        assert {a.json()["error_code"] for a in after} == {"TOO_MANY_REQUESTS"}
