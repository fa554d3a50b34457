"""The whole browser flow of tests/test_e2e.py on the production path: MariaDB, EXECUTOR=rq
and two RQ workers (`python -m core worker`), the app only enqueueing.

It doubles the slowest test of the suite, so it runs when DQ_E2E_PRODUCTION=1 (and Redis and
MariaDB answer); CI runs the RQ path through tests/test_rq_workers.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from core.settings import PROJECT_ROOT
from tests.app_server import streamlit_app
from tests.conftest import _empty_tables
from tests.test_e2e import new_page, pytestmark, test_the_whole_flow  # noqa: F401  (collected here too)
from tests.test_rq_workers import REDIS_URL, _redis_available

if not os.environ.get("DQ_E2E_PRODUCTION"):
    pytestmark = [*pytestmark, pytest.mark.skip(reason="set DQ_E2E_PRODUCTION=1 to run")]


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
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
