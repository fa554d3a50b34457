"""EXECUTOR=rq: RQ workers on the local Redis against the MariaDB database.

The integration test of the production path: two `python -m core worker` processes, 20 tasks
from 10 concurrent clients, one worker killed with SIGKILL in the middle of a task. Every task
must end completed or failed with a reason, none may run twice, and every user's balance must
equal their starting credits minus what the ledger charged (net of refunds). Around it: a job
delivered twice runs once, a job Redis lost is sent again, a broker that is down keeps the task
queued, and the tool's time limit fails a task with TIMEOUT.

Each test uses its own RQ queue name, so parallel test runs on the same Redis never meet.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import users
from core.registry import get_tool
from core.services import Services, build_services, get_services
from core.settings import PROJECT_ROOT, get_settings, load_settings
from core.states import TERMINAL
from db.models import CreditEntry, Task, User
from db.session import session_scope
from tests.conftest import _empty_tables

# RQ's job timeout is an alarm signal: a test that runs an RQ worker in its own process keeps
# pytest-timeout off that signal
IN_PROCESS_RQ = pytest.mark.timeout(120, method="thread")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_CREDITS = 200
POOR_CREDITS = 5  # fewer than one full profile: this user's second task runs out of credits
SMALL_CSV = (
    "id,name,email,amount,joined\n"
    + "".join(f"{i},Name {i},user{i}@example.com,{i * 1.5},2024-01-{i % 28 + 1:02d}\n" for i in range(1, 60))
    + "60,N/A,not-an-email,,2024-13-01\n"
)


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process still running (a worker finishes its step), then wait; kill what
    does not stop within 30 s."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _redis_available() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except RedisError:
        return False


@pytest.fixture(scope="module")
def redis_url() -> str:
    if not _redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; CI must test the RQ path.")
        pytest.skip("Redis is not reachable")
    return REDIS_URL


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    """A queue of this test's own; its keys are removed afterwards."""
    from redis import Redis

    name = f"dq-test-{uuid.uuid4().hex[:12]}"
    yield name
    redis = Redis.from_url(redis_url)
    keys = list(redis.scan_iter(match=f"*{name}*"))
    keys += [k for k in redis.scan_iter(match="rq:job:task-*") if redis.hget(k, "origin") == name.encode()]
    if keys:
        redis.delete(*keys)


def rq_env(data_dir: Path, database_url: str, redis_url: str, queue: str, **extra: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "EXECUTOR": "rq",
        "REDIS_URL": redis_url,
        "RQ_QUEUE": queue,
        "SIGNING_SECRET": "test-signing-secret",
        "COOKIE_KEY": "test-cookie-key",
        "HEARTBEAT_SECONDS": "1",
        "STALE_AFTER_SECONDS": "20",
        **extra,
    }


@pytest.fixture
def in_process(
    tmp_path: Path, db_url: str, queue_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """Services with EXECUTOR=rq that the jobs of an in-process RQ worker also use."""
    env = rq_env(tmp_path / "data", db_url, redis_url, queue_name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_services.cache_clear()
    yield get_services()
    get_settings.cache_clear()
    get_services.cache_clear()


def submit(services: Services, user_id: int, content: str, agents: list[str] | None = None) -> str:
    """What a client does: create, upload to the presigned key, start. Returns the task id."""
    data = content.encode()
    task = services.tasks.create_task(
        user_id, "profile-my-data", agents, None, {"primary": {"filename": "d.csv", "size_bytes": len(data)}}
    )
    upload = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    services.store.write(upload["key"], data, upload["headers"]["Content-Type"])
    services.tasks.start_processing(user_id, task["task_id"])
    return task["task_id"]


def burst(services: Services) -> None:
    """An RQ worker in this process that works until the test's queue is empty."""
    from core.rq_jobs import run_rq_worker

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_rq_worker(services, burst=True, log_level="WARNING")
    finally:  # RQ installs its own; give pytest's back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def ledger_net(services: Services, user_id: int) -> int:
    with session_scope(services.factory) as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
                    CreditEntry.user_id == user_id, CreditEntry.kind.in_(("charge", "refund"))
                )
            )
        )


def big_csv(rows: int) -> str:
    """A file that keeps a worker busy for a few seconds, so it can be killed in the middle."""
    rng = random.Random(7)
    cities = ["Oslo", "Lima", "Pune", "Kyiv", "Quito", "Perth"]
    lines = ["id,name,email,amount,city,joined"]
    for i in range(rows):
        lines.append(
            f"{i},Person {rng.randint(1, 5000)},p{rng.randint(1, 90000)}@example.com,"
            f"{rng.lognormvariate(3, 1):.2f},{rng.choice(cities)},2023-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}"
        )
    return "\n".join(lines) + "\n"


