"""The production path end to end: MariaDB, EXECUTOR=rq and two RQ workers
(`python -m core worker`), the app only enqueueing. The whole browser flow of
tests/test_e2e.py runs against it, and so does the API flow (`python -m core run --api`,
uploading through the presigned URLs).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from core.settings import PROJECT_ROOT
from tests.app_server import streamlit_app
from tests.conftest import _empty_tables
from tests.test_e2e import new_page, pytestmark, test_the_whole_flow  # noqa: F401  (collected here too)
from tests.test_rq_workers import REDIS_URL, _redis_available, stop_processes


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory, mariadb_url: str) -> Iterator[str]:
    """The app on MariaDB with EXECUTOR=rq, and two RQ workers beside it."""
    if not _redis_available():
        pytest.skip("Redis is not reachable")
    _empty_tables(mariadb_url)
    data = tmp_path_factory.mktemp("e2e-prod") / "data"
    queue = f"dq-e2e-{uuid.uuid4().hex[:12]}"
    extra = {
        "DATABASE_URL": mariadb_url,
        "EXECUTOR": "rq",
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": queue,
        "COOKIE_KEY": "e2e-cookie-key",
        "SIGNING_SECRET": "e2e-signing-secret",
    }
    with streamlit_app(data, extra_env=extra) as (base, env):
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "core", "worker"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            yield base
        finally:
            stop_processes(workers)


def test_the_api_flow_on_the_production_path(app: str, mariadb_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A token made for a user of the production database drives `run --api`: the file goes
    to its presigned URL, an RQ worker processes the task, the downloads come back."""
    from core import tokens, users
    from db.session import session_factory
    from tests.test_cli_api import check_api_run

    factory = session_factory(mariadb_url)
    name = f"api{uuid.uuid4().hex[:6]}"
    user = users.create_user(factory, name, password_hash="$2b$12$" + "x" * 53, credits=100)
    token, _ = tokens.create_token(factory, user.id, "production flow")
    check_api_run(app, token, tmp_path)
