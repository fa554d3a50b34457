"""Every file of the bad-input corpus through every tool, the way a user sends it: a task
created, the file PUT to its signed URL on a running app, processed by the app's own worker.

Each task must end `completed`, or `failed` with a stable error code and a sentence a
business user can act on; the app and its worker must stay up, the worker's memory bounded
(the corpus holds a ZIP bomb), and every output that holds a hostile value safe to open in a
spreadsheet. The corpus is made by `scripts/make_bad_files.py`; what profile-my-data must
answer for each file is its `EXPECTED` table.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from core import users
from core.errors import FileReadError
from core.loading import load_table
from core.registry import TOOLS
from core.services import Services
from db.models import Task
from db.session import session_scope
from scripts.make_bad_files import EXPECTED, LARGE, SMALL_DIR, large_corpus

pytestmark = pytest.mark.slow

WORKER_MEMORY_LIMIT = 2 * 1024**3  # bytes of peak resident memory the worker may reach
DEADLINE_SECONDS = 600
STABLE_CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
HOSTILE_FILES = ("formula_injection.csv", "html_and_markdown.csv")


@pytest.fixture(scope="module")
def corpus() -> dict[str, Path]:
    large = {path.name: path for path in large_corpus()}
    files = {name: large[name] if name in LARGE else SMALL_DIR / name for name in EXPECTED}
    missing = [name for name, path in files.items() if not path.exists()]
    assert not missing, f"run scripts/make_bad_files.py: {missing}"
    return files


def test_the_corpus_is_large_enough_and_committed() -> None:
    assert len(EXPECTED) >= 30
    committed = {p.name for p in SMALL_DIR.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert committed == set(EXPECTED) - set(LARGE)


def test_each_file_reads_or_fails_as_expected(corpus: dict[str, Path]) -> None:
    """The loader's verdict per file, directly: the quick check behind the end-to-end one."""
    for name, path in corpus.items():
        try:
            load_table(path, "primary", name, max_bytes=2 * 1024**3)
            verdict = "completed"
        except FileReadError as error:
            verdict = error.code
            assert name in error.message, error.message
        assert verdict == EXPECTED[name], name


def _submit(services: Services, user_id: int, tool_id: str, name: str, path: Path) -> str:
    data = path.read_bytes()
    task = services.tasks.create_task(
        user_id, tool_id, None, None, {"primary": {"filename": name, "size_bytes": len(data)}}
    )
    upload = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=60)
    assert put.status_code == 200, (name, put.text)
    services.tasks.start_processing(user_id, task["task_id"])
    return task["task_id"]


def _wait_all(services: Services, user_id: int, task_ids: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    ended: dict[str, dict] = {}
    while time.monotonic() < deadline and len(ended) < len(task_ids):
        for task_id in task_ids:
            if task_id not in ended:
                task = services.tasks.get_task(user_id, task_id)
                if task["status"] in ("completed", "failed"):
                    ended[task_id] = task
        time.sleep(0.5)
    return ended


def _assert_plain_sentence(message: str | None, context: str) -> None:
    assert message and 10 <= len(message) <= 600, context
    for leak in ("Traceback", "Exception", "Error(", "  File ", "0x"):
        assert leak not in message, (context, message)


def _assert_csv_safe(content: bytes, context: str) -> None:
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")):
        for cell in row:
            if cell.startswith(FORMULA_START):
                assert PLAIN_NUMBER.match(cell), (context, cell)


def _assert_xlsx_safe(content: bytes, context: str) -> None:
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    try:
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (context, sheet.title, cell.value)
    finally:
        workbook.close()


def _worker_peak_memory(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


@pytest.mark.timeout(DEADLINE_SECONDS + 120)  # one worker runs 114 tasks, the 5,000-column ones longest
def test_every_bad_file_through_every_tool(
    corpus: dict[str, Path], running_app: tuple[str, dict[str, str]], app_services: Services
) -> None:
    base, _ = running_app
    user = users.create_user(app_services.factory, "badfiles", "password123", credits=1_000_000)
    tools = [tool.id for tool in TOOLS.values() if tool.available]
    assert set(tools) == set(TOOLS), "every tool is built: each one gets the whole corpus"
    submitted = {
        _submit(app_services, user.id, tool_id, name, path): (tool_id, name)
        for tool_id in tools
        for name, path in corpus.items()
    }
    ended = _wait_all(app_services, user.id, list(submitted))
    stuck = [submitted[t] for t in submitted if t not in ended]
    assert not stuck, f"tasks that never ended: {stuck}"

    for task_id, (tool_id, name) in submitted.items():
        task, expected = ended[task_id], EXPECTED[name]
        context = f"{tool_id} on {name}: {task['status']} {task['error_code']} {task['error_message']}"
        if expected != "completed":  # the file cannot be read: every tool says so the same way
            assert (task["status"], task["error_code"]) == ("failed", expected), context
        elif tool_id == "profile-my-data":
            assert task["status"] == "completed", context
        if task["status"] == "failed":
            assert STABLE_CODE.match(task["error_code"] or ""), context
            _assert_plain_sentence(task["error_message"], context)
        elif name in HOSTILE_FILES:
            for download in app_services.tasks.get_downloads(user.id, task_id):
                content = requests.get(download["url"], timeout=60).content
                if download["filename"].endswith(".csv"):
                    _assert_csv_safe(content, f"{context} {download['filename']}")
                elif download["filename"].endswith(".xlsx"):
                    _assert_xlsx_safe(content, f"{context} {download['filename']}")

    assert requests.get(f"{base}/_stcore/health", timeout=10).status_code == 200
    with session_scope(app_services.factory) as session:
        workers = set(session.scalars(select(Task.worker_id).where(Task.task_id.in_(list(submitted)))))
    pids = {int(w.rpartition(":")[2]) for w in workers if w}
    assert len(pids) == 1, f"one worker should have run every task, not {workers}"
    pid = pids.pop()
    assert Path(f"/proc/{pid}").exists(), "the worker died"
    assert _worker_peak_memory(pid) < WORKER_MEMORY_LIMIT
