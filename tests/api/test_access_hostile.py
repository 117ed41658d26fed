"""Hostile callers against the app in-process with access control on (default READ).

alice owns two experiments: ``alice-open`` and ``alice-secret``; bob has a NO_PERMISSIONS
grant on the secret one (so he reads everything else) and owns things of his own. Each test
asserts the status and error code AND that nothing changed: expired and revoked tokens, a
READ user trying every write route the app serves on alice's things, a read-only token,
NO_PERMISSIONS hiding an experiment from every search, get and artifact path (with ``..`` in
every encoding refused outright), and a model version registered from a run one cannot read.
The stock-client versions of these are in tests/compat/test_auth_clients.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cairn.access.policy import Level
from cairn.access.service import AccessService
from cairn.entities.access import Permission, ResourceType
from cairn.server.app import create_app
from cairn.server.settings import Settings
from cairn.store.sql import now_ms
from tests.api import root_app
from tests.api.test_access_routes import HIDDEN_TRACE, PROBE_IDS, Hidden, _call, _need, basic
from tests.api.test_artifact_paths import NOT_ROUTED, RAW_HEADER, RawTarget
from tests.api.test_error_shape import PROBES, Probe

ADMIN, ADMIN_PASSWORD = "root", "root's long password"
ALICE, BOB = "alice", "bob"
PASSWORDS = {ALICE: "alice's long password", BOB: "bob's long password"}
API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
SECRET_BYTES = b"alice's secret bytes"


@dataclass
class World:
    client: TestClient
    access: AccessService
    open_exp: str
    open_run: str
    secret_exp: str
    secret_run: str
    secret_model_id: str
    bobs_model: str = "bobs-model"

    def who(self, user: str) -> dict[str, str]:
        return basic(user, PASSWORDS[user]) if user != ADMIN else basic(ADMIN, ADMIN_PASSWORD)

    def raw(self, method: str, target: str, user: str, body: bytes | None = None) -> Any:
        """A request whose target reaches the app exactly as written (no client clean-up)."""
        headers = {RAW_HEADER.decode(): target, **self.who(user)}
        return self.client.request(method, NOT_ROUTED, content=body, headers=headers)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code, body
    return body


def _make_experiment(client: TestClient, name: str, headers: dict[str, str]) -> tuple[str, str]:
    eid = ok(client.post(f"{API}/experiments/create", json={"name": name}, headers=headers))[
        "experiment_id"
    ]
    run = ok(client.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=headers))
    rid = run["run"]["info"]["run_id"]
    ok(
        client.post(
            f"{API}/runs/log-metric",
            json={"run_id": rid, "key": "m", "value": 1, "timestamp": 1},
            headers=headers,
        )
    )
    r = client.put(f"{ART}/{eid}/{rid}/artifacts/file.txt", content=SECRET_BYTES, headers=headers)
    assert r.status_code == 200, r.text
    return eid, rid


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("access-hostile")
    mp = pytest.MonkeyPatch()
    mp.setenv("CAIRN_ADMIN_USERNAME", ADMIN)
    mp.setenv("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings = Settings(
        backend_store_uri=f"sqlite:///{folder / 'api.db'}",
        artifacts_destination=str(folder / "artifacts"),
        auth=True,
        default_permission="READ",
    )
    app = create_app(settings)
    try:
        with TestClient(RawTarget(app), raise_server_exceptions=False) as client:
            access: AccessService = root_app(app).state.access
            for user, password in PASSWORDS.items():
                access.create_user(user, password)
            alice = basic(ALICE, PASSWORDS[ALICE])
            open_exp, open_run = _make_experiment(client, "alice-open", alice)
            secret_exp, secret_run = _make_experiment(client, "alice-secret", alice)
            model = ok(
                client.post(
                    f"{API}/logged-models",
                    json={"experiment_id": secret_exp, "name": "lm"},
                    headers=alice,
                )
            )["model"]["info"]["model_id"]
            dataset = {"name": "secret-ds", "digest": "d1", "source_type": "local", "source": "{}"}
            ok(
                client.post(
                    f"{API}/runs/log-inputs",
                    json={"run_id": secret_run, "datasets": [{"dataset": dataset}]},
                    headers=alice,
                )
            )
            access.create_grant(ResourceType.EXPERIMENT, secret_exp, BOB, Permission.NO_PERMISSIONS)
            bob = basic(BOB, PASSWORDS[BOB])
            ok(
                client.post(
                    f"{API}/registered-models/create", json={"name": "bobs-model"}, headers=bob
                )
            )
            yield World(client, access, open_exp, open_run, secret_exp, secret_run, model)
    finally:
        mp.undo()


def state(world: World) -> dict[str, Any]:
    """What the admin sees of everything the tests attack."""
    c, admin = world.client, world.who(ADMIN)
    found: dict[str, Any] = {
        "experiments": ok(
            c.post(f"{API}/experiments/search", json={"view_type": "ALL"}, headers=admin)
        ),
        "runs": ok(
            c.post(
                f"{API}/runs/search",
                json={"experiment_ids": [world.open_exp, world.secret_exp], "run_view_type": "ALL"},
                headers=admin,
            )
        ),
        "models": ok(c.get(f"{API}/registered-models/search", headers=admin)),
        "versions": ok(c.get(f"{API}/model-versions/search", headers=admin)),
        "logged": ok(
            c.post(
                f"{API}/logged-models/search",
                json={"experiment_ids": [world.open_exp, world.secret_exp]},
                headers=admin,
            )
        ),
    }
    for eid, rid in ((world.open_exp, world.open_run), (world.secret_exp, world.secret_run)):
        found[f"files-{eid}"] = ok(c.get(ART, params={"path": f"{eid}/{rid}"}, headers=admin))
        found[f"bytes-{eid}"] = c.get(
            f"{ART}/{eid}/{rid}/artifacts/file.txt", headers=admin
        ).content
    return found


# ---- tokens that expired or were revoked ----


def test_an_expired_token_is_refused_and_changes_nothing(world: World) -> None:
    bob_id = world.access.get_user(BOB).id
    # ten seconds of life: long enough for the first request on a loaded machine
    expires = now_ms() + 10_000
    _, secret = world.access.create_token(bob_id, "short-lived", expires_at=expires)
    headers = {"Authorization": f"Bearer {secret}"}
    ok(world.client.post(f"{API}/experiments/search", json={}, headers=headers))
    time.sleep(
        max(0, expires - now_ms()) / 1000 + 0.5
    )  # the expiry passes (a fact, not a timing check)
    before = state(world)
    r = world.client.post(f"{API}/experiments/create", json={"name": "late"}, headers=headers)
    body = refused(r, 401, "UNAUTHENTICATED")
    assert "expired" in body["message"]
    assert r.headers["www-authenticate"] == 'Basic realm="cairn"'
    r = world.client.post(f"{API}/experiments/search", json={}, headers=headers)
    refused(r, 401, "UNAUTHENTICATED")
    # the same token as a basic-auth password
    r = world.client.post(
        f"{API}/experiments/create", json={"name": "late"}, headers=basic(BOB, secret)
    )
    refused(r, 401, "UNAUTHENTICATED")
    assert state(world) == before


def test_a_revoked_token_is_refused_at_once(world: World) -> None:
    bob_id = world.access.get_user(BOB).id
    token, secret = world.access.create_token(bob_id, "to-revoke")
    headers = {"Authorization": f"Bearer {secret}"}
    ok(world.client.post(f"{API}/experiments/search", json={}, headers=headers))
    world.access.revoke_token(world.access.authenticate_token(secret), token.id)
    before = state(world)
    r = world.client.post(
        f"{API}/runs/create", json={"experiment_id": world.open_exp}, headers=headers
    )
    assert "revoked" in refused(r, 401, "UNAUTHENTICATED")["message"]
    assert state(world) == before


def test_a_read_only_token_reads_but_writes_nothing(world: World) -> None:
    bob_id = world.access.get_user(BOB).id
    _, secret = world.access.create_token(bob_id, "reader", read_only=True)
    headers = {"Authorization": f"Bearer {secret}"}
    ok(
        world.client.get(
            f"{API}/experiments/get", params={"experiment_id": world.open_exp}, headers=headers
        )
    )
    before = state(world)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "experiments/create", {"name": "from-a-reader"}),
        ("POST", "registered-models/create", {"name": "from-a-reader"}),
        ("PATCH", "registered-models/update", {"name": world.bobs_model, "description": "x"}),
        ("DELETE", "registered-models/delete", {"name": world.bobs_model}),
        ("POST", "runs/create", {"experiment_id": world.open_exp}),
    ]
    for method, path, body in writes:
        r = world.client.request(method, f"{API}/{path}", json=body, headers=headers)
        message = refused(r, 403, "PERMISSION_DENIED")["message"]
        assert "read-only" in message, (path, message)
    r = world.client.put(
        f"{ART}/{world.open_exp}/{world.open_run}/artifacts/planted.txt",
        content=b"planted",
        headers=headers,
    )
    refused(r, 403, "PERMISSION_DENIED")
    assert state(world) == before


# ---- a READ user and every write route ----


def _writes_others_things(probe: Probe) -> bool:
    """A resource route that changes state and needs more than READ on what it names."""
    need = _need(probe)
    return (
        need is not None
        and need.level is Level.RESOURCE
        and need.writes
        and any(c.permission > Permission.READ for c in need.checks)
    )


WRITE_PROBES = [p for p in PROBES if _writes_others_things(p)]

OWN_THINGS = {("PUT", "/api/v1/views"), ("DELETE", "/api/v1/views")}
"""Writes that need only READ on the experiment they name, because what they write is the
caller's own (a saved view of the runs table): a READ user may make them."""