def transitions(log_path: Path) -> list[dict]:
    events = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the killed worker may leave half a line
            if record.get("event") == "task_transition":
                events.append(record)
    return events


# ---- the integration test -------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_workers_twenty_tasks_ten_clients_one_worker_killed(
    tmp_path: Path, mariadb_url: str, redis_url: str, queue_name: str
) -> None:
    _empty_tables(mariadb_url)
    env_vars = rq_env(tmp_path / "data", mariadb_url, redis_url, queue_name)
    services = build_services(load_settings(env_vars), migrate=False)
    process_env = {**os.environ, **env_vars, "PYTHONPATH": str(PROJECT_ROOT), "LOG_LEVEL": "INFO"}
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "core", "worker"],
            cwd=PROJECT_ROOT,
            env=process_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        accounts = [
            users.create_user(services.factory, f"client{n}", "password123", credits=START_CREDITS)
            for n in range(4)
        ] + [users.create_user(services.factory, "poor", "password123", credits=POOR_CREDITS)]
        big = big_csv(60_000)

        def client(n: int) -> list[str]:
            user = accounts[n % len(accounts)]
            first = submit(services, user.id, big if n == 0 else SMALL_CSV)
            second = submit(services, user.id, SMALL_CSV)
            if n % 2:  # a job delivered twice (as after a broker hiccup) must still run once
                services.tasks.executor.submit(second, "profile-my-data", 0)
            return [first, second]

        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(client, n) for n in range(10)]
            task_ids = [task_id for f in futures for task_id in f.result()]
        victim_task = task_ids[0]
        assert len(set(task_ids)) == 20

        # kill the worker that runs the big task while one of its agents is running
        deadline = time.monotonic() + 120
        victim = None
        while victim is None and time.monotonic() < deadline:
            with session_scope(services.factory) as session:
                task = session.get(Task, victim_task)
                if task.status == "processing" and task.current_agent and task.worker_id:
                    pid = int(task.worker_id.rpartition(":")[2])
                    victim = next(w for w in workers if w.pid == pid)
                assert task.status not in TERMINAL, "the big task finished before it could be interrupted"
            if victim is None:
                time.sleep(0.05)
        assert victim is not None, "the big task never started"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)  # reaped by us, so its pid is really gone
        survivor = next(w for w in workers if w is not victim)

        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            with session_scope(services.factory) as session:
                statuses = dict(
                    session.execute(select(Task.task_id, Task.status).where(Task.task_id.in_(task_ids))).all()
                )
            if all(s in TERMINAL for s in statuses.values()):
                break
            assert survivor.poll() is None, "the surviving worker died:\n" + logs[1].read_text()[-3000:]
            time.sleep(0.5)
        with session_scope(services.factory) as session:
            tasks = {t.task_id: t for t in session.scalars(select(Task).where(Task.task_id.in_(task_ids)))}
            for t in tasks.values():
                session.expunge(t)

        # every task ended, and a failed one says why
        assert {t.status for t in tasks.values()} <= {"completed", "failed"}, Counter(
            t.status for t in tasks.values()
        )
        for t in tasks.values():
            if t.status == "failed":
                assert t.error_code and t.error_message, t.task_id
        assert tasks[victim_task].status == "completed"  # re-queued once, then finished
        assert tasks[victim_task].attempts == 2
        poor_tasks = [t for t in tasks.values() if t.user_id == accounts[-1].id]
        assert any(t.error_code == "INSUFFICIENT_CREDITS" for t in poor_tasks)

        # none ran twice: one claim per task, except the killed one, claimed once by each worker
        events = [e for log in logs for e in transitions(log)]
        claims = Counter(e["task_id"] for e in events if e["to"] == "processing")
        assert claims[victim_task] == 2
        assert all(claims[t] == 1 for t in task_ids if t != victim_task), claims
        assert all(tasks[t].attempts == 1 for t in task_ids if t != victim_task)
        finishes = Counter(e["task_id"] for e in events if e["to"] in ("completed", "failed"))
        assert all(finishes[t] == 1 for t in task_ids), finishes

        # the credits: each agent of each task charged at most once, and balances add up
        with session_scope(services.factory) as session:
            charges = Counter(
                session.execute(
                    select(CreditEntry.task_id, CreditEntry.agent_id).where(CreditEntry.kind == "charge")
                ).all()
            )
            balances = dict(session.execute(select(User.id, User.credits)).all())
        assert charges and max(charges.values()) == 1
        for account in accounts:
            start = POOR_CREDITS if account.username == "poor" else START_CREDITS
            assert balances[account.id] == start + ledger_net(services, account.id), account.username
            assert balances[account.id] >= 0
        victim_charges = {agent for task_id, agent in charges if task_id == victim_task}
        assert victim_charges == set(get_tool("profile-my-data").default_agents())
    finally:
        stop_processes(workers)


