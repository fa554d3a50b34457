"""The REST Task API: a FastAPI app mounted under /api/v1 by `app.py`, calling the same core
services as the pages. See `api.factory.build_api`."""

from api.factory import API_PREFIX, build_api

__all__ = ["API_PREFIX", "build_api"]