def test_writes_needing_only_read_are_the_callers_own_things() -> None:
    found = {
        (p.method, p.path)
        for p in PROBES
        if (need := _need(p)) is not None
        and need.level is Level.RESOURCE
        and need.writes
        and not _writes_others_things(p)
    }
    assert found == OWN_THINGS


def test_the_write_routes_are_found() -> None:
    paths = {p.path for p in WRITE_PROBES}
    for expected in (
        f"{API}/runs/log-batch",
        f"{API}/experiments/delete",
        f"{API}/registered-models/alias",
        f"{API}/model-versions/transition-stage",
    ):
        assert expected in paths
    assert len(WRITE_PROBES) >= 40


@pytest.fixture(scope="module")
def alices_hidden(world: World) -> Hidden:
    """alice's open experiment, run, a logged model and a registered model with a version,
    in the shape the route walk of test_access_routes.py fills requests from."""
    c, alice = world.client, world.who(ALICE)
    model = ok(
        c.post(
            f"{API}/logged-models",
            json={"experiment_id": world.open_exp, "name": "open-lm"},
            headers=alice,
        )
    )["model"]["info"]["model_id"]
    ok(c.post(f"{API}/registered-models/create", json={"name": "alices-model"}, headers=alice))
    ok(
        c.post(
            f"{API}/model-versions/create",
            json={"name": "alices-model", "source": f"runs:/{world.open_run}/model"},
            headers=alice,
        )
    )
    info = {
        "trace_id": HIDDEN_TRACE,
        "trace_location": {"mlflow_experiment": {"experiment_id": world.open_exp}},
        "request_time": "2026-01-01T00:00:00Z",
        "state": "OK",
    }
    ok(c.post("/api/3.0/mlflow/traces", json={"trace": {"trace_info": info}}, headers=alice))
    return Hidden(world.open_exp, world.open_run, model, "alices-model", "alice-open")


