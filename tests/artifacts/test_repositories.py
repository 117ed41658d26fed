"""Both artifact backends against the same contract: a real folder and a real S3 server."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cairn.artifacts.base import ArtifactRepository, FileInfo, PartInfo
from cairn.artifacts.local import PART_MARKER, STAGING_DIR, LocalArtifactRepository
from cairn.artifacts.s3 import S3ArtifactRepository, make_s3_client
from cairn.artifacts.uri import file_uri, repository_for
from cairn.entities.errors import CairnError, ErrorCode

KIB = 1 << 10
MIB = 1 << 20


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def put(repo: ArtifactRepository, path: str, data: bytes, chunk: int = 64 * KIB) -> int:
    writer = repo.open_write(path)
    for offset in range(0, len(data), chunk):
        writer.write(data[offset : offset + chunk])
    return writer.commit()


def get(repo: ArtifactRepository, path: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(repo.read(path, start, end))


def names(repo: ArtifactRepository, path: str) -> list[str]:
    return [info.path for info in repo.listdir(path)]


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def assert_missing(repo: ArtifactRepository, path: str) -> None:
    with pytest.raises(CairnError) as caught:
        get(repo, path)
    assert caught.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert caught.value.http_status == 404


def leftover_uploads(repo: ArtifactRepository) -> int:
    """Multipart uploads still open (S3), or files anywhere under the root (local)."""
    if isinstance(repo, S3ArtifactRepository):
        listing = repo.client.list_multipart_uploads(Bucket=repo.bucket)
        return len(listing.get("Uploads", []))
    assert isinstance(repo, LocalArtifactRepository)
    return sum(len(files) for _, _, files in os.walk(repo.root))


# -- write, commit, read back


def test_write_commit_read_back(repo: ArtifactRepository) -> None:
    data = blob(300 * KIB)
    assert put(repo, "model/weights.bin", data) == len(data)
    assert get(repo, "model/weights.bin") == data
    assert put(repo, "model/weights.bin", b"replaced") == 8
    assert get(repo, "./model//weights.bin") == b"replaced"


def test_empty_file(repo: ArtifactRepository) -> None:
    assert repo.open_write("empty.txt").commit() == 0
    assert get(repo, "empty.txt") == b""
    assert repo.stat("empty.txt") == FileInfo("empty.txt", False, 0)


def test_large_file_in_small_chunks(repo: ArtifactRepository) -> None:
    """21 MiB in 64 KiB writes: three parts of a real multipart upload on S3."""
    size, chunk = 21 * MIB, 64 * KIB
    rng = random.Random(7)
    written = hashlib.sha256()
    writer = repo.open_write("big/data.bin")
    for _ in range(size // chunk):
        piece = rng.randbytes(chunk)
        written.update(piece)
        writer.write(piece)
    assert writer.commit() == size

    read = hashlib.sha256()
    total = 0
    for piece in repo.read("big/data.bin"):
        assert len(piece) <= MIB
        read.update(piece)
        total += len(piece)
    assert total == size
    assert read.hexdigest() == written.hexdigest()
    assert repo.stat("big/data.bin") == FileInfo("data.bin", False, size)
    if isinstance(repo, S3ArtifactRepository):  # really assembled from parts
        head = repo.client.head_object(Bucket=repo.bucket, Key="experiments/1/big/data.bin")
        assert head["ETag"].endswith('-3"')
    assert leftover_uploads(repo) == (1 if isinstance(repo, LocalArtifactRepository) else 0)


def test_nothing_visible_before_commit(repo: ArtifactRepository) -> None:
    writer = repo.open_write("dir/file.bin")
    writer.write(b"x" * 1000)
    assert repo.stat("dir/file.bin") is None
    assert "file.bin" not in names(repo, "dir")
    assert_missing(repo, "dir/file.bin")
    writer.commit()
    assert names(repo, "dir") == ["file.bin"]
    assert get(repo, "dir/file.bin") == b"x" * 1000


@pytest.mark.parametrize("size", [10, 9 * MIB], ids=["small", "multipart"])
def test_abort_leaves_nothing(repo: ArtifactRepository, size: int) -> None:
    put(repo, "kept.txt", b"kept")
    writer = repo.open_write("dir/file.bin")
    for _ in range(size // (64 * KIB) + 1):
        writer.write(b"y" * (64 * KIB))
    writer.abort()
    assert repo.stat("dir/file.bin") is None
    assert "file.bin" not in names(repo, "dir")
    assert_missing(repo, "dir/file.bin")
    expected = 1 if isinstance(repo, LocalArtifactRepository) else 0
    assert leftover_uploads(repo) == expected
    with pytest.raises(CairnError):
        writer.write(b"late")


# -- ranges

RANGE_DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, RANGE_DATA[:1]),
        (100, 199, RANGE_DATA[100:200]),
        (len(RANGE_DATA) - 1, len(RANGE_DATA) - 1, RANGE_DATA[-1:]),
        (5000, None, RANGE_DATA[5000:]),
        (0, len(RANGE_DATA) - 1, RANGE_DATA),
    ],
    ids=["first-byte", "middle", "last-byte", "open-ended", "whole"],
)
def test_ranges(repo: ArtifactRepository, start: int, end: int | None, expected: bytes) -> None:
    put(repo, "r.bin", RANGE_DATA)
    assert get(repo, "r.bin", start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [(10, 5), (0, len(RANGE_DATA)), (len(RANGE_DATA), None), (-1, 3)],
    ids=["reversed", "past-end", "start-past-end", "negative"],
)
def test_invalid_ranges(repo: ArtifactRepository, start: int, end: int | None) -> None:
    put(repo, "r.bin", RANGE_DATA)
    with pytest.raises(CairnError, match="range") as caught:
        get(repo, "r.bin", start, end)
    assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE


# -- listing, stat, delete


def make_tree(repo: ArtifactRepository) -> None:
    put(repo, "top.txt", b"top")
    put(repo, "a/b/c.txt", b"c" * 3)
    put(repo, "a/d.txt", b"d" * 4)
    put(repo, "a/e/f.txt", b"f" * 5)


def test_listdir(repo: ArtifactRepository) -> None:
    make_tree(repo)
    assert repo.listdir("") == [FileInfo("a", True), FileInfo("top.txt", False, 3)]
    assert repo.listdir("a") == [
        FileInfo("b", True),
        FileInfo("d.txt", False, 4),
        FileInfo("e", True),
    ]
    assert repo.listdir("a/b/") == [FileInfo("c.txt", False, 3)]
    assert repo.listdir("a/d.txt") == []
    assert repo.listdir("missing") == []


def test_stat(repo: ArtifactRepository) -> None:
    make_tree(repo)
    assert repo.stat("a/d.txt") == FileInfo("d.txt", False, 4)
    assert repo.stat("a/b") == FileInfo("b", True)
    assert repo.stat("") == FileInfo("", True)
    assert repo.stat("a/nope") is None


def test_delete(repo: ArtifactRepository) -> None:
    make_tree(repo)
    assert repo.delete("a") == 3
    assert repo.listdir("") == [FileInfo("top.txt", False, 3)]
    assert repo.stat("a/b/c.txt") is None
    assert repo.delete("a") == 0
    assert repo.delete("top.txt") == 1
    assert repo.listdir("") == []


# -- multipart


def upload_three_parts(repo: ArtifactRepository, path: str) -> tuple[str, bytes, list[PartInfo]]:
    """Parts 1 and 2 at S3's 5 MiB minimum, a short last part; uploaded 3, 1, 2."""
    chunks = {1: blob(5 * MIB, 1), 2: blob(5 * MIB, 2), 3: blob(1000, 3)}
    upload_id = repo.create_multipart(path)
    parts = []
    for number in (3, 1, 2):
        body = iter([chunks[number][i : i + MIB] for i in range(0, len(chunks[number]), MIB)])
        etag = repo.upload_part(path, upload_id, number, body)
        assert etag == md5_etag(chunks[number])
        parts.append(PartInfo(number, etag))
    return upload_id, chunks[1] + chunks[2] + chunks[3], parts


