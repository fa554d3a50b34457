"""One JSON shape for every error the API answers, its HTTP status derived from the stable code.

`{"error_code": "TASK_NOT_FOUND", "message": "Task not found.", ...details}`: the same
`DQError.to_dict()` the rest of the product uses, so a client branches on `error_code` and shows
`message`. The status is looked up by code (one table, below), then by the error's kind.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DQError, InvalidStateError, NotFoundError, StorageError, ValidationError

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[str, int] = {
    "AUTH_REQUIRED": 401,
    "INVALID_TOKEN": 401,
    "ACCOUNT_INACTIVE": 403,
    "INSUFFICIENT_CREDITS": 402,
    "TASK_NOT_FOUND": 404,
    "TOKEN_NOT_FOUND": 404,
    "OBJECT_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "INVALID_STATE": 409,
    "FILES_NOT_FOUND": 409,
    "FILE_TOO_LARGE": 413,
    "INVALID_REQUEST": 422,
    "STORAGE_ACCESS_DENIED": 502,
    "BUCKET_NOT_FOUND": 502,
    "STORAGE_ERROR": 502,
    "STORAGE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}
STATUS_BY_KIND: tuple[tuple[type[DQError], int], ...] = (
    (ValidationError, 422),
    (NotFoundError, 404),
    (InvalidStateError, 409),
    (StorageError, 502),
)
HTTP_CODES = {401: "AUTH_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class ErrorBody(BaseModel):
    """The error shape; extra fields carry details (e.g. `missing` file names, `errors`)."""

    model_config = ConfigDict(extra="allow")
    error_code: str
    message: str


def status_for(error: DQError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for kind, status in STATUS_BY_KIND:
        if isinstance(error, kind):
            return status
    return 400


def error_response(error: DQError, headers: dict[str, str] | None = None) -> JSONResponse:
    status = status_for(error)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(error.to_dict(), status_code=status, headers=headers)


async def _dq_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DQError)
    if status_for(error) >= 500:
        log.error("API request failed: %s %s", error.code, error.message)
    return error_response(error)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
            "message": e.get("msg"),
        }
        for e in error.errors()
    ]
    where = ", ".join(f"{p['field']}: {p['message']}" for p in problems[:3])
    return error_response(
        DQError(f"The request is not valid ({where}).", code="INVALID_REQUEST", errors=problems)
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_CODES.get(error.status_code, "INVALID_REQUEST")
    body = {"error_code": code, "message": str(error.detail)}
    return JSONResponse(body, status_code=error.status_code, headers=getattr(error, "headers", None))


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("API request failed unexpectedly", exc_info=error)
    return error_response(
        DQError("Something went wrong on our side; the error was logged.", code="INTERNAL_ERROR")
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DQError, _dq_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the error shape for `statuses`."""
    return {
        status: {"model": ErrorBody, "description": "An error with a stable error_code"}
        for status in statuses
    }
