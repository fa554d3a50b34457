"""The embedded default as `make run` starts it: one `streamlit run app.py` serves the UI and
the signed storage URLs, and its lifespan starts the worker that processes tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from core import users
from core.services import Services
from core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_the_app_serves_its_page(running_app: tuple[str, dict[str, str]]) -> None:
    base, _ = running_app
    page = requests.get(base, timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_upload_through_the_app_and_process_in_its_worker(
    running_app: tuple[str, dict[str, str]], app_services: Services
) -> None:
    base, _ = running_app
    user = users.create_user(app_services.factory, "webuser", "password123", credits=100)
    data = b"city,temp\nOslo,3.5\nLima,19\nPune,\n"
    task = app_services.tasks.create_task(
        user.id,
        "profile-my-data",
        None,
        None,
        {"primary": {"filename": "weather.csv", "size_bytes": len(data)}},
    )
    upload = app_services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
    assert upload["url"].startswith(base)
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=10)
    assert put.status_code == 200, put.text

    tampered = requests.put(
        upload["url"].replace("sig=", "sig=0"), data=b"x", headers=upload["headers"], timeout=10
    )
    assert tampered.status_code == 403

    app_services.tasks.start_processing(user.id, task["task_id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = app_services.tasks.get_task(user.id, task["task_id"])
        if state["status"] in {"completed", "failed"}:
            break
        time.sleep(0.3)
    assert state["status"] == "completed", state
    downloads = {d["filename"]: d for d in app_services.tasks.get_downloads(user.id, task["task_id"])}
    got = requests.get(downloads["report.json"]["url"], timeout=10)
    assert got.status_code == 200
    assert "report.json" in got.headers["content-disposition"]
    assert json.loads(got.content)["dataset"]["files"][0]["rows"] == 3


def test_the_worker_stops_with_the_app(tmp_path: Path) -> None:
    """A worker started with --parent-pid exits when its parent is gone, so no orphan is left."""
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    env = {**os.environ, "DATA_DIR": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "core", "worker", "--parent-pid", str(parent.pid)], cwd=PROJECT_ROOT, env=env
    )
    parent.wait()
    assert worker.wait(timeout=30) == 0


def test_healthz_checks_database_storage_and_queue(running_app: tuple[str, dict[str, str]]) -> None:
    base, _ = running_app
    answer = requests.get(f"{base}/healthz", timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ok" and {"database", "storage", "queue"} <= set(body["checks"])