def test_multipart_out_of_order(repo: ArtifactRepository) -> None:
    upload_id, data, parts = upload_three_parts(repo, "mp/file.bin")
    assert repo.stat("mp/file.bin") is None
    repo.complete_multipart("mp/file.bin", upload_id, parts)  # listed 3, 1, 2
    assert repo.stat("mp/file.bin") == FileInfo("file.bin", False, len(data))
    assert hashlib.sha256(get(repo, "mp/file.bin")).digest() == hashlib.sha256(data).digest()
    assert names(repo, "") == ["mp"]  # no staging leftovers
    assert leftover_uploads(repo) == (1 if isinstance(repo, LocalArtifactRepository) else 0)


def test_multipart_abort(repo: ArtifactRepository) -> None:
    upload_id = repo.create_multipart("mp/file.bin")
    etag = repo.upload_part("mp/file.bin", upload_id, 1, iter([b"part one"]))
    repo.abort_multipart("mp/file.bin", upload_id)
    assert repo.stat("mp/file.bin") is None
    assert leftover_uploads(repo) == 0
    for call in unknown_upload_calls(repo, "mp/file.bin", upload_id, etag):
        with pytest.raises(CairnError) as caught:
            call()
        assert caught.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_multipart_refuses_bad_parts(repo: ArtifactRepository) -> None:
    upload_id = repo.create_multipart("mp/file.bin")
    etag = repo.upload_part("mp/file.bin", upload_id, 1, iter([b"only part"]))
    for parts in (
        [PartInfo(1, md5_etag(b"something else"))],
        [PartInfo(1, etag), PartInfo(2, etag)],
        [],
    ):
        with pytest.raises(CairnError) as caught:
            repo.complete_multipart("mp/file.bin", upload_id, parts)
        assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    assert repo.stat("mp/file.bin") is None
    repo.complete_multipart("mp/file.bin", upload_id, [PartInfo(1, etag.strip('"'))])
    assert get(repo, "mp/file.bin") == b"only part"


