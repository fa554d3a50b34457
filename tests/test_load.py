"""Load, at a size CI can afford (bench/load_bench.py runs the full size and times it):

* ten users uploading and processing at the same time, then a hundred tasks queued at once,
  against a running app and its worker: every task completes, none is lost or run twice, the
  progress reads made meanwhile all answer, and every balance equals its ledger;
* the queries behind the task page and the task list use an index with 10,000 tasks in the
  table, on SQLite and on MariaDB (their speed is the benchmark's to measure, not a test's).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import event, func, select, text

from bench.load_bench import fill_tasks
from core import users
from core.services import Services
from db.models import CreditEntry, User
from db.session import engine_for, session_scope

AGENTS = ["types", "completeness"]  # two cheap agents: the load is on the engine, not the analysis
CONTENT = b"city,temp\nOslo,3.5\nLima,19\nPune,\nOslo,4\n"
START_CREDITS = 10_000
DEADLINE_SECONDS = 300


# ---- many users at once, through a running app --------------------------------------------
def _upload(services: Services, user_id: int) -> str:
    files = {"primary": {"filename": "t.csv", "size_bytes": len(CONTENT)}}
    task = services.tasks.create_task(user_id, "profile-my-data", AGENTS, None, files)
    upload = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    put = requests.put(upload["url"], data=CONTENT, headers=upload["headers"], timeout=60)
    assert put.status_code == 200, put.text
    return task["task_id"]


def _wait(services: Services, user_id: int, task_id: str, reads: list[float]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        began = time.perf_counter()
        task = services.tasks.get_task(user_id, task_id)
        reads.append(time.perf_counter() - began)
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not end within {DEADLINE_SECONDS} s")


@pytest.mark.slow
def test_ten_users_at_once_then_a_hundred_queued_tasks(app_services: Services) -> None:
    people = [
        users.create_user(app_services.factory, f"load{n}", "password123", credits=START_CREDITS)
        for n in range(10)
    ]
    reads: list[float] = []

    def one_user(user: users.UserView) -> dict[str, Any]:
        task_id = _upload(app_services, user.id)
        app_services.tasks.start_processing(user.id, task_id)
        return _wait(app_services, user.id, task_id, reads)

    with ThreadPoolExecutor(len(people)) as pool:
        together = list(pool.map(one_user, people))

    owners = [people[n % len(people)] for n in range(100)]
    queued = [(user, _upload(app_services, user.id)) for user in owners]
    for user, task_id in queued:  # a hundred tasks reach the queue in one burst
        app_services.tasks.start_processing(user.id, task_id)
    burst = [_wait(app_services, user.id, task_id, reads) for user, task_id in queued]

    tasks = together + burst
    assert [t["status"] for t in tasks] == ["completed"] * 110
    assert all(t["attempts"] == 1 for t in tasks), "a task ran more than once"
    assert len(reads) >= 110  # progress was read all along, and every read answered

    ids = [t["task_id"] for t in tasks]
    with session_scope(app_services.factory) as session:
        charges = session.execute(
            select(CreditEntry.task_id, CreditEntry.agent_id, func.count())
            .where(CreditEntry.task_id.in_(ids), CreditEntry.kind == "charge")
            .group_by(CreditEntry.task_id, CreditEntry.agent_id)
        ).all()
        assert len(charges) == len(ids) * len(AGENTS) and {c[2] for c in charges} == {1}
        for user in people:
            balance = session.scalar(select(User.credits).where(User.id == user.id))
            ledger = session.scalar(
                select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == user.id)
            )
            assert balance == ledger, user.username  # the grant plus every charge and refund
            assert balance < START_CREDITS


# ---- the task page's queries with 10,000 tasks -------------------------------------------
def captured_statements(services: Services, calls: Any) -> list[tuple[str, Any]]:
    """The SQL (and parameters) the task service sends while `calls` runs."""
    engine = services.factory.kw["bind"]
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "tasks" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        calls()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def plan(services: Services, statement: str, parameters: Any) -> str:
    engine = services.factory.kw["bind"]
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).mappings().all()
    if engine.dialect.name == "sqlite":
        return " | ".join(str(r["detail"]) for r in rows)
    return " | ".join(f"{r['table']}:{r['type']}:{r['key']}" for r in rows)


def test_the_task_page_and_list_queries_use_indexes(services: Services, db_url: str) -> None:
    owner, task_id = fill_tasks(db_url)[7]
    engine = engine_for(db_url)
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE TABLE tasks"))
    statements = captured_statements(
        services,
        lambda: (
            services.tasks.get_task(owner, task_id),
            services.tasks.list_tasks(owner),
            services.tasks.list_tasks(owner, status="failed", limit=10, offset=20),
        ),
    )
    assert len(statements) >= 3
    for statement, parameters in statements:
        described = plan(services, statement, parameters)
        if engine.dialect.name == "sqlite":
            assert "SCAN tasks" not in described and "USING" in described, (statement, described)
        else:
            assert ":ALL:" not in described and ":None" not in described, (statement, described)
