"""Build the API app. `app.py` mounts it under `API_PREFIX` among `st.App`'s routes; tests serve
the same app with uvicorn, so what is tested is what runs."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from api.docs import install_docs
from api.errors import install_error_handlers
from api.routes import router
from core.api_client import API_PREFIX
from core.services import Services

__all__ = ["API_PREFIX", "build_api"]


def build_api(services: Callable[[], Services]) -> FastAPI:
    """The Task API over the services `services()` returns (called per request, built once)."""
    app = FastAPI(
        title="Data-quality workbench: Task API",
        version="1",
        description=(
            "Create a task, PUT its files to the presigned URLs, queue it, poll it, and download the "
            "outputs. Authenticate with a personal API token (Account page) as "
            "`Authorization: Bearer <token>`. Every error is `{error_code, message, ...}` with a "
            "stable `error_code`; another user's task answers 404 like a missing one."
        ),
        docs_url=None,  # FastAPI's pages load their assets from a CDN: `install_docs` serves them here
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    install_error_handlers(app)
    install_docs(app)
    app.include_router(router)
    return app
