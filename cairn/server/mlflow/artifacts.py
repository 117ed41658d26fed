"""The proxied artifact API (``/api/2.0/mlflow-artifacts``), the run artifact listing and the
UI download route. Bodies stream both ways; no file is ever held in memory whole.

Every route here goes through :class:`ArtifactGuard`: a request whose path (decoded or raw)
or any query value names a ``..`` segment in any encoding is refused with a 400 before its
handler runs (``X-Content-Type-Options: nosniff`` on every answer is the request guard's,
:mod:`cairn.server.guard`). Downloads of
content a browser would run (HTML, SVG, XML, JavaScript) are sent as attachments under
``Content-Security-Policy: sandbox``."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import queue
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import parse_qsl, quote

from pydantic import BaseModel, ConfigDict
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn.access import policy as p
from cairn.access.policy import NEED_ATTRIBUTE, need_of, requires
from cairn.artifacts.base import ArtifactRepository, ArtifactWriter, FileInfo, PartInfo
from cairn.artifacts.paths import clean_path, refuse_traversal
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError, ErrorCode
from cairn.entities.tracking import Run
from cairn.server.mlflow.messages import Int64
from cairn.server.state import artifacts, logged_models, registry, tracking
from cairn.server.wire import Json, json_response

READ, EDIT, MANAGE = Permission.READ, Permission.EDIT, Permission.MANAGE
ARTIFACTS = "/api/2.0/mlflow-artifacts"
FLUSH_BYTES = 1024 * 1024
MAX_PARTS = 10_000
INVALID_PATH = "Invalid path"
"""MLflow's whole message for a path that leaves the artifact root on its UI routes."""
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

# what a browser may run script in when it opens the file: sent as an attachment, sandboxed
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".js", ".mjs", ".xml", ".xsl"}
)
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/xml",
        "text/xml",
        "text/xsl",
        "application/xslt+xml",
    }
)


class ArtifactGuard:
    """One gate in front of every artifact route: refuses ``..`` in any encoding in the
    request's decoded path, its raw path and each query value (400, the one error shape)
    before the handler runs.

    ``terse``: the routes MLflow's web UI defines (``/get-artifact``, ``artifacts/list``,
    ``upload-artifact``, ``model-versions/get-artifact``) answer MLflow's exact message,
    ``Invalid path``, which its clients and tests compare whole; the proxy keeps Cairn's."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]], terse: bool = False):
        self.handler = handler
        self.terse = terse
        self.app: ASGIApp = request_response(self._checked)

    async def _checked(self, request: Request) -> Response:
        try:
            refuse_traversal_in(request.scope)
        except CairnError as exc:
            if not self.terse:
                raise
            raise CairnError.invalid(INVALID_PATH) from exc
        return await self.handler(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def refuse_traversal_in(scope: Scope) -> None:
    """400 if the request names ``..`` anywhere a path can hide: the decoded path Starlette
    routes on, the raw bytes as sent (``%2e%2e``, ``%252e``, ``%2f``, ``%5c``) and every
    query value (``?path=``), each percent-decoded until nothing changes."""
    refuse_traversal(scope["path"], "artifact request path")
    raw = scope.get("raw_path")
    if raw:
        refuse_traversal(raw.decode("latin-1"), "artifact request path")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        refuse_traversal(value, f"value for parameter '{name}'")


class LargeFileResponse(FileResponse):
    """Starlette's FileResponse (ranges, Content-Length) reading 1 MiB per thread hop."""

    chunk_size = 1024 * 1024


def _repo(request: Request) -> ArtifactRepository:
    return artifacts(request).repo


def _path(request: Request) -> str:
    return clean_path(request.path_params.get("path", ""))


def _media_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def is_active(path: str, media_type: str) -> bool:
    """True for a file a browser would render as a document able to run script."""
    name = path.rsplit("/", 1)[-1].lower()
    suffix = name[name.rfind(".") :] if "." in name else ""
    kind = media_type.split(";", 1)[0].strip().lower()
    return suffix in ACTIVE_SUFFIXES or kind in ACTIVE_TYPES or kind.endswith("+xml")


