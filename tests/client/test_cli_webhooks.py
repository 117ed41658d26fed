"""`cairn webhooks` over HTTP against a live `cairn server`: create (the secret from stdin),
list, test (a loopback receiver verifies the signature), the delivery log, refusals, delete."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from cairn.cli import main
from tests.compat.server import CairnServer, start_server
from tests.webhook_receiver import Receiver, Reply, receiving

SECRET = "the CLI test's shared secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CairnServer]:
    work = tmp_path_factory.mktemp("cli-webhooks")
    env = {"CAIRN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    servers = start_server("sqlite", f"sqlite:///{work / 'cairn.db'}", work, (), env)
    try:
        yield next(servers)
    finally:
        servers.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(SECRET) as found:
        yield found


def cairn(server: CairnServer, *args: str, stdin: str | None = None) -> Result:
    env = {
        "MLFLOW_TRACKING_URI": server.url,
        "CAIRN_TRACKING_URI": None,
        "MLFLOW_TRACKING_USERNAME": None,
        "MLFLOW_TRACKING_PASSWORD": None,
        "MLFLOW_TRACKING_TOKEN": None,
    }
    return CliRunner().invoke(
        main, ["webhooks", *args], env=env, input=stdin, catch_exceptions=False
    )


def test_webhooks_from_the_command_line(server: CairnServer, receiver: Receiver) -> None:
    made = cairn(server, "create", "--name", "ci", "--url", receiver.url, "--event",
                 "model_version.created", "--event", "run.finished", "--secret-stdin",
                 stdin=SECRET + "\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    hook = json.loads(made.stdout)
    assert hook["has_secret"] is True
    assert SECRET not in made.output
    listed = cairn(server, "list")
    assert hook["webhook_id"] in listed.stdout
    assert "model_version.created,run.finished" in listed.stdout
    tested = cairn(server, "test", hook["webhook_id"], "--event", "run.finished")
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["success"] is True
    (got,) = receiver.received
    assert got.signature_ok is True
    assert got.json()["entity"] == "run"
    receiver.reply(Reply(500, body=b"down"))
    failed = cairn(server, "test", hook["webhook_id"])
    assert failed.exit_code == 1
    log = cairn(server, "deliveries", hook["webhook_id"])
    lines = log.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "failed" in lines[0]
    assert "status=500" in lines[0]
    assert "succeeded" in lines[1]
    as_json = json.loads(cairn(server, "deliveries", hook["webhook_id"], "--json").stdout)
    assert as_json["deliveries"][0]["response_excerpt"] == "down"
    bad = cairn(server, "create", "--name", "x", "--url", "http://169.254.169.254/",
                "--event", "model_version.created")  # fmt: skip
    assert bad.exit_code != 0
    assert "url" in bad.output
    unknown = cairn(server, "create", "--name", "x", "--url", receiver.url, "--event", "nope.x")
    assert unknown.exit_code != 0
    assert "events" in unknown.output
    gone = cairn(server, "delete", hook["webhook_id"])
    assert gone.exit_code == 0, gone.output
    assert hook["webhook_id"] not in cairn(server, "list").stdout
    assert "RESOURCE_DOES_NOT_EXIST" in cairn(server, "delete", hook["webhook_id"]).output
