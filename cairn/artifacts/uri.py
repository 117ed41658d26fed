"""From an artifact destination (a path, ``file:`` or ``s3://`` URI) to its repository."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cairn.artifacts.base import ArtifactRepository
from cairn.artifacts.local import LocalArtifactRepository
from cairn.artifacts.s3 import S3ArtifactRepository
from cairn.entities.errors import CairnError


def file_uri(root: Path) -> str:
    """``file:///abs/dir`` for a local folder (made absolute, symlinks resolved)."""
    return Path(os.path.realpath(Path(root).expanduser())).as_uri()


def local_folder(destination: str) -> Path | None:
    """The folder of a local destination (``./rel``, ``/abs``, ``file:///abs``, ``file:rel``),
    None for any other scheme; a file URI naming another host is refused with a 400."""
    if not destination or not destination.strip():
        raise CairnError.invalid("The artifact destination must not be empty")
    parts = urlsplit(destination)
    scheme = parts.scheme.lower()
    if scheme == "":
        return Path(destination)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise CairnError.invalid(
                f"Artifact destination '{destination}': file URIs must name a local path, "
                f"not the host '{parts.netloc}'"
            )
        if not parts.path:
            raise CairnError.invalid(f"Artifact destination '{destination}' has no path")
        return Path(unquote(parts.path))
    return None


def repository_for(destination: str) -> ArtifactRepository:
    """The repository for ``./rel``, ``/abs``, ``file:///abs``, ``file:rel`` or
    ``s3://bucket[/prefix]``; anything else is refused with a 400 naming the scheme."""
    folder = local_folder(destination)
    if folder is not None:
        return LocalArtifactRepository(folder)
    scheme = urlsplit(destination).scheme.lower()
    if scheme == "s3":
        return S3ArtifactRepository.from_uri(destination)
    raise CairnError.invalid(
        f"Unsupported artifact destination scheme '{scheme}' in '{destination}': "
        "use a local path, a file: URI or s3://bucket/prefix"
    )
