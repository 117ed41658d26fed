"""Artifacts in a local folder: atomic temp-file writes, every path kept inside the real root."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cairn.artifacts.base import (
    CHUNK_SIZE,
    MAX_PART_SIZE,
    ArtifactRepository,
    ArtifactWriter,
    FileInfo,
    PartInfo,
    check_part_number,
    check_parts,
    check_range,
    quote_etag,
)
from cairn.artifacts.paths import clean_path
from cairn.entities.errors import CairnError, ErrorCode

#: marks an upload in progress (hidden from listings, refused as an artifact name)
PART_MARKER = ".cairn-part-"
#: the folder under the root holding multipart uploads
STAGING_DIR = ".cairn-multipart"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_MAX_PART_READS = MAX_PART_SIZE // CHUNK_SIZE + 1


def is_internal(name: str) -> bool:
    return name == STAGING_DIR or PART_MARKER in name


def temp_path(target: Path) -> Path:
    """A fresh hidden name next to ``target`` (short enough for any file system)."""
    return target.parent / f".{target.name[:64]}{PART_MARKER}{uuid.uuid4().hex}"


class LocalArtifactWriter(ArtifactWriter):
    """Writes to a hidden temp file next to the target and renames it over on commit."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._target = target
        self._temp = temp_path(target)
        self._file: BinaryIO | None = open(self._temp, "xb")  # closed in commit/abort
        self._size = 0

    def _live(self) -> BinaryIO:
        if self._file is None:
            raise CairnError("This upload is already finished", ErrorCode.INVALID_STATE)
        return self._file

    def write(self, chunk: bytes) -> None:
        file = self._live()
        try:
            file.write(chunk)
        except BaseException:
            self.abort()
            raise
        self._size += len(chunk)

    def commit(self) -> int:
        file = self._live()
        try:
            file.close()
            os.replace(self._temp, self._target)
        except IsADirectoryError:
            self.abort()
            raise CairnError.invalid(f"'{self._target.name}' is a directory") from None
        except BaseException:
            self.abort()
            raise
        self._file = None
        return self._size

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._temp.unlink(missing_ok=True)


def _stream(file: BinaryIO, length: int) -> Iterator[bytes]:
    with file:
        remaining = length
        while remaining > 0:
            chunk = file.read(min(CHUNK_SIZE, remaining))
            if not chunk:  # truncated under us
                return
            remaining -= len(chunk)
            yield chunk