# ---- the pieces, in one process ---------------------------------------------------------------
@IN_PROCESS_RQ
def test_a_job_delivered_twice_runs_the_task_once(in_process: Services) -> None:
    user = users.create_user(in_process.factory, "ann", "password123", credits=100)
    task_id = submit(in_process, user.id, SMALL_CSV, agents=["types", "completeness"])
    in_process.tasks.executor.submit(task_id, "profile-my-data", 0)  # the same job again
    assert in_process.tasks.executor.queue().count == 2
    burst(in_process)
    task = in_process.tasks.get_task(user.id, task_id)
    assert task["status"] == "completed" and task["attempts"] == 1
    assert users.get_user(in_process.factory, user.id).credits == 98
    assert in_process.tasks.executor.queue().count == 0


@IN_PROCESS_RQ
def test_a_job_the_broker_lost_is_sent_again_by_the_reaper(in_process: Services) -> None:
    user = users.create_user(in_process.factory, "ann", "password123", credits=100)
    task_id = submit(in_process, user.id, SMALL_CSV, agents=["types"])
    executor = in_process.tasks.executor
    executor.queue().empty()  # Redis restarted without persistence: the job is gone
    assert not executor.is_pending(task_id, 0)
    with session_scope(in_process.factory) as session:  # queued long enough to be suspicious
        session.get(Task, task_id).updated_at = session.get(Task, task_id).updated_at.replace(year=2020)
    in_process.worker("reaper").reap()
    assert executor.is_pending(task_id, 0) and executor.queue().count == 1
    burst(in_process)
    assert in_process.tasks.get_task(user.id, task_id)["status"] == "completed"


@IN_PROCESS_RQ
def test_a_killed_worker_s_task_is_requeued_with_a_new_job(in_process: Services) -> None:
    user = users.create_user(in_process.factory, "ann", "password123", credits=100)
    task_id = submit(in_process, user.id, SMALL_CSV, agents=["types"])
    in_process.tasks.executor.queue().empty()
    assert in_process.worker("gone-host:1").claim(task_id)  # claimed, then its machine vanished
    with session_scope(in_process.factory) as session:
        session.get(Task, task_id).heartbeat_at = session.get(Task, task_id).heartbeat_at.replace(year=2020)
    assert in_process.worker("reaper").reap() == [task_id]
    assert in_process.tasks.executor.is_pending(task_id, 1)  # attempt 2 has its own job
    burst(in_process)
    task = in_process.tasks.get_task(user.id, task_id)
    assert task["status"] == "completed" and task["attempts"] == 2


