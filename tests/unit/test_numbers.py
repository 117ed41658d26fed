"""The one integer parse (cairn/entities/numbers.py): ASCII digits within a 64-bit range,
nothing that str.isdigit() lets through and int() or a database column refuses."""

from __future__ import annotations

import pytest

from cairn.entities.numbers import INT64_MAX, INT64_MIN, decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("12", 12), (" 7 ", 7), (str(INT64_MAX), INT64_MAX), (5, 5), ("007", 7)],
)
def test_ascii_digits_within_64_bits_are_read(text: object, expected: int) -> None:
    assert decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    ["²", "①", "٣", "１", "", " ", "-1", "+1", "1.0", "1e3", "0x10", "1_000", str(INT64_MAX + 1),
     "9" * 30, True, False, None, 1.5, -1, b"1"],
)  # fmt: skip
def test_anything_else_is_not_a_number(text: object) -> None:
    assert decimal(text) is None


def test_signed_and_bounds() -> None:
    assert decimal("-5", signed=True) == -5
    assert decimal(str(INT64_MIN), signed=True) == INT64_MIN
    assert decimal(str(INT64_MIN - 1), signed=True) is None
    assert decimal("10", high=9) is None
    assert decimal("3", low=4) is None