def content_disposition(path: str) -> str:
    """``attachment`` naming the file (RFC 6266): a plain ASCII ``filename`` always, and
    ``filename*`` (RFC 5987, UTF-8) when the name is not plain ASCII or holds ``"``, ``\\``
    or ``%`` (which the fallback replaces, so no browser unescapes anything in it)."""
    name = path.rsplit("/", 1)[-1] or "artifact"
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def download_headers(path: str, media_type: str) -> dict[str, str]:
    """The safety headers of a download: active content goes as an attachment under
    ``Content-Security-Policy: sandbox`` (no script, opaque origin); ``nosniff`` on every
    answer is the request guard's."""
    headers: dict[str, str] = {}
    if is_active(path, media_type):
        headers["Content-Disposition"] = content_disposition(path)
        headers["Content-Security-Policy"] = "sandbox"
    return headers


async def _pieces(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    """The request body in pieces of at least 1 MiB (the last may be shorter), refused with
    413 as soon as it passes ``limit`` bytes (0: no limit)."""
    buffer = bytearray()
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if limit and total > limit:
            raise CairnError(
                f"Artifact {what} is larger than the limit of {limit} bytes",
                ErrorCode.REQUEST_LIMIT_EXCEEDED,
            )
        buffer += chunk
        if len(buffer) >= FLUSH_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def _stream_into(request: Request, writer: ArtifactWriter, limit: int) -> int:
    """Copy the request body into ``writer``; abort it on any failure."""
    try:
        async for piece in _pieces(request, limit, "upload"):
            await run_in_threadpool(writer.write, piece)
        return await run_in_threadpool(writer.commit)
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise


@requires(p.artifact(EDIT))
async def upload(request: Request) -> Response:
    path = _path(request)
    service = artifacts(request)
    writer = await run_in_threadpool(service.repo.open_write, path)
    try:
        size = await _stream_into(request, writer, service.max_bytes)
    except ClientDisconnect:
        return Response(status_code=499)
    await service.written(path, size)
    return json_response({})


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start > end or start >= size:
        raise CairnError(
            f"Requested range {header!r} is not satisfiable for {size} bytes",
            ErrorCode.RANGE_NOT_SATISFIABLE,
        )
    return start, end


async def download_path(request: Request, path: str) -> Response:
    repo = _repo(request)
    info = await run_in_threadpool(repo.stat, path)
    if info is None or info.is_dir:
        raise CairnError.not_found(f"Artifact '{path}' not found")
    media_type = _media_type(path)
    headers = download_headers(path, media_type)
    local = repo.local_path(path)
    if local is not None:
        return LargeFileResponse(local, media_type=media_type, headers=headers, filename=None)
    size = info.file_size or 0
    headers["Accept-Ranges"] = "bytes"
    span = None
    if "range" in request.headers:
        span = _parse_range(request.headers["range"], size)  # 416 RANGE_NOT_SATISFIABLE
    start, end = span if span else (0, size - 1)
    headers["Content-Length"] = str(max(0, end - start + 1))
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    body: Iterator[bytes] = repo.read(path, start, end) if size else iter(())
    return StreamingResponse(
        iterate_in_threadpool(body),
        status_code=206 if span else 200,
        media_type=media_type,
        headers=headers,
    )


@requires(p.artifact(READ))
async def download(request: Request) -> Response:
    return await download_path(request, _path(request))


def _files_json(files: list[FileInfo]) -> Json:
    if not files:
        return {}
    out = []
    for f in files:
        item: Json = {"path": f.path, "is_dir": f.is_dir}
        if not f.is_dir and f.file_size is not None:
            item["file_size"] = f.file_size
        out.append(item)
    return {"files": out}


@requires(p.artifact(READ))
async def list_artifacts(request: Request) -> Response:
    path = clean_path(request.query_params.get("path", ""), allow_root=True)
    files = await run_in_threadpool(_repo(request).listdir, path)
    return json_response(_files_json(files))


@requires(p.artifact(MANAGE))
async def delete(request: Request) -> Response:
    path, service = _path(request), artifacts(request)
    files = await run_in_threadpool(service.repo.delete, path)
    await service.deleted(path, files)
    return json_response({})


class _CreateMpu(BaseModel):
    model_config = ConfigDict(extra="ignore")
    path: str | None = None
    num_parts: Int64 = 1


class _PartIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    part_number: Int64
    etag: str | None = None
    url: str | None = None


class _CompleteMpu(BaseModel):
    model_config = ConfigDict(extra="ignore")
    upload_id: str
    parts: list[_PartIn] = []


class _AbortMpu(BaseModel):
    model_config = ConfigDict(extra="ignore")
    upload_id: str


def _target(request: Request, local_file: str | None) -> str:
    """``mpu/create/<dir>`` names the directory; the file name is the client's file's name."""
    directory = clean_path(request.path_params.get("path", ""), allow_root=True)
    name = clean_path((local_file or "").replace("\\", "/").rsplit("/", 1)[-1])
    return f"{directory}/{name}" if directory else name


@requires(p.artifact(EDIT))
async def mpu_create(request: Request) -> Response:
    msg = _CreateMpu.model_validate_json(await request.body() or b"{}")
    if not 1 <= msg.num_parts <= MAX_PARTS:
        raise CairnError.invalid(f"num_parts must be between 1 and {MAX_PARTS}")
    target = _target(request, msg.path)
    upload_id = await run_in_threadpool(_repo(request).create_multipart, target)
    # the configured public address (--public-url), else this request's; the path escaped,
    # so a file named "a#b.bin", "a?b.bin" or "a%2fb.bin" comes back to this upload
    base = request.app.state.settings.public_url or str(request.base_url).rstrip("/")
    escaped = quote(target, safe="/")
    credentials = [
        {
            "url": f"{base}{ARTIFACTS}/mpu/part/{quote(upload_id, safe='')}/{n}/{escaped}",
            "part_number": n,
            "headers": {},
        }
        for n in range(1, msg.num_parts + 1)
    ]
    return json_response({"upload_id": upload_id, "credentials": credentials})


@requires(p.artifact(EDIT))
async def mpu_part(request: Request) -> Response:
    path = _path(request)
    upload_id = request.path_params["upload_id"]
    part_number = int(request.path_params["part_number"])
    if not 1 <= part_number <= MAX_PARTS:
        raise CairnError.invalid(f"part_number must be between 1 and {MAX_PARTS}")
    limit = artifacts(request).max_bytes
    etag = await _stream_part(request, _repo(request), path, upload_id, part_number, limit)
    return Response(status_code=200, headers={"ETag": etag})


class _ConsumerGone(Exception):
    pass


async def _stream_part(
    request: Request,
    repo: ArtifactRepository,
    path: str,
    upload_id: str,
    part_number: int,
    limit: int,
) -> str:
    """Bridge the async request body to the repository's blocking part upload through a
    small queue: at most a few MiB are in flight whatever the part's size."""
    handoff: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def pieces() -> Iterator[bytes]:
        for _ in range(10**9):
            item = handoff.get()
            if item is None:
                return
            yield item

    loop = asyncio.get_running_loop()
    task = loop.run_in_executor(None, repo.upload_part, path, upload_id, part_number, pieces())

    def feed(item: bytes | None) -> None:
        for _ in range(10**9):
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                if task.done():
                    raise _ConsumerGone from None

    try:
        async for piece in _pieces(request, limit, "part"):
            await run_in_threadpool(feed, piece)
        await run_in_threadpool(feed, None)
    except _ConsumerGone:
        pass  # the upload failed; its error is raised below
    except BaseException:
        if not task.done():
            with contextlib.suppress(_ConsumerGone):
                await run_in_threadpool(feed, None)
        with contextlib.suppress(Exception):
            await task
        raise
    return await task


@requires(p.artifact(EDIT))
async def mpu_complete(request: Request) -> Response:
    msg = _CompleteMpu.model_validate_json(await request.body() or b"{}")
    target = _target_from_body(request, await request.body())
    parts = [PartInfo(p.part_number, p.etag or "") for p in msg.parts]
    service = artifacts(request)
    await run_in_threadpool(service.repo.complete_multipart, target, msg.upload_id, parts)
    info = await run_in_threadpool(service.repo.stat, target)
    await service.written(target, (info.file_size or 0) if info is not None else 0)
    return json_response({})


@requires(p.artifact(EDIT))
async def mpu_abort(request: Request) -> Response:
    msg = _AbortMpu.model_validate_json(await request.body() or b"{}")
    target = _target_from_body(request, await request.body())
    await run_in_threadpool(_repo(request).abort_multipart, target, msg.upload_id)
    return json_response({})


def _target_from_body(request: Request, body: bytes) -> str:
    return _target(request, _CreateMpu.model_validate_json(body or b"{}").path)


@requires(p.artifact(READ))
async def presigned(request: Request) -> Response:
    _path(request)  # a path out of the root is the caller's 400 before the 501
    raise CairnError(
        "Presigned downloads are not offered: download through the server instead",
        ErrorCode.NOT_IMPLEMENTED,
    )


async def _query_run(request: Request, name: str, other: str) -> Run:
    """The run the query names by ``name`` (or ``other``); 400 naming ``name`` without one."""
    run_id = request.query_params.get(name) or request.query_params.get(other)
    if not run_id:
        raise CairnError.invalid(f"Missing value for required parameter '{name}'.")
    return await run_in_threadpool(tracking(request).get_run, run_id)


@requires(p.run(READ))
async def run_artifacts_list(request: Request) -> Response:
    """GET /api/2.0/mlflow/artifacts/list?run_id=&path= (paths relative to the run root)."""
    run = await _query_run(request, "run_id", "run_uuid")
    return json_response(await list_run_files(request, run, request.query_params.get("path", "")))


async def list_run_files(request: Request, run: Run, path: str) -> Json:
    """MLflow's ListArtifacts answer for ``path`` inside ``run``'s artifacts (``artifacts/list``
    and GraphQL's ``mlflowListArtifacts``)."""
    service = artifacts(request)
    rel = _clean_terse(path, allow_root=True)
    files = await run_in_threadpool(service.repo.listdir, service.in_run(run.info, rel))
    out: Json = {"root_uri": run.info.artifact_uri}
    listed = _files_json(
        [FileInfo(f"{rel}/{f.path}" if rel else f.path, f.is_dir, f.file_size) for f in files]
    )
    out.update(listed)
    return out


@requires(p.run(READ, "run_uuid", "run_id"))
async def get_artifact(request: Request) -> Response:
    """GET /get-artifact?run_uuid=&path= (the web UI's download route)."""
    run = await _query_run(request, "run_uuid", "run_id")
    path = _clean_terse(request.query_params.get("path", ""))
    return await download_path(request, artifacts(request).in_run(run.info, path))


def _clean_terse(path: str, allow_root: bool = False) -> str:
    """:func:`clean_path` with MLflow's whole message, ``Invalid path``, on refusal."""
    try:
        return clean_path(path, allow_root=allow_root)
    except CairnError as exc:
        raise CairnError.invalid(INVALID_PATH) from exc


@requires(p.run(EDIT, "run_uuid", "run_id", required=False))
async def upload_artifact(request: Request) -> Response:
    """POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path= (the web UI's upload: the
    body is the file)."""
    run_id = request.query_params.get("run_uuid") or request.query_params.get("run_id")
    if not run_id:
        raise CairnError.invalid("Request must specify run_uuid.")
    raw = request.query_params.get("path", "")
    if not raw:
        raise CairnError.invalid("Request must specify path.")
    rel = _clean_terse(raw)
    empty = request.headers.get("content-length", "0") == "0"
    if empty and "transfer-encoding" not in request.headers:
        raise CairnError.invalid("Request must specify data.")
    run = await run_in_threadpool(tracking(request).get_run, run_id)
    service = artifacts(request)
    target = service.in_run(run.info, rel)
    writer = await run_in_threadpool(service.repo.open_write, target)
    try:
        size = await _stream_into(request, writer, service.max_bytes)
    except ClientDisconnect:
        return Response(status_code=499)
    await service.written(target, size)
    return json_response({})


@requires(p.model(READ, "name"))
async def model_version_artifact(request: Request) -> Response:
    """GET /model-versions/get-artifact?name=&version=&path= (the web UI's download of a
    registered model version's file)."""
    name = request.query_params.get("name")
    version = request.query_params.get("version")
    if not name or not version:
        missing = "name" if not name else "version"
        raise CairnError.invalid(f"Missing value for required parameter '{missing}'.")
    rel = _clean_terse(request.query_params.get("path", ""))
    uri = await run_in_threadpool(registry(request).download_uri, name, version)
    service = artifacts(request)
    base = service.repo_path_of(uri, f"model {name} version {version}")
    return await download_path(request, f"{base}/{rel}" if base else rel)


async def _logged_model_root(request: Request) -> str:
    model = await run_in_threadpool(logged_models(request).get, request.path_params["model_id"])
    return artifacts(request).repo_path_of(model.artifact_uri or "", f"model {model.model_id}")


@requires(p.logged_model(READ))
async def logged_model_directories(request: Request) -> Response:
    """GET /ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/directories
    ?artifact_directory_path= (a listing relative to the model's artifacts)."""
    root = await _logged_model_root(request)
    rel = clean_path(request.query_params.get("artifact_directory_path", ""), allow_root=True)
    files = await run_in_threadpool(_repo(request).listdir, f"{root}/{rel}" if rel else root)
    listed = [FileInfo(f"{rel}/{f.path}" if rel else f.path, f.is_dir, f.file_size) for f in files]
    return json_response(_files_json(listed))


@requires(p.logged_model(READ))
async def logged_model_file(request: Request) -> Response:
    """GET /ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files
    ?artifact_file_path= (one file of the model's artifacts)."""
    root = await _logged_model_root(request)
    raw = request.query_params.get("artifact_file_path", "")
    if not raw:
        raise CairnError.invalid("Missing value for required parameter 'artifact_file_path'.")
    return await download_path(request, f"{root}/{clean_path(raw)}")


TERSE = frozenset(
    {
        "/api/2.0/mlflow/artifacts/list",
        "/ajax-api/2.0/mlflow/artifacts/list",
        "/get-artifact",
        "/ajax-api/2.0/mlflow/get-artifact",
        "/ajax-api/2.0/mlflow/upload-artifact",
        "/model-versions/get-artifact",
        "//model-versions/get-artifact",
        "/ajax-api/2.0/mlflow/model-versions/get-artifact",
    }
)
"""The MLflow UI routes that refuse a bad path with MLflow's whole ``Invalid path``."""


def artifact_routes() -> list[Route]:
    """Every artifact route, each behind :class:`ArtifactGuard`."""
    routes = []
    for route in _routes():
        guard = ArtifactGuard(route.endpoint, terse=route.path in TERSE)
        setattr(guard, NEED_ATTRIBUTE, need_of(route.endpoint))
        routes.append(Route(route.path, guard, methods=route.methods, name=route.name))
    return routes


def _routes() -> list[Route]:
    return [
        Route(f"{ARTIFACTS}/artifacts", list_artifacts, methods=["GET"]),
        Route(f"{ARTIFACTS}/artifacts/{{path:path}}", upload, methods=["PUT"]),
        Route(f"{ARTIFACTS}/artifacts/{{path:path}}", download, methods=["GET"]),
        Route(f"{ARTIFACTS}/artifacts/{{path:path}}", delete, methods=["DELETE"]),
        Route(f"{ARTIFACTS}/mpu/create/{{path:path}}", mpu_create, methods=["POST"]),
        Route(f"{ARTIFACTS}/mpu/create", mpu_create, methods=["POST"]),
        Route(
            f"{ARTIFACTS}/mpu/part/{{upload_id}}/{{part_number:int}}/{{path:path}}",
            mpu_part,
            methods=["PUT"],
        ),
        Route(f"{ARTIFACTS}/mpu/complete/{{path:path}}", mpu_complete, methods=["POST"]),
        Route(f"{ARTIFACTS}/mpu/complete", mpu_complete, methods=["POST"]),
        Route(f"{ARTIFACTS}/mpu/abort/{{path:path}}", mpu_abort, methods=["POST"]),
        Route(f"{ARTIFACTS}/mpu/abort", mpu_abort, methods=["POST"]),
        Route(f"{ARTIFACTS}/presigned/{{path:path}}", presigned, methods=["GET"]),
        Route("/api/2.0/mlflow/artifacts/list", run_artifacts_list, methods=["GET"]),
        Route("/ajax-api/2.0/mlflow/artifacts/list", run_artifacts_list, methods=["GET"]),
        Route("/get-artifact", get_artifact, methods=["GET"]),
        Route("/ajax-api/2.0/mlflow/get-artifact", get_artifact, methods=["GET"]),
        Route("/ajax-api/2.0/mlflow/upload-artifact", upload_artifact, methods=["POST"]),
        Route("/model-versions/get-artifact", model_version_artifact, methods=["GET"]),
        # the UI builds this one as base + "/" + path; MLflow's server merges the slashes
        Route("//model-versions/get-artifact", model_version_artifact, methods=["GET"]),
        Route(
            "/ajax-api/2.0/mlflow/model-versions/get-artifact",
            model_version_artifact,
            methods=["GET"],
        ),
        Route(
            "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/directories",
            logged_model_directories,
            methods=["GET"],
        ),
        Route(
            "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
            logged_model_file,
            methods=["GET"],
        ),
    ]
