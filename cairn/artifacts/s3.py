"""Artifacts in S3 or any S3-compatible store (MinIO, ...): streamed reads, multipart writes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from tempfile import SpooledTemporaryFile
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cairn.artifacts.base import (
    CHUNK_SIZE,
    MAX_PART_NUMBER,
    MAX_PART_SIZE,
    ArtifactRepository,
    ArtifactWriter,
    FileInfo,
    PartInfo,
    check_part_number,
    check_parts,
    check_range,
    quote_etag,
    range_error,
)
from cairn.artifacts.paths import clean_path, join
from cairn.entities.errors import CairnError, ErrorCode

#: the part size of uploads through :meth:`S3ArtifactRepository.open_write`
PART_SIZE = 8 << 20
#: the most keys one DeleteObjects call takes, and a cap on the rounds of one delete
_DELETE_BATCH = 1000
_MAX_DELETE_ROUNDS = 10_000_000
_MISSING = {"NoSuchKey", "NotFound", "404"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}
_TRUE = {"1", "true", "yes", "on"}


def make_s3_client(env: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client configured the way MLflow reads its environment."""
    env = os.environ if env is None else env
    endpoint = env.get("MLFLOW_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        profile_name=env.get("AWS_PROFILE") or None,
        region_name=env.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    options: dict[str, Any] = {"retries": {"max_attempts": 5, "mode": "standard"}}
    if endpoint:  # MinIO and friends: path-style, and no checksums they may not understand
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    verify = False if env.get("MLFLOW_S3_IGNORE_TLS", "").strip().lower() in _TRUE else None
    return session.client("s3", endpoint_url=endpoint, config=Config(**options), verify=verify)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _upload_errors(upload_id: str) -> Iterator[None]:
    """Map S3's answers about a multipart upload onto CairnErrors."""
    try:
        yield
    except ClientError as exc:
        code = _code(exc)
        if code == "NoSuchUpload":
            raise CairnError.not_found(f"Upload '{upload_id}' not found") from None
        if code in _BAD_PARTS:
            message = exc.response.get("Error", {}).get("Message", code)
            raise CairnError.invalid(f"Cannot complete upload '{upload_id}': {message}") from None
        raise


def _total_size(response: Mapping[str, Any]) -> int:
    """The object's full size from a GetObject answer (``Content-Range: bytes a-b/total``)."""
    content_range = response.get("ContentRange")
    if content_range:
        return int(str(content_range).rsplit("/", 1)[1])
    return int(response["ContentLength"])


def _stream(body: Any, skip: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of ``body`` after its first ``skip`` bytes, then close it."""
    position = 0
    try:
        for chunk in body.iter_chunks(CHUNK_SIZE):
            low, high = max(skip - position, 0), min(skip + length - position, len(chunk))
            position += len(chunk)
            if low < high:
                yield chunk[low:high]
            if position >= skip + length:
                return
    finally:
        body.close()


class S3ArtifactWriter(ArtifactWriter):
    """Buffers one part: small files become one PutObject, larger ones a multipart upload."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise CairnError("This upload is already finished", ErrorCode.INVALID_STATE)

    def _send_part(self, data: bytes) -> None:
        number = len(self._parts) + 1
        if number > MAX_PART_NUMBER:
            raise CairnError(
                f"An artifact may be at most {MAX_PART_NUMBER * PART_SIZE} bytes",
                ErrorCode.REQUEST_LIMIT_EXCEEDED,
            )
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = str(created["UploadId"])
        sent = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def write(self, chunk: bytes) -> None:
        self._check_open()
        self._buffer += chunk
        self._size += len(chunk)
        try:  # send full parts, keeping at least one byte back so the last part is never empty
            for _ in range((len(self._buffer) - 1) // PART_SIZE):
                self._send_part(bytes(self._buffer[:PART_SIZE]))
                del self._buffer[:PART_SIZE]
        except BaseException:
            self.abort()
            raise

    def commit(self) -> int:
        self._check_open()
        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer)
                )
            else:
                self._send_part(bytes(self._buffer))
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        self._open = False
        self._buffer = bytearray()
        return self._size

    def abort(self) -> None:
        self._open = False
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=upload_id
                )
            except ClientError:  # best effort: a lifecycle rule reaps what is left
                pass


