"""Alembic owns the schema: upgrade and downgrade work on SQLite and on MariaDB, and the
migrated schema matches the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from db.migrate import current_tables, downgrade, upgrade
from db.models import Base
from db.session import make_engine
from tests.conftest import MARIADB_HOST, MARIADB_PORT


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("mariadb_url")  # fails in CI, skips elsewhere, when MariaDB is absent
    name = f"dq_mig_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True)
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql+pymysql://root:@{MARIADB_HOST}:{MARIADB_PORT}/{name}?charset=utf8mb4"
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    upgrade(empty_url)
    assert {"users", "tasks", "credit_ledger", "api_tokens", "alembic_version"} <= current_tables(empty_url)
    downgrade(empty_url, "0002")
    assert "api_tokens" not in current_tables(empty_url)
    upgrade(empty_url)
    assert "api_tokens" in current_tables(empty_url)
    downgrade(empty_url, "base")
    assert current_tables(empty_url) <= {"alembic_version"}
    upgrade(empty_url)
    assert {"users", "tasks", "credit_ledger"} <= current_tables(empty_url)


def test_migrated_schema_matches_the_models(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == []
            indexes = {i["name"] for i in inspect(conn).get_indexes("tasks")}
            assert {"ix_tasks_user_created", "ix_tasks_status_heartbeat"} <= indexes
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_the_start_up_check_reads_the_head_alembic_reads(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config, script_head

    url = f"sqlite:///{tmp_path / 'head.db'}"
    assert script_head() == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_the_start_up_check_upgrades_only_a_database_behind(empty_url: str) -> None:
    from db.migrate import script_head, stored_revisions, upgrade_if_behind

    assert stored_revisions(empty_url) is None  # a new database has no version table yet
    upgrade_if_behind(empty_url)
    assert stored_revisions(empty_url) == {script_head()}
    downgrade(empty_url, "0002")
    assert "api_tokens" not in current_tables(empty_url)
    upgrade_if_behind(empty_url)
    assert "api_tokens" in current_tables(empty_url)
    upgrade_if_behind(empty_url)  # at the head: nothing to do
    assert stored_revisions(empty_url) == {script_head()}
