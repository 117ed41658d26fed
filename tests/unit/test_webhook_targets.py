"""The webhook target rules and the signature, on their own: which addresses are public,
how the allow list matches, and that Cairn's signature is byte for byte the one the stock
mlflow 3.17 package computes for the same delivery."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from cairn.entities.errors import CairnError
from cairn.services.webhook_delivery import parse_retry_after, sign
from cairn.services.webhook_targets import NOTHING_ALLOWED, AllowList, check, why_not_public

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local (incl. the cloud metadata address)"),
        ("fe80::1", "link-local (incl. the cloud metadata address)"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.1.1", "private"),
        ("fd12::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("240.0.0.1", "private"),  # Python counts 240/4 as private
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_public_or_not(address: str, why: str | None) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == why


def test_allow_list_matches_the_host_as_written() -> None:
    allow = AllowList.parse(["127.0.0.1", "Hooks.Internal.", "10.9.0.0/16", "[::1]"])
    assert allow.allows("127.0.0.1")
    assert allow.allows("hooks.internal")
    assert allow.allows("10.9.3.4")
    assert allow.allows("::1")
    assert not allow.allows("localhost")
    assert not allow.allows("127.0.0.2")
    assert not allow.allows("10.8.0.1")


def test_every_resolved_address_must_be_public() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return {"mixed.test": ["93.184.216.34", "10.0.0.1"], "fine.test": ["93.184.216.34"]}[host]

    with pytest.raises(CairnError) as refused:
        check("https://mixed.test/x", NOTHING_ALLOWED, resolver)
    assert "url" in refused.value.message
    assert "10.0.0.1" in refused.value.message
    target = check("https://fine.test:8443/x?a=1", NOTHING_ALLOWED, resolver)
    assert target.connect_url() == "https://93.184.216.34:8443/x?a=1"
    assert target.host_header() == "fine.test:8443"


def test_retry_after() -> None:
    assert parse_retry_after("120", 0) == 120.0
    assert parse_retry_after("999999999", 0) == 86400.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412460.0) == 20.0
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None


def test_signature_is_mlflows() -> None:
    """The same delivery signed by the stock mlflow 3.17 package and by Cairn."""
    python = REPO / ".venvs" / "mlflow3" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make compat-venvs`")
    body = json.dumps({"entity": "model_version", "action": "created", "data": {"n": "é"}})
    args = ["s3cr3t ünïcode", "2b8e6c1e-0000-4000-8000-000000000001", "1764855420", body]
    script = (
        "import sys; from mlflow.webhooks.delivery import _generate_hmac_signature as g; "
        "print(g(*sys.argv[1:]))"
    )
    done = subprocess.run(
        [str(python), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    assert done.stdout.strip() == sign(*args)
