"""Benchmark: how the task engine holds up under load. A benchmark, not a test: run it on a
quiet machine.

    python bench/load_bench.py                 # SQLite, and MariaDB when 127.0.0.1:3306 answers
    python bench/load_bench.py --tasks 10000

(a) The task page's reads with `--tasks` tasks in the table: `get_task` (what the live page
    polls) and `list_tasks` (My tasks, newest first, with a status filter), against the floor
    of a raw primary-key SELECT on the same connection pool. Target: under 50 ms.
(b) Ten users uploading and processing at the same time, then a hundred tasks queued at once,
    through a running app (`streamlit run app.py`, its own worker): wall time, the slowest
    progress read, and checks that every task completed once and every balance equals its
    ledger.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from core import users  # noqa: E402
from core.services import Services, build_services  # noqa: E402
from core.settings import load_settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import CreditEntry, Task, User, utcnow  # noqa: E402
from db.session import engine_for  # noqa: E402

TARGET_MS = 50.0
AGENTS = ["types", "completeness"]
CONTENT = b"city,temp\nOslo,3.5\nLima,19\nPune,\nOslo,4\n"


def fill_tasks(url: str, count: int = 10_000, owners: int = 50) -> list[tuple[int, str]]:
    """`count` tasks spread over `owners` new users, inserted in bulk; returns one (user id,
    task id) pair per owner. The test of the task page's query plans uses it too."""
    engine = engine_for(url)
    now = utcnow()
    with engine.begin() as conn:
        first = int(conn.scalar(select(func.coalesce(func.max(User.id), 0))) or 0) + 1
        conn.execute(
            insert(User),
            [{"id": first + n, "username": f"bulk{first + n}", "credits": 0} for n in range(owners)],
        )
        rows = [
            {
                "task_id": str(uuid.uuid4()),
                "user_id": first + n % owners,
                "tool_id": "profile-my-data",
                "agents": AGENTS,
                "parameters": {},
                "files_metadata": {},
                "status": ("completed", "failed", "queued", "processing")[n % 4],
                "created_at": now - timedelta(seconds=n),
                "updated_at": now,
            }
            for n in range(count)
        ]
        for start in range(0, len(rows), 2000):
            conn.execute(insert(Task), rows[start : start + 2000])
    return [(first + n, rows[n]["task_id"]) for n in range(owners)]


def _timed(call: Callable[[], Any], repeat: int = 200) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * len(times)) - 1]}


def reads(services: Services, url: str, count: int) -> None:
    owner, task_id = fill_tasks(url, count)[7]
    engine = engine_for(url)
    raw = text("SELECT * FROM tasks WHERE task_id = :t")
    with engine.connect() as conn:
        floor = _timed(lambda: conn.execute(raw, {"t": task_id}).all())
    page = _timed(lambda: services.tasks.get_task(owner, task_id))
    listing = _timed(lambda: services.tasks.list_tasks(owner, status="failed", limit=20, offset=20))
    name = engine.dialect.name
    print(f"\n(a) reads with {count:,} tasks in the table ({name})")
    for label, figures in (("raw PK select (floor)", floor), ("get_task", page), ("list_tasks", listing)):
        verdict = ""
        if not label.startswith("raw"):
            verdict = "  met" if figures["p95_ms"] < TARGET_MS else "  NOT MET"
        median, p95 = figures["median_ms"], figures["p95_ms"]
        print(f"  {label:24s} median {median:7.2f} ms  p95 {p95:7.2f} ms{verdict}")
    print(f"  ratio get_task / floor: {page['median_ms'] / floor['median_ms']:.1f}")


def load(tmp: Path) -> None:
    from tests.app_server import app_services, streamlit_app  # the same launcher the tests use

    with streamlit_app(tmp / "data") as (_base, env):
        services = app_services(env)
        people = [
            users.create_user(services.factory, f"load{n}", "password123", credits=10_000) for n in range(10)
        ]
        slowest: list[float] = []

        def upload(user_id: int) -> str:
            files = {"primary": {"filename": "t.csv", "size_bytes": len(CONTENT)}}
            task = services.tasks.create_task(user_id, "profile-my-data", AGENTS, None, files)
            put = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
            requests.put(put["url"], data=CONTENT, headers=put["headers"], timeout=60).raise_for_status()
            return task["task_id"]

        def wait(user_id: int, task_id: str) -> dict[str, Any]:
            while True:
                began = time.perf_counter()
                task = services.tasks.get_task(user_id, task_id)
                slowest.append(time.perf_counter() - began)
                if task["status"] in ("completed", "failed", "cancelled"):
                    return task
                time.sleep(0.2)

        def one(user: users.UserView) -> dict[str, Any]:
            task_id = upload(user.id)
            services.tasks.start_processing(user.id, task_id)
            return wait(user.id, task_id)

        began = time.perf_counter()
        with ThreadPoolExecutor(10) as pool:
            together = list(pool.map(one, people))
        phase1 = time.perf_counter() - began
        began = time.perf_counter()
        queued = [(people[n % 10], upload(people[n % 10].id)) for n in range(100)]
        for user, task_id in queued:
            services.tasks.start_processing(user.id, task_id)
        burst = [wait(user.id, task_id) for user, task_id in queued]
        phase2 = time.perf_counter() - began
        tasks = together + burst
        completed = sum(t["status"] == "completed" for t in tasks)
        once = sum(t["attempts"] == 1 for t in tasks)
        with services.factory() as session:
            balanced = all(
                session.scalar(select(User.credits).where(User.id == u.id))
                == session.scalar(select(func.sum(CreditEntry.amount)).where(CreditEntry.user_id == u.id))
                for u in people
            )
        print("\n(b) load through a running app (embedded default: SQLite, one worker process)")
        print(f"  10 users at once: {phase1:6.1f} s   then 100 queued at once: {phase2:6.1f} s")
        print(f"  completed {completed}/110, run once {once}/110, balances equal ledgers: {balanced}")
        print(f"  slowest progress read: {max(slowest) * 1000:.1f} ms of {len(slowest):,} reads")


def _mariadb_url() -> str | None:
    try:
        conn = pymysql.connect(host="127.0.0.1", user="root", password="", connect_timeout=3, autocommit=True)
    except pymysql.err.OperationalError:
        return None
    name = f"dq_bench_{uuid.uuid4().hex[:8]}"
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    return f"mysql+pymysql://root:@127.0.0.1:3306/{name}?charset=utf8mb4"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in the table for (a)")
    parser.add_argument("--skip-load", action="store_true", help="only (a)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dq-load-bench-") as tmp:
        urls = [f"sqlite:///{tmp}/app.db"]
        maria = _mariadb_url()
        if maria:
            urls.append(maria)
        for url in urls:
            upgrade(url)
            env = {"DATA_DIR": tmp, "DATABASE_URL": url, "COOKIE_KEY": "bench", "SIGNING_SECRET": "bench"}
            reads(build_services(load_settings(env), migrate=False), url, args.tasks)
        if maria:
            engine_for(maria).dispose()
            conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
            conn.cursor().execute(f"DROP DATABASE `{maria.rsplit('/', 1)[1].split('?')[0]}`")
            conn.close()
        if not args.skip_load:
            load(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
