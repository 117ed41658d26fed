"""Artifact path hygiene: every path from a request is cleaned here before any storage call."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from cairn.entities.errors import CairnError

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255
# a name is percent-decoded up to this many times over when looking for ``..`` (``%252e``
# takes two); one that would still decode further is refused outright
DECODE_ROUNDS = 8
_SEPARATORS = re.compile(r"[/\\]")


def decoded_forms(text: str) -> list[str]:
    """``text`` and what percent-decoding it again and again gives, until nothing changes
    (at most :data:`DECODE_ROUNDS` decodings; the last form may still hold escapes)."""
    forms = [text]
    for _ in range(DECODE_ROUNDS):
        decoded = unquote(forms[-1], errors="replace")
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def traversal(text: str) -> str | None:
    """The form of ``text`` that names a ``..`` segment (``/`` or ``\\`` separated, after
    percent-decoding it until nothing changes, and Unicode compatibility folding), or None.
    A name still encoded after :data:`DECODE_ROUNDS` decodings counts as one."""
    forms = decoded_forms(text)
    if unquote(forms[-1], errors="replace") != forms[-1]:
        return forms[-1]
    for form in forms:
        for segment in _SEPARATORS.split(form):
            if segment == ".." or unicodedata.normalize("NFKC", segment) == "..":
                return form
    return None


def refuse_traversal(text: str, what: str = "artifact path") -> None:
    """400 for any ``text`` that names or decodes to a ``..`` segment: such a name is refused,
    never normalised, so no client, proxy or backend can resolve it elsewhere."""
    found = traversal(text)
    if found is None:
        return
    shown = text if len(text) <= 200 else text[:200] + "…"
    if unquote(found, errors="replace") != found:
        how = f" (it is still percent-encoded after {DECODE_ROUNDS} decodings)"
    else:
        how = "" if found == text else f" (it decodes to {found[:200]!r})"
    raise CairnError.invalid(f"Invalid {what} {shown!r}: '..' is not allowed{how}")


def clean_path(path: str, *, allow_root: bool = False) -> str:
    """Normalise ``path`` (relative, ``/``-separated) or refuse it with a 400.

    Refused: ``..`` segments, absolute paths, backslashes, NUL and control characters,
    over-long names, and any name that percent-decodes (once or more) to a ``..`` segment
    (``%2e%2e``, ``%252e%252e``, ``..%5c``). ``.`` and empty segments are dropped.
    """
    if not isinstance(path, str):
        raise CairnError.invalid("Artifact path must be a string")
    if len(path) > MAX_PATH_LENGTH:
        raise CairnError.invalid(
            f"Artifact path is {len(path)} characters long; the limit is {MAX_PATH_LENGTH}"
        )
    if any(ord(ch) < 32 or ch == "\x7f" for ch in path):
        raise CairnError.invalid(f"Invalid artifact path {path!r}: control characters")
    if "\\" in path:
        raise CairnError.invalid(f"Invalid artifact path {path!r}: backslashes are not allowed")
    if path.startswith("/"):
        raise CairnError.invalid(f"Invalid artifact path {path!r}: it must be relative")
    parts = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            raise CairnError.invalid(f"Invalid artifact path {path!r}: '..' is not allowed")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise CairnError.invalid(
                f"Invalid artifact path: the name '{segment[:40]}…' is longer than "
                f"{MAX_SEGMENT_LENGTH} characters"
            )
        parts.append(segment)
    refuse_traversal(path)
    cleaned = "/".join(parts)
    if not cleaned and not allow_root:
        raise CairnError.invalid("Artifact path must not be empty")
    return cleaned


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