@pytest.mark.parametrize(
    "probe", WRITE_PROBES, ids=[PROBE_IDS[PROBES.index(p)] for p in WRITE_PROBES]
)
def test_a_read_user_cannot_write_to_another_users_things(
    world: World, alices_hidden: Hidden, probe: Probe
) -> None:
    before = state(world)
    r = _call(world.client, probe, alices_hidden, world.who(BOB))
    body = refused(r, 403, "PERMISSION_DENIED")
    message = body["message"]
    assert "user 'bob' needs" in message, message
    assert any(f"needs {p.name}" in message for p in (Permission.EDIT, Permission.MANAGE)), message
    assert "(has READ)" in message, message
    assert state(world) == before


# ---- NO_PERMISSIONS on one experiment ----


def test_no_permissions_hides_the_experiment_from_searches(world: World) -> None:
    c, bob = world.client, world.who(BOB)
    names = [
        e["name"]
        for e in ok(c.post(f"{API}/experiments/search", json={"max_results": 1000}, headers=bob))[
            "experiments"
        ]
    ]
    assert "alice-open" in names
    assert "alice-secret" not in names
    both = [world.open_exp, world.secret_exp]
    runs = ok(c.post(f"{API}/runs/search", json={"experiment_ids": both}, headers=bob))["runs"]
    assert [r["info"]["run_id"] for r in runs] == [world.open_run]
    only = ok(
        c.post(f"{API}/runs/search", json={"experiment_ids": [world.secret_exp]}, headers=bob)
    )
    assert only.get("runs", []) == []
    found = ok(
        c.post(f"{API}/logged-models/search", json={"experiment_ids": both}, headers=bob)
    ).get("models", [])
    assert world.secret_model_id not in [m["info"]["model_id"] for m in found]
    # alice, and the admin, still see it all
    runs = ok(c.post(f"{API}/runs/search", json={"experiment_ids": both}, headers=world.who(ALICE)))
    assert {r["info"]["run_id"] for r in runs["runs"]} == {world.open_run, world.secret_run}