@IN_PROCESS_RQ
def test_the_tool_time_limit_fails_the_task_with_timeout(
    in_process: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.agents.profile.types import TypesAgent

    def endless(self, context):  # type: ignore[no-untyped-def]
        while True:  # an agent that would never finish on its own
            time.sleep(0.05)

    monkeypatch.setattr(TypesAgent, "run", endless)
    quick = replace(get_tool("profile-my-data"), job_timeout_seconds=1)
    monkeypatch.setattr("core.executors.get_tool", lambda _tool_id: quick)
    monkeypatch.setattr("core.runner.get_tool", lambda _tool_id: quick)
    user = users.create_user(in_process.factory, "ann", "password123", credits=100)
    task_id = submit(in_process, user.id, SMALL_CSV, agents=["types", "completeness"])
    burst(in_process)
    task = in_process.tasks.get_task(user.id, task_id)
    assert task["status"] == "failed" and task["error_code"] == "TIMEOUT", task
    assert "1 seconds" in task["error_message"]
    assert users.get_user(in_process.factory, user.id).credits == 100  # the cut-off agent was refunded


def test_with_the_broker_down_the_task_stays_queued(tmp_path: Path, db_url: str) -> None:
    settings = load_settings(rq_env(tmp_path / "data", db_url, "redis://127.0.0.1:9/0", "dq-test-down"))
    services = build_services(settings, migrate=False)
    user = users.create_user(services.factory, "ann", "password123", credits=100)
    task_id = submit(services, user.id, SMALL_CSV)  # no exception: nothing the user did is lost
    assert services.tasks.get_task(user.id, task_id)["status"] == "queued"
    assert services.worker("reaper").reap() == []  # and reaping copes with the broker being down


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_app_only_enqueues_and_two_workers_run_the_tasks(
    tmp_path: Path, mariadb_url: str, redis_url: str, queue_name: str
) -> None:
    """`streamlit run app.py` with EXECUTOR=rq on MariaDB: uploads go through the app's signed
    URLs, the tasks run on the two RQ workers (not in a worker the app started), /healthz sees them."""
    import requests

    from tests.app_server import streamlit_app

    _empty_tables(mariadb_url)
    data_dir = tmp_path / "data"
    env_vars = rq_env(data_dir, mariadb_url, redis_url, queue_name)
    with streamlit_app(data_dir, extra_env=env_vars) as (base, app_env):
        process_env = {**app_env, "PYTHONPATH": str(PROJECT_ROOT)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "core", "worker"],
                cwd=PROJECT_ROOT,
                env=process_env,
                stdout=(tmp_path / f"w{n}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for n in range(2)
        ]
        try:
            services = build_services(load_settings({**env_vars, "PUBLIC_BASE_URL": base}), migrate=False)
            user = users.create_user(services.factory, "webuser", "password123", credits=100)
            task_ids = []
            for n in range(4):
                content = SMALL_CSV.encode()
                files = {"primary": {"filename": f"{n}.csv", "size_bytes": len(content)}}
                task = services.tasks.create_task(user.id, "profile-my-data", None, None, files)
                upload = services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
                assert upload["url"].startswith(base)
                put = requests.put(upload["url"], data=content, headers=upload["headers"], timeout=10)
                assert put.status_code == 200, put.text
                services.tasks.start_processing(user.id, task["task_id"])
                task_ids.append(task["task_id"])
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                done = [services.tasks.get_task(user.id, t) for t in task_ids]
                if all(t["status"] in TERMINAL for t in done):
                    break
                time.sleep(0.5)
            assert [t["status"] for t in done] == ["completed"] * 4
            pids = {w.pid for w in workers}
            with session_scope(services.factory) as session:
                ran_on = {int(w.rpartition(":")[2]) for w in session.scalars(select(Task.worker_id))}
            assert ran_on <= pids  # no task ran anywhere but on the RQ workers
            health = requests.get(f"{base}/healthz", timeout=10).json()
            assert health["status"] == "ok" and health["checks"]["queue"]["workers"] == 2
            assert health["checks"]["database"]["backend"] == "mysql"

            # the command line queues its task for the same workers and waits for them
            csv = tmp_path / "cli.csv"
            csv.write_text(SMALL_CSV)
            command = ["run", "--tool", "profile-my-data", "--file", f"primary={csv}", "--user", "webuser"]
            command += ["--agents", "types", "--out", str(tmp_path / "out"), "--timeout", "120"]
            run = subprocess.run(
                [sys.executable, "-m", "core", *command],
                cwd=PROJECT_ROOT,
                env=process_env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert run.returncode == 0, run.stderr[-2000:]
            finished = json.loads(run.stdout)
            assert finished["status"] == "completed"
            with session_scope(services.factory) as session:
                ran_by = session.get(Task, finished["task_id"]).worker_id
            assert int(ran_by.rpartition(":")[2]) in pids
            assert (tmp_path / "out" / "report.json").exists()
        finally:
            stop_processes(workers)


@IN_PROCESS_RQ
def test_the_app_lifespan_reaps_the_task_of_a_dead_worker(in_process: Services) -> None:
    """With EXECUTOR=rq the app starts no worker, but its reaper re-queues a task whose worker
    stopped beating and sends the task's next job."""
    import asyncio
    import importlib
    import logging

    user = users.create_user(in_process.factory, "ann", "password123", credits=100)
    task_id = submit(in_process, user.id, SMALL_CSV, agents=["types"])
    in_process.tasks.executor.queue().empty()
    assert in_process.worker("gone-host:1").claim(task_id)
    with session_scope(in_process.factory) as session:
        session.get(Task, task_id).heartbeat_at = session.get(Task, task_id).heartbeat_at.replace(year=2020)

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sys.modules.pop("app", None)
    app_module = importlib.import_module("app")

    async def serve_until_requeued() -> str:
        async with app_module.lifespan(None):
            for _ in range(100):
                status = in_process.tasks.get_task(user.id, task_id)["status"]
                if status != "processing":
                    return status
                await asyncio.sleep(0.1)
        return "processing"

    try:
        assert asyncio.run(serve_until_requeued()) == "queued"
    finally:
        sys.modules.pop("app", None)
        root.handlers[:] = handlers
        root.setLevel(level)
    assert in_process.tasks.executor.is_pending(task_id, 1)
