"""The API's error table: every code the product raises gets a deliberate status, and what the
endpoints do not expect becomes a 500 `INTERNAL_ERROR` without the traceback in the body."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from api.errors import STATUS_BY_CODE, install_error_handlers, status_for
from core.errors import DQError, InvalidStateError, NotFoundError, StorageError, ValidationError
from tests.storage_servers import listening_socket, serve_asgi


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("x", code="UNKNOWN_TOOL"), 422),
        (ValidationError("x", code="FILE_TOO_LARGE"), 413),
        (NotFoundError("x", code="TASK_NOT_FOUND"), 404),
        (InvalidStateError("x"), 409),
        (DQError("x", code="FILES_NOT_FOUND"), 409),
        (StorageError("x", code="STORAGE_UNAVAILABLE"), 503),
        (StorageError("x", code="DELETE_FAILED"), 502),
        (DQError("x", code="INVALID_TOKEN"), 401),
        (DQError("x", code="ACCOUNT_INACTIVE"), 403),
        (DQError("x", code="SOMETHING_NEW"), 400),
    ],
)
def test_status_is_derived_from_the_code_then_the_kind(error: DQError, status: int) -> None:
    assert status_for(error) == status


def test_every_mapped_status_is_an_error_status() -> None:
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())


def test_an_unexpected_exception_is_a_500_in_the_same_shape(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR), serve_asgi(app, listening_socket()) as base:
        answer = httpx.get(base + "/boom", timeout=10)
    assert answer.status_code == 500
    assert answer.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "Something went wrong on our side; the error was logged.",
    }
    assert "secret internals" not in answer.text
    assert "secret internals" in caplog.text  # the traceback went to the log