@pytest.mark.parametrize("number", [0, 10_001])
def test_multipart_part_number_range(repo: ArtifactRepository, number: int) -> None:
    upload_id = repo.create_multipart("f.bin")
    with pytest.raises(CairnError, match="Part number") as caught:
        repo.upload_part("f.bin", upload_id, number, iter([b"x"]))
    assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE
    repo.abort_multipart("f.bin", upload_id)


def unknown_upload_calls(
    repo: ArtifactRepository, path: str, upload_id: str, etag: str = '"x"'
) -> list[Callable[[], object]]:
    """The calls naming an upload that does not exist. moto answers UploadPart and
    CompleteMultipartUpload for one with a 500 (a KeyError) where S3 says NoSuchUpload, so
    on S3 only AbortMultipartUpload is checked."""
    calls: list[Callable[[], object]] = [lambda: repo.abort_multipart(path, upload_id)]
    if not isinstance(repo, S3ArtifactRepository):
        calls += [
            lambda: repo.upload_part(path, upload_id, 1, iter([b"x"])),
            lambda: repo.complete_multipart(path, upload_id, [PartInfo(1, etag)]),
        ]
    return calls


@pytest.mark.parametrize("upload_id", ["0" * 32, "not-an-id", "../../etc"])
def test_unknown_upload(repo: ArtifactRepository, upload_id: str) -> None:
    for call in unknown_upload_calls(repo, "f.bin", upload_id):
        with pytest.raises(CairnError) as caught:
            call()
        assert caught.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_upload_belongs_to_its_path(local: LocalArtifactRepository) -> None:
    upload_id = local.create_multipart("a.bin")
    with pytest.raises(CairnError) as caught:
        local.upload_part("b.bin", upload_id, 1, iter([b"x"]))
    assert caught.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST
    local.abort_multipart("a.bin", upload_id)


# -- missing files and bad paths


def test_missing_file(repo: ArtifactRepository) -> None:
    put(repo, "dir/present.txt", b"here")
    for path in ("absent.txt", "dir/absent.txt", "dir"):
        with pytest.raises(CairnError, match="not found") as caught:
            get(repo, path)
        assert caught.value.error_code is ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert repo.stat("absent.txt") is None


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a\\b", "", "a/\x00"])
def test_bad_paths_refused(repo: ArtifactRepository, path: str) -> None:
    for call in (lambda: get(repo, path), lambda: repo.open_write(path), lambda: repo.delete(path)):
        with pytest.raises(CairnError) as caught:
            call()
        assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE


# -- local only: the real root is a hard boundary


@pytest.fixture
def local(tmp_path: Path) -> LocalArtifactRepository:
    return LocalArtifactRepository(tmp_path / "root")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


def test_symlink_out_of_root_refused(local: LocalArtifactRepository, outside: Path) -> None:
    (local.root / "link").symlink_to(outside, target_is_directory=True)
    (local.root / "file-link").symlink_to(outside / "secret.txt")
    calls: list[tuple[str, Callable[[], object]]] = [
        ("read", lambda: get(local, "link/secret.txt")),
        ("read", lambda: get(local, "file-link")),
        ("write", lambda: local.open_write("link/new.txt")),
        ("write", lambda: local.open_write("file-link")),
        ("listdir", lambda: local.listdir("link")),
        ("stat", lambda: local.stat("link/secret.txt")),
        ("delete", lambda: local.delete("link")),
        ("multipart", lambda: local.create_multipart("link/new.txt")),
    ]
    for name, call in calls:
        with pytest.raises(CairnError, match="outside") as caught:
            call()
        assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE, name
    assert names(local, "") == []  # escaping links are not listed either
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_symlink_inside_root_allowed(local: LocalArtifactRepository) -> None:
    put(local, "real/file.txt", b"inside")
    (local.root / "alias").symlink_to(local.root / "real", target_is_directory=True)
    assert get(local, "alias/file.txt") == b"inside"
    assert names(local, "") == ["alias", "real"]


