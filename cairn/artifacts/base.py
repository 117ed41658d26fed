"""The artifact repository interface every storage backend implements.

Paths are relative to the repository root, use ``/`` separators and are always cleaned with
:func:`cairn.artifacts.paths.clean_path` first (a backend may assume it). Everything streams:
no method takes or returns a whole file in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from cairn.entities.errors import CairnError

#: chunk size for streamed reads and copies
CHUNK_SIZE = 1 << 20
#: S3's limits, shared by every backend so they all refuse the same requests
MAX_PART_NUMBER = 10_000
MAX_PART_SIZE = 5 << 30


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: ``path`` relative to the listed directory."""

    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    etag: str


def range_error(path: str, start: int, end: int | None, size: int | None = None) -> CairnError:
    """The error for an unsatisfiable byte range (the HTTP layer answers it with a 416)."""
    wanted = f"{start}-{'' if end is None else end}"
    known = "" if size is None else f" ({size} bytes)"
    return CairnError.invalid(f"Invalid byte range {wanted} for artifact '{path}'{known}")


def check_range(path: str, start: int, end: int | None, size: int) -> int:
    """Validate ``start``..``end`` (inclusive) against a file of ``size`` bytes; returns the
    number of bytes to send. A whole-file read (``0``, ``None``) is valid even when empty."""
    if start == 0 and end is None:
        return size
    last = size - 1 if end is None else end
    if start < 0 or start > last or last >= size:
        raise range_error(path, start, end, size)
    return last - start + 1


def check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise CairnError.invalid(
            f"Part number {part_number} is out of range: it must be 1 to {MAX_PART_NUMBER}"
        )


def check_parts(parts: list[PartInfo]) -> list[PartInfo]:
    """The parts of a completion request sorted by number; refuses none or duplicates."""
    if not parts:
        raise CairnError.invalid("A multipart upload needs at least one part to complete")
    ordered = sorted(parts, key=lambda p: p.part_number)
    for previous, part in pairwise(ordered):
        if previous.part_number == part.part_number:
            raise CairnError.invalid(f"Part {part.part_number} is listed twice")
    for part in ordered:
        check_part_number(part.part_number)
    return ordered


def quote_etag(etag: str) -> str:
    """An ETag in S3's quoted form, whether or not the client kept the quotes."""
    return f'"{etag.strip().strip(chr(34))}"'


class ArtifactWriter(ABC):
    """An upload in progress. Nothing is visible under the final name until :meth:`commit`;
    :meth:`abort` (or a failure) leaves nothing behind."""

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> int:
        """Publish the file atomically; returns its size in bytes."""

    @abstractmethod
    def abort(self) -> None: ...


class ArtifactRepository(ABC):
    #: where the repository lives, as a URI (``file:///abs/dir`` or ``s3://bucket/prefix``)
    root_uri: str

    @abstractmethod
    def open_write(self, path: str) -> ArtifactWriter:
        """Start an upload to ``path`` (replacing an existing file when committed)."""

    @abstractmethod
    def stat(self, path: str) -> FileInfo | None:
        """The file or directory at ``path`` (its ``path`` is the basename), or None."""

    @abstractmethod
    def read(self, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of ``path`` from ``start`` to ``end`` inclusive (HTTP range semantics),
        in chunks. Raises CairnError RESOURCE_DOES_NOT_EXIST for a missing file."""

    @abstractmethod
    def listdir(self, path: str) -> list[FileInfo]:
        """The immediate children of directory ``path`` ("" is the root), sorted by name,
        names relative to ``path``; empty for a file or a missing path."""

    @abstractmethod
    def delete(self, path: str) -> int:
        """Delete the file or the whole directory tree at ``path``; returns files removed."""

    def local_path(self, path: str) -> Path | None:
        """The file on local disk, when the backend has one (lets the server use sendfile)."""
        return None

    # -- multipart uploads: parts arrive separately (possibly in parallel), then complete
    @abstractmethod
    def create_multipart(self, path: str) -> str:
        """Start a multipart upload to ``path``; returns its upload id."""

    @abstractmethod
    def upload_part(
        self, path: str, upload_id: str, part_number: int, body: Iterator[bytes]
    ) -> str:
        """Store one part (1-based ``part_number``, streamed); returns its ETag."""

    @abstractmethod
    def complete_multipart(self, path: str, upload_id: str, parts: list[PartInfo]) -> None:
        """Assemble the parts in ``part_number`` order and publish the file atomically."""

    @abstractmethod
    def abort_multipart(self, path: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts."""