class LocalArtifactRepository(ArtifactRepository):
    """Artifacts as plain files under ``root`` (created if missing)."""

    def __init__(self, root: Path) -> None:
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        self.root_uri = self.root.as_uri()
        self._staging = self.root / STAGING_DIR

    # -- path safety
    def _resolve(self, path: str, *, allow_root: bool = False) -> tuple[str, Path]:
        """The cleaned path and its real location, refused if that leaves the root, goes
        through a file, or names Cairn's own bookkeeping."""
        rel = clean_path(path, allow_root=allow_root)
        real = os.path.realpath(os.path.join(self.root, rel))
        if os.path.commonpath([self.root, real]) != str(self.root):
            raise CairnError.invalid(f"Artifact path '{rel}' leads outside the artifact root")
        inside = Path(real).relative_to(self.root).parts
        if not inside and not allow_root:
            raise CairnError.invalid(f"Artifact path '{rel}' is the artifact root")
        if any(is_internal(name) for name in (*rel.split("/"), *inside)):
            raise CairnError.invalid(f"Invalid artifact path '{rel}': the name is reserved")
        current = self.root
        for name in inside[:-1]:
            current = current / name
            if current.is_file():
                raise CairnError.invalid(f"Invalid artifact path '{rel}': '{name}' is a file")
            if not current.exists():
                break
        return rel, Path(real)

    def _inside(self, real: str) -> bool:
        return os.path.commonpath([self.root, real]) == str(self.root)

    # -- files
    def open_write(self, path: str) -> ArtifactWriter:
        rel, target = self._resolve(path)
        if target.is_dir():
            raise CairnError.invalid(f"Artifact path '{rel}' is a directory")
        return LocalArtifactWriter(target)

    def stat(self, path: str) -> FileInfo | None:
        rel, target = self._resolve(path, allow_root=True)
        try:
            info = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        name = rel.rsplit("/", 1)[-1]
        if stat.S_ISDIR(info.st_mode):
            return FileInfo(name, True)
        if stat.S_ISREG(info.st_mode):
            return FileInfo(name, False, info.st_size)
        return None

    def read(self, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        rel, target = self._resolve(path)
        missing = CairnError.not_found(f"Artifact '{rel}' not found")
        try:
            file = open(target, "rb")  # closed by _stream
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise missing from None
        try:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise missing
            length = check_range(rel, start, end, info.st_size)
            file.seek(start)
        except BaseException:
            file.close()
            raise
        return _stream(file, length)

    def listdir(self, path: str) -> list[FileInfo]:
        _, target = self._resolve(path, allow_root=True)
        try:
            with os.scandir(target) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return []
        infos = [self._entry_info(e) for e in entries if not is_internal(e.name)]
        return sorted((i for i in infos if i is not None), key=lambda i: i.path)

    def _entry_info(self, entry: os.DirEntry[str]) -> FileInfo | None:
        try:
            if entry.is_symlink() and not self._inside(os.path.realpath(entry.path)):
                return None
            if entry.is_dir():
                return FileInfo(entry.name, True)
            if entry.is_file():
                return FileInfo(entry.name, False, entry.stat().st_size)
        except FileNotFoundError:  # removed while listing
            pass
        return None

    def delete(self, path: str) -> int:
        _, target = self._resolve(path)
        if target.is_dir():
            count = sum(
                sum(1 for name in files if PART_MARKER not in name)
                for _, _, files in os.walk(target)
            )
            shutil.rmtree(target)
            return count
        try:
            target.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return 0
        return 1

    def local_path(self, path: str) -> Path | None:
        _, target = self._resolve(path)
        return target if target.is_file() else None

    # -- multipart: <root>/.cairn-multipart/<upload_id>/{target,1,2,...}
    def _upload(self, path: str, upload_id: str) -> tuple[str, Path, Path]:
        rel, target = self._resolve(path)
        folder = self._staging / upload_id
        recorded = None
        if _UPLOAD_ID.fullmatch(upload_id):
            try:
                recorded = (folder / "target").read_text(encoding="utf-8")
            except (FileNotFoundError, NotADirectoryError):
                pass
        if recorded != rel:
            raise CairnError.not_found(f"Upload '{upload_id}' for artifact '{rel}' not found")
        return rel, target, folder

    def create_multipart(self, path: str) -> str:
        rel, target = self._resolve(path)
        if target.is_dir():
            raise CairnError.invalid(f"Artifact path '{rel}' is a directory")
        upload_id = uuid.uuid4().hex
        folder = self._staging / upload_id
        folder.mkdir(parents=True)
        (folder / "target").write_text(rel, encoding="utf-8")
        return upload_id

    def upload_part(
        self, path: str, upload_id: str, part_number: int, body: Iterator[bytes]
    ) -> str:
        check_part_number(part_number)
        _, _, folder = self._upload(path, upload_id)
        temp = folder / f".{part_number}{PART_MARKER}{uuid.uuid4().hex}"
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(temp, "xb") as out:
                size = 0
                for chunk in body:
                    size += len(chunk)
                    if size > MAX_PART_SIZE:
                        raise CairnError(
                            f"A part may hold at most {MAX_PART_SIZE} bytes",
                            ErrorCode.REQUEST_LIMIT_EXCEEDED,
                        )
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(temp, folder / str(part_number))
        except FileNotFoundError:  # aborted meanwhile
            temp.unlink(missing_ok=True)
            raise CairnError.not_found(f"Upload '{upload_id}' not found") from None
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return f'"{digest.hexdigest()}"'

    def complete_multipart(self, path: str, upload_id: str, parts: list[PartInfo]) -> None:
        ordered = check_parts(parts)
        rel, target, folder = self._upload(path, upload_id)
        if target.is_dir():
            raise CairnError.invalid(f"Artifact path '{rel}' is a directory")
        writer = LocalArtifactWriter(target)
        try:
            for part in ordered:
                _copy_part(folder, part, writer)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, path: str, upload_id: str) -> None:
        _, _, folder = self._upload(path, upload_id)
        shutil.rmtree(folder, ignore_errors=True)


def _copy_part(folder: Path, part: PartInfo, writer: ArtifactWriter) -> None:
    """Append one staged part to ``writer``, checking it against the ETag the client sent."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        source = open(folder / str(part.part_number), "rb")
    except FileNotFoundError:
        raise CairnError.invalid(f"Part {part.part_number} was never uploaded") from None
    with source:
        for _ in range(_MAX_PART_READS):
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            digest.update(chunk)
            writer.write(chunk)
    if quote_etag(part.etag) != f'"{digest.hexdigest()}"':
        raise CairnError.invalid(f"Part {part.part_number}: the ETag does not match")