def test_no_permissions_refuses_every_direct_read(world: World) -> None:
    c, bob = world.client, world.who(BOB)
    eid, rid = world.secret_exp, world.secret_run
    gets = [
        (f"{API}/experiments/get", {"experiment_id": eid}),
        ("/ajax-api/2.0/mlflow/experiments/get", {"experiment_id": eid}),
        (f"{API}/experiments/get-by-name", {"experiment_name": "alice-secret"}),
        (f"{API}/runs/get", {"run_id": rid}),
        (f"{API}/metrics/get-history", {"run_id": rid, "metric_key": "m"}),
        (f"{API}/artifacts/list", {"run_id": rid}),
        (f"{API}/logged-models/{world.secret_model_id}", {}),
        ("/get-artifact", {"run_id": rid, "path": "file.txt"}),
        (ART, {"path": f"{eid}/{rid}/artifacts"}),
        (f"{ART}/{eid}/{rid}/artifacts/file.txt", {}),
    ]
    for path, params in gets:
        r = c.get(path, params=params, headers=bob)
        body = refused(r, 403, "PERMISSION_DENIED")
        assert "needs READ" in body["message"], (path, body)
        assert "(has NO_PERMISSIONS)" in body["message"], (path, body)
        assert SECRET_BYTES.decode() not in r.text


def test_the_layer_checks_what_the_handler_reads(world: World) -> None:
    """A request naming bob's own run where the layer might look and alice's where the
    handler looks: in the query and the body, or an empty run_id before run_uuid."""
    c, bob = world.client, world.who(BOB)
    mine = ok(c.post(f"{API}/experiments/create", json={"name": "bobs-experiment"}, headers=bob))[
        "experiment_id"
    ]
    own_run = ok(c.post(f"{API}/runs/create", json={"experiment_id": mine}, headers=bob))["run"][
        "info"
    ]["run_id"]
    before = state(world)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (f"?run_id={own_run}", {"run_id": world.open_run}),
        (f"?run_uuid={own_run}", {"run_id": world.open_run}),
        ("", {"run_id": "", "run_uuid": world.open_run}),
        ("", {"run_id": own_run, "run_uuid": world.open_run}),
        (f"?run_id={own_run}", {"run_id": "", "run_uuid": world.open_run}),
    ]
    for query, body in attempts:
        body |= {"key": "planted", "value": "1"}
        r = c.post(f"{API}/runs/log-parameter{query}", json=body, headers=bob)
        message = refused(r, 403, "PERMISSION_DENIED")["message"]
        assert f"needs EDIT on experiment '{world.open_exp}'" in message, (query, body, message)
    r = c.post(
        f"{API}/experiments/set-experiment-tag?experiment_id={mine}",
        json={"experiment_id": world.open_exp, "key": "k", "value": "v"},
        headers=bob,
    )
    refused(r, 403, "PERMISSION_DENIED")
    r = c.post(
        f"{API}/registered-models/set-tag?name={world.bobs_model}",
        json={"name": "alices-model", "key": "k", "value": "v"},
        headers=bob,
    )
    refused(r, 403, "PERMISSION_DENIED")  # models are granted by name: made yet or not
    assert state(world) == before
    # his own run, named consistently, still works
    ok(
        c.post(
            f"{API}/runs/log-parameter?run_id={own_run}",
            json={"run_id": own_run, "key": "fine", "value": "1"},
            headers=bob,
        )
    )