class S3ArtifactRepository(ArtifactRepository):
    """Artifacts as objects under ``prefix`` in ``bucket``; keys are ``prefix/path``."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        if not bucket:
            raise CairnError.invalid("An S3 artifact location needs a bucket name")
        self.bucket = bucket
        self.prefix = clean_path(prefix.strip("/"), allow_root=True)
        self.client = client
        self.root_uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @classmethod
    def from_uri(cls, uri: str, env: Mapping[str, str] | None = None) -> S3ArtifactRepository:
        """The repository for ``s3://bucket[/prefix]``, its client configured from ``env``
        (default: the process environment)."""
        parts = urlsplit(uri)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise CairnError.invalid(f"'{uri}' is not an s3://bucket/prefix URI")
        return cls(parts.netloc, parts.path, make_s3_client(env))

    def _key(self, path: str, *, allow_root: bool = False) -> str:
        return join(self.prefix, clean_path(path, allow_root=allow_root))

    def _missing(self, exc: ClientError) -> bool:
        return _code(exc) in _MISSING

    # -- files
    def open_write(self, path: str) -> ArtifactWriter:
        return S3ArtifactWriter(self.client, self.bucket, self._key(path))

    def stat(self, path: str) -> FileInfo | None:
        rel = clean_path(path, allow_root=True)
        if not rel:
            return FileInfo("", True)
        key, name = self._key(rel), rel.rsplit("/", 1)[-1]
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not self._missing(exc):
                raise
        else:
            return FileInfo(name, False, int(head["ContentLength"]))
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{key}/", MaxKeys=1)
        return FileInfo(name, True) if listing.get("KeyCount", 0) else None

    def read(self, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        rel = clean_path(path)
        if start < 0 or (end is not None and end < start):
            raise range_error(rel, start, end)
        ranged = not (start == 0 and end is None)
        extra = {"Range": f"bytes={start}-{'' if end is None else end}"} if ranged else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(rel), **extra)
        except ClientError as exc:
            if self._missing(exc):
                raise CairnError.not_found(f"Artifact '{rel}' not found") from None
            if _code(exc) == "InvalidRange":
                raise range_error(rel, start, end) from None
            raise
        body = response["Body"]
        try:
            length = check_range(rel, start, end, _total_size(response))
        except BaseException:
            body.close()
            raise
        # a server that ignored Range sent the whole object: cut the window out ourselves
        skip = start if ranged and not response.get("ContentRange") else 0
        return _stream(body, skip, length)

    def listdir(self, path: str) -> list[FileInfo]:
        base = self._key(path, allow_root=True)
        prefix = f"{base}/" if base else ""
        paginator = self.client.get_paginator("list_objects_v2")
        infos: list[FileInfo] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = str(common["Prefix"])[len(prefix) :].rstrip("/")
                if name:
                    infos.append(FileInfo(name, True))
            for obj in page.get("Contents", []):
                name = str(obj["Key"])[len(prefix) :]
                if name:
                    infos.append(FileInfo(name, False, int(obj["Size"])))
        return sorted(infos, key=lambda i: i.path)

    def delete(self, path: str) -> int:
        key = self._key(path)
        removed = 0
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not self._missing(exc):
                raise
        else:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            removed = 1
        for _ in range(_MAX_DELETE_ROUNDS):  # list the first page again until it is empty
            listing = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=f"{key}/", MaxKeys=_DELETE_BATCH
            )
            keys = [str(obj["Key"]) for obj in listing.get("Contents", [])]
            if not keys:
                break
            self._delete_batch(keys)
            removed += sum(1 for k in keys if not k.endswith("/"))  # not folder markers
        return removed

    def _delete_batch(self, keys: list[str]) -> None:
        answer = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise CairnError(
                f"Could not delete '{first.get('Key')}': {first.get('Message')}",
                ErrorCode.INTERNAL_ERROR,
            )

    # -- multipart, straight onto S3's own
    def create_multipart(self, path: str) -> str:
        created = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(path))
        return str(created["UploadId"])

    def upload_part(
        self, path: str, upload_id: str, part_number: int, body: Iterator[bytes]
    ) -> str:
        check_part_number(part_number)
        key = self._key(path)
        with SpooledTemporaryFile(max_size=PART_SIZE) as spool:
            size = 0
            for chunk in body:
                size += len(chunk)
                if size > MAX_PART_SIZE:
                    raise CairnError(
                        f"A part may hold at most {MAX_PART_SIZE} bytes",
                        ErrorCode.REQUEST_LIMIT_EXCEEDED,
                    )
                spool.write(chunk)
            spool.seek(0)
            with _upload_errors(upload_id):
                sent = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part_number,
                    Body=spool,
                    ContentLength=size,
                )
        return str(sent["ETag"])

    def complete_multipart(self, path: str, upload_id: str, parts: list[PartInfo]) -> None:
        ordered = check_parts(parts)
        listed = [{"PartNumber": p.part_number, "ETag": quote_etag(p.etag)} for p in ordered]
        with _upload_errors(upload_id):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(path),
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )

    def abort_multipart(self, path: str, upload_id: str) -> None:
        with _upload_errors(upload_id):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(path), UploadId=upload_id
            )
