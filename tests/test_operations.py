"""Operations: the settings check, structured transition logs, health checks, and the MariaDB
connection pool (pre-ping, recycle, UTC sessions)."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import select, text

from core import users
from core.errors import ConfigurationError, DQError
from core.health import check_health
from core.logs import JsonFormatter
from core.services import Services, build_services, get_services
from core.settings import PROJECT_ROOT, get_settings, load_settings
from core.states import Status, transition
from db.models import Task
from db.session import MYSQL_POOL_RECYCLE_SECONDS, make_engine, session_scope
from tests.conftest import MARIADB_HOST, MARIADB_PORT, make_settings

CSV = "id,name\n1,Ann\n2,Bob\n"
CLOSED_REDIS = "redis://127.0.0.1:9/0"  # nothing listens on the discard port


# ---- the settings check ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EXECUTOR": "rq"}, "REDIS_URL"),
        ({"EXECUTOR": "rq", "REDIS_URL": "  "}, "REDIS_URL"),
        ({"EXECUTOR": "rq", "REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"EXECUTOR": "rq", "REDIS_URL": "redis://cache:6379/0", "RQ_QUEUE": "two words"}, "RQ_QUEUE"),
    ],
)
def test_queue_settings_are_checked_and_named(tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({"DATA_DIR": str(tmp_path), **env})
    assert named in info.value.message and info.value.code == "CONFIGURATION_ERROR"


def test_rq_settings(tmp_path: Path) -> None:
    url = "redis://cache:6379/2"
    settings = load_settings({"DATA_DIR": str(tmp_path), "EXECUTOR": "RQ", "REDIS_URL": url})
    assert (settings.executor, settings.redis_url, settings.rq_queue) == ("rq", url, "dq-tasks")
    assert load_settings({"DATA_DIR": str(tmp_path)}).executor == "process"


# ---- structured logs ---------------------------------------------------------------------------
@pytest.fixture
def transition_lines() -> Iterator[io.StringIO]:
    """What the `dq.tasks` logger writes, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dq.tasks")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _events(stream: io.StringIO, task_id: str) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["event"] == "task_transition" and line["task_id"] == task_id]


def test_every_transition_is_one_json_line(services: Services, transition_lines: io.StringIO) -> None:
    user = users.create_user(services.factory, "ann", "password123", credits=100)
    task = services.tasks.create_task(
        user.id, "profile-my-data", ["types"], None, {"primary": {"filename": "a.csv", "size_bytes": 20}}
    )
    upload = services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
    services.store.write(upload["key"], CSV.encode(), "text/csv")
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.worker("w").run_once() == task["task_id"]

    events = _events(transition_lines, task["task_id"])
    assert [(e["from"], e["to"]) for e in events] == [
        ("created", "uploading"),
        ("uploading", "queued"),
        ("queued", "processing"),
        ("processing", "completed"),
    ]
    for event in events:
        assert event["user_id"] == user.id and event["tool"] == "profile-my-data"
        assert event["level"] == "INFO" and event["error_code"] is None
        assert isinstance(event["seconds_in_previous"], float) and 0 <= event["seconds_in_previous"] < 300
        assert datetime.fromisoformat(event["time"]).tzinfo is not None


def test_a_failure_logs_its_error_code(services: Services, transition_lines: io.StringIO) -> None:
    user = users.create_user(services.factory, "ann", "password123", credits=100)
    task = services.tasks.create_task(
        user.id, "profile-my-data", None, None, {"primary": {"filename": "a.csv", "size_bytes": 20}}
    )
    services.tasks.issue_upload_urls(user.id, task["task_id"])
    with pytest.raises(DQError):
        services.tasks.start_processing(user.id, task["task_id"])  # nothing was uploaded
    last = _events(transition_lines, task["task_id"])[-1]
    assert (last["to"], last["error_code"]) == ("upload_failed", "FILES_NOT_FOUND")


def test_a_transition_rolled_back_is_not_logged(services: Services, transition_lines: io.StringIO) -> None:
    user = users.create_user(services.factory, "ann", "password123", credits=100)
    task = services.tasks.create_task(
        user.id, "profile-my-data", None, None, {"primary": {"filename": "a.csv", "size_bytes": 20}}
    )
    with pytest.raises(RuntimeError), session_scope(services.factory) as session:
        transition(session, session.get(Task, task["task_id"]), Status.CANCELLED)
        raise RuntimeError("the unit of work fails after the status change")
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "created"
    assert _events(transition_lines, task["task_id"]) == []


# ---- health -----------------------------------------------------------------------------------
def test_health_of_the_embedded_default(services: Services) -> None:
    health = check_health(services)
    assert health["status"] == "ok" and health["failing"] == []
    assert set(health["checks"]) == {"database", "storage", "queue"}
    assert health["checks"]["queue"]["executor"] == "process"