def test_no_permissions_hides_the_experiments_datasets(world: World) -> None:
    c = world.client
    found = ok(c.get("/api/v1/datasets", headers=world.who(ALICE)))["datasets"]
    (secret,) = [d for d in found if d["name"] == "secret-ds"]
    listed = ok(c.get("/api/v1/datasets", headers=world.who(BOB)))["datasets"]
    assert "secret-ds" not in [d["name"] for d in listed]
    r = c.get(f"/api/v1/datasets/{secret['dataset_id']}", headers=world.who(BOB))
    refused(r, 404, "RESOURCE_DOES_NOT_EXIST")  # as hidden as in the list
    assert world.secret_run not in r.text
    lineage = ok(c.get(f"/api/v1/datasets/{secret['dataset_id']}", headers=world.who(ALICE)))
    assert [u["run_id"] for u in lineage["runs"]] == [world.secret_run]


def test_every_declared_route_answers_a_signed_in_user(world: World, alices_hidden: Hidden) -> None:
    """A route that declares a need other than admin is never refused as undeclared: the
    layer finds the need of every route, FastAPI's included routers too."""
    undeclared = []
    for probe in PROBES:
        need = _need(probe)
        if need is None or need.level in (Level.PUBLIC, Level.ADMIN):
            continue
        r = _call(world.client, probe, alices_hidden, world.who(ALICE))
        if "declares no permission" in r.text:
            undeclared.append(probe.id)
    assert undeclared == []
    assert ok(world.client.get("/api/v1/datasets", headers=world.who(ALICE)))["datasets"]


SPELLINGS = ["0{}", " {}", "{} ", "00{}"]
"""Other ways to write an experiment id that the tracking API reads as the same id."""
FOREIGN_DIGITS = ["\u0660{}", "{}\u0660", "\uff11{}", "\u00b2{}"]
"""Spellings with non-ASCII digits, which ``int()`` would read: refused as no id at all."""


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_no_permissions_holds_for_every_spelling_of_the_id(world: World, spelling: str) -> None:
    c, bob = world.client, world.who(BOB)
    eid = spelling.format(world.secret_exp)
    r = c.get(f"{API}/experiments/get", params={"experiment_id": eid}, headers=bob)
    assert "(has NO_PERMISSIONS)" in refused(r, 403, "PERMISSION_DENIED")["message"]
    r = c.post(f"{API}/runs/search", json={"experiment_ids": [eid]}, headers=bob)
    assert r.status_code in (200, 400), r.text
    assert world.secret_run not in r.text
    before = state(world)
    r = c.post(
        f"{API}/experiments/set-experiment-tag",
        json={"experiment_id": eid, "key": "k", "value": "v"},
        headers=bob,
    )
    refused(r, 403, "PERMISSION_DENIED")
    assert state(world) == before


@pytest.mark.parametrize("spelling", FOREIGN_DIGITS)
def test_an_id_in_foreign_digits_is_no_id_for_anyone(world: World, spelling: str) -> None:
    c = world.client
    eid = spelling.format(world.secret_exp)
    for user in (BOB, ALICE):
        r = c.get(f"{API}/experiments/get", params={"experiment_id": eid}, headers=world.who(user))
        assert "'experiment_id'" in refused(r, 400, "INVALID_PARAMETER_VALUE")["message"]
        assert world.secret_run not in r.text
    before = state(world)
    r = c.post(
        f"{API}/experiments/set-experiment-tag",
        json={"experiment_id": eid, "key": "k", "value": "v"},
        headers=world.who(ALICE),
    )
    # refused either way: the access layer knows no experiment by that id (default READ)
    assert r.status_code in (400, 403), r.text
    assert state(world) == before


