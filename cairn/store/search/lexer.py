"""Tokenizer for the search-filter language (see :mod:`cairn.store.search.parser`).

Token kinds:

* ``ident``   -- a key reference. ``prefix`` is the text before the first dot (or None) and
  ``value`` the key after it. Plain identifiers are made of letters, digits and ``_ - . / :``
  and start with a letter or ``_``; a backticked segment (`` `a b` ``, doubled backticks
  escape a backtick) may stand for the prefix or the key, and a key right after ``prefix.``
  may also be single- or double-quoted.
* ``keyword`` -- AND OR NOT IN LIKE ILIKE IS NULL (any case; ``value`` is upper-cased).
* ``string``  -- ``'...'`` or ``"..."``; ``\\<quote>``, ``\\\\`` and a doubled quote are escapes,
  any other backslash is kept as typed (so LIKE escapes such as ``\\_`` survive).
* ``number``  -- ``[+-]`` digits, optional fraction, optional exponent: ``1``, ``-2``, ``.5``,
  ``1e-3``.
* ``op`` (``= != < <= > >=``), ``(``, ``)``, ``,`` and a final ``eof``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cairn.entities.errors import CairnError

TokenKind = Literal["ident", "keyword", "string", "number", "op", "(", ")", ",", "eof"]

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL"})
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPS = ("!=", "<=", ">=", "=", "<", ">")
_PUNCT: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}
_QUOTES = "'\"`"
_MAX_ECHO = 300


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    pos: int
    end: int
    prefix: str | None = None

    def describe(self, source: str) -> str:
        raw = clip(source[self.pos : self.end])
        if self.kind == "eof":
            return "end of input"
        if self.kind == "string":
            return f"string {raw}"
        if self.kind == "number":
            return f"number '{raw}'"
        return f"'{raw}'"


def clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _is_ident_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-./:"


class Lexer:
    """Turns ``source`` into tokens; ``what`` names the input in error messages."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what

    @property
    def quoted_source(self) -> str:
        """The input for error messages, clipped so a huge filter can't bloat a response."""
        return f"'{clip(self.source, _MAX_ECHO)}'"

    def fail(self, detail: str) -> CairnError:
        return CairnError.invalid(f"{self.what} {self.quoted_source}: {detail}")

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        src, i = self.source, 0
        while True:
            while i < len(src) and src[i].isspace():
                i += 1
            if i >= len(src):
                out.append(Token("eof", "", i, i))
                return out
            token = self._next(i)
            out.append(token)
            i = token.end

    def _next(self, i: int) -> Token:
        src = self.source
        ch = src[i]
        if ch in _PUNCT:
            return Token(_PUNCT[ch], ch, i, i + 1)
        for op in _OPS:
            if src.startswith(op, i):
                return Token("op", op, i, i + len(op))
        match = _NUMBER.match(src, i)
        if match:
            return self._number(i, match.end())
        if ch in "'\"":
            value, end = self._quoted(i)
            return Token("string", value, i, end)
        if ch == "`" or _is_ident_start(ch):
            return self._ident(i)
        raise self.fail(f"unexpected character '{ch}' at position {i}")

    def _number(self, i: int, end: int) -> Token:
        src = self.source
        if end < len(src) and _is_ident_char(src[end]):
            bad = end
            while bad < len(src) and _is_ident_char(src[bad]):
                bad += 1
            raise self.fail(f"invalid number '{clip(src[i:bad])}' at position {i}")
        return Token("number", src[i:end], i, end)

    def _quoted(self, i: int) -> tuple[str, int]:
        """Read the quoted string or backticked name starting at ``i``; return (text, end)."""
        src, quote = self.source, self.source[i]
        chars: list[str] = []
        j = i + 1
        while j < len(src):
            ch = src[j]
            if ch == quote:
                if src.startswith(quote, j + 1):  # doubled quote
                    chars.append(quote)
                    j += 2
                    continue
                return "".join(chars), j + 1
            if ch == "\\" and quote != "`" and j + 1 < len(src) and src[j + 1] in (quote, "\\"):
                chars.append(src[j + 1])
                j += 2
                continue
            chars.append(ch)
            j += 1
        kind = "name" if quote == "`" else "string"
        raise self.fail(f"unterminated {kind} starting at position {i}")

    def _plain(self, i: int) -> int:
        src = self.source
        while i < len(src) and _is_ident_char(src[i]):
            i += 1
        return i

    def _key_after_dot(self, start: int, prefix: str, j: int) -> Token:
        """The key of ``prefix.`` whose dot ends just before ``j``."""
        src = self.source
        if j < len(src) and src[j] in _QUOTES:
            key, end = self._quoted(j)
            return Token("ident", key, start, end, prefix)
        if j < len(src) and _is_ident_char(src[j]):
            end = self._plain(j)
            return Token("ident", src[j:end], start, end, prefix)
        return Token("ident", "", start, j, prefix)

    def _ident(self, i: int) -> Token:
        src = self.source
        if src[i] == "`":
            name, end = self._quoted(i)
            if end < len(src) and src[end] == ".":
                return self._key_after_dot(i, name, end + 1)
            return Token("ident", name, i, end)
        end = self._plain(i)
        text = src[i:end]
        if "." not in text:
            if text.upper() in KEYWORDS:
                return Token("keyword", text.upper(), i, end)
            return Token("ident", text, i, end)
        prefix, key = text.split(".", 1)
        if key:
            return Token("ident", key, i, end, prefix)
        return self._key_after_dot(i, prefix, end)
