"""cairn.server.wire: the server's side of MLflow's JSON."""

from __future__ import annotations

from cairn.server import wire


def test_a_search_page_leaves_out_what_is_empty() -> None:
    assert wire.page("runs", [], None) == {}
    assert wire.page("runs", [], "") == {}
    assert wire.page("runs", [{"a": 1}], None) == {"runs": [{"a": 1}]}
    assert wire.page("runs", [], "tok") == {"next_page_token": "tok"}
    assert list(wire.page("models", [{}], "tok")) == ["models", "next_page_token"]