DOT_DOT = [
    "..",
    "%2E%2E",
    "%2e%2E",
    ".%2e",
    "%252E%252E",
    "%25252e%25252e",
    "..%5C..",
    "%2E%2E%5C%2E%2E",
    "..\\..",
]


@pytest.mark.parametrize("dots", DOT_DOT)
def test_dot_dot_in_any_encoding_is_400_on_every_artifact_route(world: World, dots: str) -> None:
    """From an experiment bob may read to the one he may not, or inside his readable
    one: refused before anything is read or written."""
    open_base = f"{world.open_exp}/{world.open_run}/artifacts"
    escapes = [
        f"{open_base}/{dots}/{dots}/{dots}/{world.secret_exp}/{world.secret_run}/artifacts/file.txt",
        f"{open_base}/sub/{dots}/file.txt",  # would resolve inside the same run
    ]
    before = state(world)
    for path in escapes:
        for method, target, body in (
            ("GET", f"{ART}/{path}", None),
            ("PUT", f"{ART}/{path}", b"planted"),
            ("DELETE", f"{ART}/{path}", None),
            ("GET", f"{ART}?path={path}", None),
            ("GET", f"/get-artifact?run_id={world.open_run}&path=sub/{dots}/file.txt", None),
        ):
            for user in (BOB, ALICE):
                r = world.raw(method, target, user, body)
                assert SECRET_BYTES not in r.content
                if user == BOB and method != "GET" and r.status_code == 403:
                    continue  # bob may not write there at all: refused before the path is read
                assert r.status_code == 400, (method, target, user, r.status_code, r.text[:200])
                assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    assert state(world) == before


# ---- registering from a run one cannot read ----


def test_a_version_from_an_unreadable_run_is_refused(world: World) -> None:
    c, bob = world.client, world.who(BOB)
    before = state(world)
    eid, rid = world.secret_exp, world.secret_run
    attempts = [
        {"name": world.bobs_model, "source": f"runs:/{rid}/model", "run_id": rid},
        {"name": world.bobs_model, "source": f"runs:/{rid}/model"},
        {"name": world.bobs_model, "source": f"mlflow-artifacts:/{eid}/{rid}/artifacts/model"},
        {"name": world.bobs_model, "source": f"models:/{world.secret_model_id}"},
        {"name": world.bobs_model, "source": "file:///tmp/x", "run_id": rid},
    ]
    for body in attempts:
        r = c.post(f"{API}/model-versions/create", json=body, headers=bob)
        message = refused(r, 403, "PERMISSION_DENIED")["message"]
        assert f"needs READ on experiment '{eid}'" in message, (body, message)
    # a version from his own readable source still works, and is the only one he made
    ok(
        c.post(
            f"{API}/model-versions/create",
            json={"name": world.bobs_model, "source": f"runs:/{world.open_run}/model"},
            headers=bob,
        )
    )
    after = state(world)
    versions = [v for v in after["versions"]["model_versions"] if v["name"] == world.bobs_model]
    assert [v.get("source") for v in versions] == [f"runs:/{world.open_run}/model"]
    assert after["experiments"] == before["experiments"]
    assert after["runs"] == before["runs"]


# ---- brute force ----


def test_brute_force_is_rate_limited_per_user(world: World) -> None:
    world.access.create_user("carol", "carol's long password")
    c = world.client
    url = f"{API}/experiments/search"
    for attempt in range(10):
        r = c.post(url, json={}, headers=basic("carol", f"guess {attempt:06d}"))
        refused(r, 401, "UNAUTHENTICATED")
    for _ in range(2):
        r = c.post(url, json={}, headers=basic("carol", "carol's long password"))
        assert "Too many failed logins" in refused(r, 429, "TOO_MANY_REQUESTS")["message"]
    ok(c.post(url, json={}, headers=world.who(ALICE)))  # others are not locked out