def test_path_through_a_file_refused(local: LocalArtifactRepository) -> None:
    put(local, "a.txt", b"a file")
    for call in (lambda: local.open_write("a.txt/b"), lambda: get(local, "a.txt/b")):
        with pytest.raises(CairnError, match="is a file") as caught:
            call()
        assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE


def test_temp_and_staging_files_hidden(local: LocalArtifactRepository) -> None:
    writer = local.open_write("out.bin")
    writer.write(b"pending")
    upload_id = local.create_multipart("other.bin")
    local.upload_part("other.bin", upload_id, 1, iter([b"part"]))
    on_disk = sorted(os.listdir(local.root))
    assert STAGING_DIR in on_disk
    assert any(PART_MARKER in name for name in on_disk)
    assert local.listdir("") == []
    for reserved in (f"{STAGING_DIR}/{upload_id}/1", f".x{PART_MARKER}y"):
        with pytest.raises(CairnError, match="reserved"):
            get(local, reserved)
    writer.commit()
    assert local.listdir("") == [FileInfo("out.bin", False, 7)]


def test_write_over_directory_refused(local: LocalArtifactRepository) -> None:
    put(local, "d/x.txt", b"x")
    with pytest.raises(CairnError, match="directory"):
        local.open_write("d")


def test_local_path(local: LocalArtifactRepository) -> None:
    put(local, "d/x.txt", b"x")
    assert local.local_path("d/x.txt") == local.root / "d" / "x.txt"
    assert local.local_path("d") is None
    assert local.local_path("nope") is None


def test_read_is_chunked(local: LocalArtifactRepository) -> None:
    data = blob(3 * MIB + 5)
    put(local, "f.bin", data, chunk=MIB)
    chunks: Iterator[bytes] = local.read("f.bin")
    assert [len(c) for c in chunks] == [MIB, MIB, MIB, 5]


# -- destinations


def test_repository_for_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = {
        "./rel/dir": tmp_path / "rel" / "dir",
        "plain": tmp_path / "plain",
        str(tmp_path / "abs"): tmp_path / "abs",
        (tmp_path / "uri dir").as_uri(): tmp_path / "uri dir",
        f"file://localhost{tmp_path / 'host'}": tmp_path / "host",
        "file:relative": tmp_path / "relative",
    }
    for destination, root in expected.items():
        repo = repository_for(destination)
        assert isinstance(repo, LocalArtifactRepository), destination
        assert repo.root == root.resolve()
        assert root.is_dir()
        assert repo.root_uri == file_uri(root)
    assert file_uri(tmp_path) == tmp_path.resolve().as_uri()


def test_repository_for_s3(s3_env: str) -> None:
    repo = repository_for("s3://my-bucket/some/prefix/")
    assert isinstance(repo, S3ArtifactRepository)
    assert (repo.bucket, repo.prefix, repo.root_uri) == (
        "my-bucket",
        "some/prefix",
        "s3://my-bucket/some/prefix",
    )
    assert repo.client.meta.endpoint_url == s3_env
    bare = repository_for("s3://my-bucket")
    assert isinstance(bare, S3ArtifactRepository)
    assert bare.root_uri == "s3://my-bucket"


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("gs://bucket/x", "'gs'"),
        ("mlflow-artifacts:/x", "'mlflow-artifacts'"),
        ("file://elsewhere/x", "elsewhere"),
        ("s3:///no-bucket", "bucket"),
        ("", "empty"),
    ],
)
def test_repository_for_refuses(destination: str, message: str) -> None:
    with pytest.raises(CairnError, match=message) as caught:
        repository_for(destination)
    assert caught.value.error_code is ErrorCode.INVALID_PARAMETER_VALUE


def test_client_from_environment(s3_env: str) -> None:
    """Built from the given mapping (the process environment is made hermetic by s3_env)."""
    env = {
        "MLFLOW_S3_ENDPOINT_URL": "https://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "MLFLOW_S3_IGNORE_TLS": "true",
    }
    client = make_s3_client(env)
    assert client.meta.endpoint_url == "https://127.0.0.1:9"
    assert client.meta.region_name == "us-east-1"
    assert client.meta.config.s3["addressing_style"] == "path"
    assert client._endpoint.http_session._verify is False
    plain = make_s3_client({**env, "MLFLOW_S3_IGNORE_TLS": "", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert plain.meta.region_name == "eu-west-1"
    assert plain._endpoint.http_session._verify is not False