def test_health_names_an_unreachable_queue(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path / "data", db_url, EXECUTOR="rq", REDIS_URL=CLOSED_REDIS)
    health = check_health(build_services(settings, migrate=False))
    assert health["status"] == "failing" and health["failing"] == ["queue"]
    assert "Redis" in health["checks"]["queue"]["error"]


def test_health_names_an_unreachable_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", "mysql+pymysql://root:@127.0.0.1:9/nothing")
    health = check_health(build_services(settings, migrate=False))
    assert health["failing"] == ["database"] and health["checks"]["database"]["error"]


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """app.py imported as Streamlit imports it, for the given environment."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    get_services.cache_clear()
    sys.modules.pop("app", None)
    yield lambda: importlib.import_module("app")
    sys.modules.pop("app", None)
    get_settings.cache_clear()
    get_services.cache_clear()


def _get_healthz(module) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    """GET /healthz on the route app.py gives st.App."""
    route = next(r for r in module._routes() if getattr(r, "path", "") == "/healthz")
    assert route.methods >= {"GET"}
    response = route.endpoint(None)
    return response.status_code, json.loads(response.body)


def test_healthz_answers_200_when_all_parts_answer(app_module) -> None:  # type: ignore[no-untyped-def]
    status, body = _get_healthz(app_module())
    assert status == 200 and body["status"] == "ok"


def test_healthz_answers_503_naming_the_failing_part(app_module, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EXECUTOR", "rq")
    monkeypatch.setenv("REDIS_URL", CLOSED_REDIS)
    status, body = _get_healthz(app_module())
    assert status == 503
    assert body["failing"] == ["queue"] and body["checks"]["database"]["ok"]


def test_check_command(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DATABASE_URL", None)
    ok = subprocess.run(
        [sys.executable, "-m", "core", "check"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["status"] == "ok"
    wrong = subprocess.run(
        [sys.executable, "-m", "core", "check"],
        env={**env, "EXECUTOR": "rq"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and "REDIS_URL" in wrong.stderr


# ---- the database: pooling and UTC ----------------------------------------------------------
def test_mariadb_pool_replaces_a_connection_the_server_dropped(mariadb_url: str) -> None:
    engine = make_engine(mariadb_url)
    try:
        assert engine.pool._pre_ping and engine.pool._recycle == MYSQL_POOL_RECYCLE_SECONDS
        with engine.connect() as conn:
            first = conn.execute(text("SELECT CONNECTION_ID()")).scalar()
            assert conn.execute(text("SELECT @@session.time_zone")).scalar() == "+00:00"
        killer = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="")
        try:
            killer.cursor().execute(f"KILL CONNECTION {int(first)}")  # as a server restart would
        finally:
            killer.close()
        with engine.connect() as conn:  # the pre-ping notices and opens a fresh connection
            assert conn.execute(text("SELECT CONNECTION_ID()")).scalar() != first
    finally:
        engine.dispose()


def test_timestamps_are_utc(services: Services) -> None:
    user = users.create_user(services.factory, "ann", "password123", credits=1)
    task = services.tasks.create_task(
        user.id, "profile-my-data", ["types"], None, {"primary": {"filename": "a.csv", "size_bytes": 20}}
    )
    with session_scope(services.factory) as session:
        created = session.get(Task, task["task_id"]).created_at
        server_now = session.execute(text("SELECT CURRENT_TIMESTAMP")).scalar()
    now = datetime.now(UTC).replace(tzinfo=None)
    assert abs((now - created).total_seconds()) < 60
    if isinstance(server_now, datetime):  # MariaDB: the session clock is UTC too
        assert abs((now - server_now).total_seconds()) < 60


# ---- claiming ----------------------------------------------------------------------------------
def test_concurrent_workers_claim_each_task_once(services: Services) -> None:
    """Eight workers polling at once (threads, each with its own connections) share ten tasks
    between them without a task being claimed twice."""
    user = users.create_user(services.factory, "ann", "password123", credits=100)
    queued = []
    for n in range(10):
        files = {"primary": {"filename": f"{n}.csv", "size_bytes": 9}}
        task = services.tasks.create_task(user.id, "profile-my-data", ["types"], None, files)
        upload = services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
        services.store.write(upload["key"], CSV.encode(), "text/csv")
        services.tasks.start_processing(user.id, task["task_id"])
        queued.append(task["task_id"])

    def drain(n: int) -> list[str]:
        worker, claimed = services.worker(f"host:{1000 + n}"), []
        while (task_id := worker.claim_next()) is not None:
            claimed.append(task_id)
        return claimed

    with ThreadPoolExecutor(8) as pool:
        claims = [task_id for claimed in pool.map(drain, range(8)) for task_id in claimed]
    assert sorted(claims) == sorted(queued)
    with session_scope(services.factory) as session:
        assert {t.attempts for t in session.scalars(select(Task))} == {1}


def test_the_app_refuses_to_start_naming_a_missing_setting(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "EXECUTOR": "rq"}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    started = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2
    assert "The app cannot start: Setting REDIS_URL is required when EXECUTOR=rq" in started.stderr
