"""Shared fixtures: a migrated database on SQLite and on MariaDB, settings in a temporary data
folder, and the wired core services.

MariaDB tests run wherever the server on 127.0.0.1:3306 answers; in CI (CI=true) an absent
server is a failure, not a skip, so the MariaDB path is always exercised there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pymysql
import pytest
from sqlalchemy import text

from core.settings import Settings, load_settings
from db.migrate import upgrade
from db.session import engine_for

if TYPE_CHECKING:
    from core.services import Services

MARIADB_HOST = os.environ.get("TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("TEST_MARIADB_PORT", "3306"))
TABLES = ("api_tokens", "credit_ledger", "tasks", "users")


def _mariadb_available() -> bool:
    try:
        pymysql.connect(
            host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", connect_timeout=3
        ).close()
        return True
    except pymysql.err.OperationalError:
        return False


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A fresh, migrated MariaDB database for this test session, dropped at the end."""
    if not _mariadb_available():
        if os.environ.get("CI"):
            pytest.fail(f"MariaDB is not reachable on {MARIADB_HOST}:{MARIADB_PORT}; CI must test it.")
        pytest.skip("MariaDB is not reachable")
    name = f"dq_test_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    url = f"mysql+pymysql://root:@{MARIADB_HOST}:{MARIADB_PORT}/{name}?charset=utf8mb4"
    upgrade(url)
    try:
        yield url
    finally:
        engine_for(url).dispose()
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'app.db'}"
    upgrade(url)
    return url


def _empty_tables(url: str) -> None:
    engine = engine_for(url)
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses the database runs once on SQLite and once on MariaDB."""
    url = request.getfixturevalue(f"{request.param}_url")
    _empty_tables(url)
    return url


def make_settings(data_dir: Path, database_url: str, **extra: str) -> Settings:
    env = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SIGNING_SECRET": "test-signing-secret",
        "COOKIE_KEY": "test-cookie-key",
        "HEARTBEAT_SECONDS": "1",
        **extra,
    }
    return load_settings(env)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url)


@pytest.fixture
def services(settings: Settings) -> Services:
    from core.services import build_services  # imported late: it pulls in the whole engine

    return build_services(settings, migrate=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the test item, so fixtures can act on failure (screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a browser that Playwright downloads).

    Module-scoped: Playwright's sync API keeps an event loop on the main thread while it runs,
    which later tests that start their own loop must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def running_app(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str]]]:
    """`streamlit run app.py` on the embedded default with a data folder of its own, shared by
    the tests of one module: (base URL, environment)."""
    from tests.app_server import streamlit_app

    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "data"
    with streamlit_app(folder) as running:
        yield running


@pytest.fixture(scope="module")
def app_services(running_app: tuple[str, dict[str, str]]) -> Services:
    """The running app's services, to act as its users (its own worker runs the tasks)."""
    from tests.app_server import app_services as services_of

    return services_of(running_app[1])
