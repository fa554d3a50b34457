"""Restarts in the middle of a task: the database server, and the whole app.

1. A private MariaDB server (never the shared one other test runs use) is stopped with SIGTERM
   while a worker process runs a task against it, kept down for a few seconds and started again
   on the same data folder and port. The task must end completed by that same run (its writes
   wait for the database and retry), every agent charged exactly once; then the server restarts
   again while the worker is idle, and the worker, still alive, runs the next task. Down for
   longer than STALE_AFTER_SECONDS, the run gives up without failing the task, the reaper
   re-queues it once and the second run completes it, still charging each agent once.
2. The app (`streamlit run app.py`, embedded default: SQLite, local store, its own worker) is
   killed with SIGKILL, its whole process group, in the middle of a task, and started again on the
   same data folder. The new app's worker re-queues the task once and it completes; the credits
   are exact. Then the app's process alone is killed: its orphaned worker finishes the task in
   hand once and stops, although the dead app is still an unreaped zombie.
3. In one process: a task interrupted twice fails with INTERRUPTED and every credit it took is
   given back, once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from core import billing, users
from core.registry import get_tool
from core.services import Services, build_services
from core.settings import PROJECT_ROOT, load_settings
from core.states import TERMINAL
from db.migrate import upgrade
from db.models import CreditEntry, Task, User, utcnow
from db.session import engine_for, session_scope
from tests.app_server import streamlit_app
from tests.private_mariadb import PrivateMariaDB, private_mariadb, unavailable_reason
from tests.test_rq_workers import big_csv, ledger_net, submit, transitions

PROFILE = "profile-my-data"
START_CREDITS = 100


@functools.cache
def big_file() -> str:
    """A file whose profile keeps a worker busy for several seconds (made once per session)."""
    return big_csv(400_000)


def worker_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SIGNING_SECRET": "test-signing-secret",
        "COOKIE_KEY": "test-cookie-key",
        "HEARTBEAT_SECONDS": "1",
        **extra,
    }


def wait_for(services: Services, task_id: str, ready, timeout: float, what: str) -> Task:  # type: ignore[no-untyped-def]
    """Poll the task until `ready(task)`; fails the test if it ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(services.factory) as session:
            task = session.get(Task, task_id)
            session.expunge(task)
        if ready(task):
            return task
        assert task.status not in TERMINAL, f"the task ended ({task.status}) before {what}"
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; the task is {task.status}")


FULL_PROFILE_COST = sum(get_tool(PROFILE).agent(a).credit_cost for a in get_tool(PROFILE).default_agents())


def assert_billed_once(services: Services, user_id: int, task_ids: list[str], start: int) -> None:
    """Each chosen agent of each task charged exactly once, nothing refunded, and the balance is
    what the ledger says."""
    agents = get_tool(PROFILE).default_agents()
    with session_scope(services.factory) as session:
        for task_id in task_ids:
            entries = session.execute(
                select(CreditEntry.agent_id, CreditEntry.kind).where(CreditEntry.task_id == task_id)
            ).all()
            charges = Counter(agent for agent, kind in entries if kind == "charge")
            assert charges == Counter(agents), charges
            assert not [e for e in entries if e.kind == "refund"]
        balance = session.scalar(select(User.credits).where(User.id == user_id))
    assert balance == start - FULL_PROFILE_COST * len(task_ids) == start + ledger_net(services, user_id)


def assert_complete_report(services: Services, user_id: int, task: Task) -> None:
    """A completed task presents a whole report: every agent completed, every output present."""
    report = services.tasks.read_report(user_id, task.task_id)
    assert report is not None
    assert {a: r["status"] for a, r in report["agents"].items()} == dict.fromkeys(task.agents, "completed")
    assert set(report["downloads"]) == set(task.output_keys)
    for key in task.output_keys.values():
        assert services.store.exists(key)


# ---- the database restarting ------------------------------------------------------------------
@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"a private MariaDB server cannot be started: {reason}")
        pytest.skip(reason)
    with private_mariadb(tmp_path_factory.mktemp("private-mariadb")) as server:
        yield server


