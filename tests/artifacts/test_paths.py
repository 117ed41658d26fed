"""clean_path: the one gate every artifact path from a request goes through."""

from __future__ import annotations

import pytest

from cairn.artifacts.paths import MAX_PATH_LENGTH, MAX_SEGMENT_LENGTH, clean_path, join
from cairn.entities.errors import CairnError, ErrorCode


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b", "a/b"),
        ("./a//b/", "a/b"),
        ("a/./b/.", "a/b"),
        ("model.pkl", "model.pkl"),
        ("..a/b..", "..a/b.."),
        ("ünïcode/файл.txt", "ünïcode/файл.txt"),
        ("x" * MAX_SEGMENT_LENGTH, "x" * MAX_SEGMENT_LENGTH),
    ],
)
def test_clean_path_normalises(path: str, expected: str) -> None:
    assert clean_path(path) == expected


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("..", "'..'"),
        ("a/../b", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "relative"),
        ("a\\b", "backslash"),
        ("..\\secret", "backslash"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\x1fb", "control"),
        ("a\x7fb", "control"),
        ("x" * (MAX_SEGMENT_LENGTH + 1), "longer than"),
        ("/".join(["abcdefgh"] * 200), "limit"),
        ("", "empty"),
        ("./", "empty"),
        ("//", "relative"),
    ],
)
def test_clean_path_refuses(path: str, reason: str) -> None:
    with pytest.raises(CairnError, match=reason) as caught:
        clean_path(path)
    assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    assert caught.value.http_status == 400


def test_path_length_limit_is_inclusive() -> None:
    head = "/".join(["a" * 254] * 4) + "/"
    path = head + "b" * (MAX_PATH_LENGTH - len(head))
    assert len(path) == MAX_PATH_LENGTH
    assert clean_path(path) == path
    with pytest.raises(CairnError, match="limit"):
        clean_path(path + "b")


@pytest.mark.parametrize("path", ["", ".", "./", "././/"])
def test_root_allowed_on_request(path: str) -> None:
    assert clean_path(path, allow_root=True) == ""


def test_root_flag_does_not_weaken_the_rest() -> None:
    for path in ("..", "/abs", "a\\b"):
        with pytest.raises(CairnError):
            clean_path(path, allow_root=True)


def test_non_string_refused() -> None:
    with pytest.raises(CairnError, match="string"):
        clean_path(b"a/b")  # type: ignore[arg-type]


def test_join() -> None:
    assert join("prefix", "a/b") == "prefix/a/b"
    assert join("", "a") == "a"
    assert join("/p/", "", "x/") == "p/x"
