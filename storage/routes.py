"""The HTTP side of `LocalObjectStore`: the signed URLs it hands out point at these routes.

They are plain Starlette routes, so the same list is given to Streamlit's `st.App(routes=...)`
in production and to a bare Starlette app in tests. Every request is checked against the URL's
signature before any byte is written or read, and an upload is streamed to a temp file and
published only when complete, so a rejected or broken request leaves nothing behind.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.errors import StorageError
from storage.local import LocalObjectStore, content_disposition

log = logging.getLogger(__name__)

OBJECT_PATH = "/storage/objects/{key:path}"
SIGNED_PARAMS = ("method", "expires", "sig", "ct", "filename")

STATUS_BY_CODE = {
    "SIGNATURE_INVALID": 403,
    "URL_EXPIRED": 403,
    "CONTENT_TYPE_MISMATCH": 403,
    "INVALID_KEY": 400,
    "INVALID_CONTENT_TYPE": 400,
    "INVALID_CONTENT_LENGTH": 400,
    "UPLOAD_INCOMPLETE": 400,
    "OBJECT_NOT_FOUND": 404,
    "KEY_CONFLICT": 409,
    "FILE_TOO_LARGE": 413,
}


def storage_routes(store: LocalObjectStore) -> list[Route]:
    """`PUT`, `GET`/`HEAD` and CORS `OPTIONS` on `/storage/objects/{key}` for `store`."""

    async def upload(request: Request) -> Response:
        try:
            return await _upload(store, request)
        except StorageError as error:
            return _error(request, error)
        except ClientDisconnect:
            log.info("upload of %s aborted by the client", request.path_params.get("key"))
            return _error(request, StorageError("The upload was interrupted.", code="UPLOAD_INCOMPLETE"))

    async def download(request: Request) -> Response:
        try:
            return _download(store, request)
        except StorageError as error:
            return _error(request, error)

    async def preflight(request: Request) -> Response:
        return Response(status_code=204, headers=_preflight_headers(request))

    return [
        Route(OBJECT_PATH, upload, methods=["PUT"], name="storage_upload"),
        Route(OBJECT_PATH, download, methods=["GET", "HEAD"], name="storage_download"),
        Route(OBJECT_PATH, preflight, methods=["OPTIONS"], name="storage_preflight"),
    ]


async def _upload(store: LocalObjectStore, request: Request) -> Response:
    """Signature, then Content-Type, then size, and only then the body, streamed."""
    key = request.path_params["key"]
    query = _signed_query(request)
    store.verify_signature("PUT", key, query)
    signed_type = query["ct"]
    if request.headers.get("content-type") != signed_type:
        raise StorageError(
            f"Send the header Content-Type: {signed_type} with this upload.", code="CONTENT_TYPE_MISMATCH"
        )
    info = await store.receive_upload(key, signed_type, request.stream(), _content_length(request))
    return JSONResponse({"key": info.key, "size": info.size}, headers=_cors_headers(request))


def _download(store: LocalObjectStore, request: Request) -> Response:
    """A HEAD is answered for a GET link too, so clients can check a download's size first."""
    key = request.path_params["key"]
    query = _signed_query(request)
    store.verify_signature("GET", key, query)
    path, st, info = store.stat_for_download(key)
    filename = query.get("filename") or key.rsplit("/", 1)[-1]
    headers = {
        "Content-Type": info.content_type,  # exactly as stored: no charset guessed for text types
        "Content-Disposition": content_disposition(filename),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        **_cors_headers(request),
    }
    return FileResponse(path, headers=headers, stat_result=st)


def _signed_query(request: Request) -> dict[str, str]:
    """The signed parameters, refusing duplicates so what we verify is what we use."""
    params = request.query_params
    if any(len(params.getlist(name)) > 1 for name in SIGNED_PARAMS):
        raise StorageError("This link is not valid for this request.", code="SIGNATURE_INVALID")
    return {name: params[name] for name in SIGNED_PARAMS if name in params}


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None  # chunked: the limit is then enforced while streaming
    if not raw.isdigit():
        raise StorageError("The Content-Length header is not a number.", code="INVALID_CONTENT_LENGTH")
    return int(raw)


def _error(request: Request, error: StorageError) -> JSONResponse:
    status = STATUS_BY_CODE.get(error.code, 500)
    if status >= 500:
        log.error("storage request %s %s failed: %s", request.method, request.url.path, error.code)
    body = {"error_code": error.code, "message": error.message}
    return JSONResponse(body, status_code=status, headers=_cors_headers(request))


def _cors_headers(request: Request) -> dict[str, str]:
    """Echo the caller's origin: access is governed by the URL's signature, not by the origin."""
    origin = request.headers.get("origin")
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Content-Disposition, Content-Length",
        "Vary": "Origin",
    }


def _preflight_headers(request: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": request.headers.get("origin") or "*",
        "Access-Control-Allow-Methods": "GET, HEAD, PUT, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }
