"""Artifact path hygiene: every path from a request is cleaned here before any storage call."""

from __future__ import annotations

from cairn.entities.errors import CairnError

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255


def clean_path(path: str, *, allow_root: bool = False) -> str:
    """Normalise ``path`` (relative, ``/``-separated) or refuse it with a 400.

    Refused: ``..`` segments, absolute paths, backslashes, NUL and control characters,
    over-long names. ``.`` and empty segments are dropped. Callers pass paths already
    percent-decoded, so ``%2e%2e`` arrives here as ``..`` and is refused.
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
    cleaned = "/".join(parts)
    if not cleaned and not allow_root:
        raise CairnError.invalid("Artifact path must not be empty")
    return cleaned


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