@contextlib.contextmanager
def worker_on(
    tmp_path: Path, server: PrivateMariaDB, **extra: str
) -> Iterator[tuple[Services, subprocess.Popen[bytes], Path]]:
    """A fresh database on the private server, and one `python -m core worker` process on it."""
    url = server.create_database(f"dq_restart_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    env_vars = worker_env(tmp_path / "data", url, **extra)
    services = build_services(load_settings(env_vars), migrate=False)
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "core", "worker"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env_vars, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield services, worker, log_path
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        engine_for(url).dispose()


def restart_during_agents(services: Services, server: PrivateMariaDB, user_id: int, down: float) -> str:
    """Start a big profile task and restart the server (down `down` seconds) while its agents run."""
    task_id = submit(services, user_id, big_file())
    # stop the server once the agents are running (the inputs are loaded and some agents charged)
    wait_for(
        services,
        task_id,
        lambda t: t.status == "processing" and t.current_agent not in (None, "types"),
        timeout=90,
        what="the agents to run",
    )
    server.stop()
    time.sleep(down)  # the worker's heartbeats, progress and charges meet a closed port meanwhile
    server.start()
    return task_id


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_database_restarting_mid_task_leaves_the_task_completed(
    tmp_path: Path, private_server: PrivateMariaDB
) -> None:
    with worker_on(tmp_path, private_server) as (services, worker, log_path):
        user = users.create_user(services.factory, "ann", "password123", credits=START_CREDITS)
        task_id = restart_during_agents(services, private_server, user.id, down=4)

        done = wait_for(services, task_id, lambda t: t.status in TERMINAL, timeout=90, what="the task to end")
        log_text = log_path.read_text(errors="replace")
        assert worker.poll() is None, "the worker died with the database:\n" + log_text[-4000:]
        assert done.status == "completed", (done.error_code, done.error_message, log_text[-4000:])
        assert done.attempts == 1  # the same run carried on: nothing had to be re-queued
        assert_billed_once(services, user.id, [task_id], START_CREDITS)
        assert_complete_report(services, user.id, done)
        events = transitions(log_path)
        assert [e["to"] for e in events if e["task_id"] == task_id] == ["processing", "completed"]

        # and again while the worker is idle, polling for work: it waits and then takes new tasks
        private_server.stop()
        time.sleep(2)
        private_server.start()
        after = submit(services, user.id, "a,b\n1,2\n3,4\n", agents=["types"])
        done = wait_for(services, after, lambda t: t.status in TERMINAL, timeout=60, what="the next task")
        assert done.status == "completed" and worker.poll() is None


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_database_outage_longer_than_the_reaper_waits_reruns_the_task_once(
    tmp_path: Path, private_server: PrivateMariaDB
) -> None:
    """Down longer than STALE_AFTER_SECONDS: the run gives up waiting without failing the task,
    the reaper re-queues it once the server is back, and the second run completes it, charging
    no agent twice. The abandoned run's leftovers are never presented: the outputs listed are
    the second run's, and its report has every agent completed."""
    with worker_on(tmp_path, private_server, STALE_AFTER_SECONDS="3") as (services, worker, log_path):
        user = users.create_user(services.factory, "dan", "password123", credits=START_CREDITS)
        task_id = restart_during_agents(services, private_server, user.id, down=8)

        done = wait_for(services, task_id, lambda t: t.status in TERMINAL, timeout=90, what="the task to end")
        log_text = log_path.read_text(errors="replace")
        assert worker.poll() is None, "the worker died with the database:\n" + log_text[-4000:]
        assert done.status == "completed", (done.error_code, done.error_message, log_text[-4000:])
        assert done.attempts == 2
        assert "the reaper re-queues it" in log_text  # the first run gave up rather than failing
        assert_billed_once(services, user.id, [task_id], START_CREDITS)
        assert_complete_report(services, user.id, done)
        events = [e["to"] for e in transitions(log_path) if e["task_id"] == task_id]
        assert events == ["processing", "queued", "processing", "completed"]


# ---- the app restarting -----------------------------------------------------------------------
def _worker_pid(task: Task) -> int:
    return int(task.worker_id.rpartition(":")[2])


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_app_killed_mid_task_requeues_it_once_and_it_completes(tmp_path: Path) -> None:
    """The app and its worker killed together: the next app's worker re-queues the task once and
    completes it. Then the app alone is killed: its orphaned worker finishes its task and stops."""
    data_dir = tmp_path / "data"
    app_env = {"HEARTBEAT_SECONDS": "1"}
    content = big_file().encode()
    with streamlit_app(data_dir, extra_env=app_env) as (_base, env):
        services = build_services(load_settings(env), migrate=False)
        user = users.create_user(services.factory, "bob", "password123", credits=START_CREDITS)
        files = {"primary": {"filename": "big.csv", "size_bytes": len(content)}}
        task_id = services.tasks.create_task(user.id, PROFILE, None, None, files)["task_id"]
        upload = services.tasks.issue_upload_urls(user.id, task_id)["primary"]
        put = requests.put(upload["url"], data=content, headers=upload["headers"], timeout=60)
        assert put.status_code == 200, put.text
        services.tasks.start_processing(user.id, task_id)
        running = wait_for(
            services,
            task_id,
            lambda t: t.status == "processing" and bool(t.agents_completed),
            timeout=90,
            what="the first agent to finish",
        )
        first_worker = _worker_pid(running)
        app_group = os.getpgid(first_worker)  # the app's process group: the app and its worker
        os.killpg(app_group, signal.SIGKILL)
    _wait_ended(first_worker, "the worker survived SIGKILL")
    with session_scope(services.factory) as session:
        assert session.get(Task, task_id).status == "processing"  # nobody is left to say otherwise

    with streamlit_app(data_dir, extra_env=app_env):
        done = wait_for(services, task_id, lambda t: t.status in TERMINAL, timeout=120, what="the end")
        assert done.status == "completed", (done.error_code, done.error_message)
        assert done.attempts == 2 and _worker_pid(done) != first_worker
        assert_billed_once(services, user.id, [task_id], START_CREDITS)
        assert_complete_report(services, user.id, done)

        # now only the app's own process dies (as an out-of-memory kill picks it): its worker,
        # orphaned, finishes the task in hand, once, and then stops
        second = submit(services, user.id, big_file())
        running = wait_for(
            services,
            second,
            lambda t: t.status == "processing" and bool(t.agents_completed),
            timeout=90,
            what="the first agent to finish",
        )
        orphan = _worker_pid(running)
        os.kill(os.getpgid(orphan), signal.SIGKILL)  # the app leads its group: this is the app alone
        done = wait_for(services, second, lambda t: t.status in TERMINAL, timeout=120, what="the end")
        assert done.status == "completed" and done.attempts == 1 and _worker_pid(done) == orphan
        _wait_ended(orphan, "the orphaned worker kept running after its task")  # the app is still unreaped
    assert_billed_once(services, user.id, [task_id, second], START_CREDITS)
    assert_complete_report(services, user.id, done)


def _wait_ended(pid: int, message: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ended(pid):
            return
        time.sleep(0.1)
    pytest.fail(message)


# ---- the pieces, in one process ---------------------------------------------------------------
def _make_stale(services: Services, task_id: str) -> None:
    with session_scope(services.factory) as session:
        session.get(Task, task_id).heartbeat_at = utcnow() - timedelta(hours=1)


def test_a_task_interrupted_twice_fails_and_gives_back_every_credit(services: Services) -> None:
    """The second interruption fails the task with INTERRUPTED; it wrote no report, so every agent
    charged over both attempts is refunded, once, in the same transaction as the failure."""
    user = users.create_user(services.factory, "cat", "password123", credits=20)
    task_id = submit(services, user.id, "a,b\n1,2\n")
    first = services.worker("gone-host:1")
    assert first.claim_next() == task_id
    for agent in ("types", "completeness"):
        billing.charge(services.factory, user.id, task_id, agent, 1)
    _make_stale(services, task_id)
    assert services.worker("w2").reap() == [task_id]  # re-queued once

    assert first.claim_next() == task_id
    for agent in ("types", "completeness", "statistics"):  # the re-run meets its earlier charges
        billing.charge(services.factory, user.id, task_id, agent, 1)
    _make_stale(services, task_id)
    assert services.worker("w3").reap() == [task_id]

    done = services.tasks.get_task(user.id, task_id)
    assert (done["status"], done["error_code"], done["attempts"]) == ("failed", "INTERRUPTED", 2)
    assert "nothing was charged" in done["error_message"]
    assert services.worker("w4").reap() == []  # a failed task is not reaped again
    assert billing.refund(services.factory, task_id, "types") is None  # nor refunded again
    with session_scope(services.factory) as session:
        kinds = Counter(
            session.execute(
                select(CreditEntry.kind, CreditEntry.agent_id).where(CreditEntry.task_id == task_id)
            ).all()
        )
        balance = session.scalar(select(User.credits).where(User.id == user.id))
    agents = ("types", "completeness", "statistics")
    assert kinds == Counter({("charge", a): 1 for a in agents} | {("refund", a): 1 for a in agents})
    assert balance == 20


def _ended(pid: int) -> bool:
    """Gone, or a zombie nobody waited for (it has stopped running either way)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_worker_stops_when_its_parent_dies_even_before_the_parent_is_reaped(tmp_path: Path) -> None:
    """An app killed with SIGKILL stays a zombie until whoever started it waits for it, and a
    zombie still answers kill(pid, 0); the worker must notice anyway that its parent is gone."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(PROJECT_ROOT),
        "HEARTBEAT_SECONDS": "1",
    }
    env.pop("DATABASE_URL", None)
    parent_code = (
        "import os, subprocess, sys, time\n"
        "command = [sys.executable, '-m', 'core', 'worker', '--parent-pid', str(os.getpid())]\n"
        "worker = subprocess.Popen(command)\n"
        "print(worker.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    log_path = tmp_path / "worker.log"
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_path.open("wb"),
    )
    try:
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 40
        while "started" not in log_path.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _ended(worker_pid), log_path.read_text(errors="replace")[-3000:]
        os.kill(parent.pid, signal.SIGKILL)  # and no wait(): the parent stays a zombie
        deadline = time.monotonic() + 15
        while not _ended(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(worker_pid), "the worker outlived its parent"
        assert _ended(parent.pid)  # still unreaped while the worker stopped
        assert "parent process" in log_path.read_text(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker_pid, signal.SIGKILL)
        parent.kill()
        parent.wait(timeout=10)
