"""The artifact repository interface every storage backend implements.

Paths are relative to the repository root, use ``/`` separators and are always cleaned with
:func:`cairn.artifacts.paths.clean_path` first (a backend may assume it). Everything streams:
no method takes or returns a whole file in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


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
