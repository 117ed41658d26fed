"""The one way Cairn reads an integer a caller wrote as text (ids, versions, page tokens).

``str.isdigit()`` is no test for that: it accepts ``"²"`` and ``"①"``, which ``int()``
refuses, and any number of digits, which no database column holds. :func:`decimal` accepts
ASCII digits only, within a range that defaults to a 64-bit signed column's.
"""

from __future__ import annotations

import re

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNED = re.compile(r"-?[0-9]{1,19}")


def decimal(
    text: object, *, signed: bool = False, low: int | None = None, high: int = INT64_MAX
) -> int | None:
    """The integer ``text`` spells in ASCII decimal digits (surrounding blanks allowed; a
    leading ``-`` only when ``signed``), or None when it spells none or one outside
    ``low``..``high`` (by default 0, or the 64-bit minimum when ``signed``, to the 64-bit
    maximum). A bool is no number."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        number = text
    elif isinstance(text, str):
        stripped = text.strip()
        if (_SIGNED if signed else _DIGITS).fullmatch(stripped) is None:
            return None
        number = int(stripped)
    else:
        return None
    floor = low if low is not None else (INT64_MIN if signed else 0)
    return number if floor <= number <= high else None
