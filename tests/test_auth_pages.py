"""Sign-in and isolation on the pages, with Streamlit's AppTest (the app headless, in process,
against a real SQLite database and store): the lock-out after LOGIN_MAX_ATTEMPTS failures, a
deactivated account stopped at its next run, another user's task never shown, and no password
(or API token) in any log record, in standard output or error, or in any file the app writes,
with every logger at DEBUG.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from streamlit.testing.v1 import AppTest

from api import API_PREFIX, build_api
from core import users
from core.logs import JsonFormatter
from core.services import Services, build_services, get_services
from core.settings import PROJECT_ROOT, get_settings
from storage.keys import task_prefix
from tests.conftest import make_settings
from tests.storage_servers import listening_socket, serve_asgi
from tests.test_pages import APP, CSV, signed_in, texts

PASSWORD = "Zq8#unusual-Passw0rd"  # unusual enough that finding it anywhere means it leaked
NEW_PASSWORD = "Yx7#another-Passw0rd"
PASSWORD_HASH = users.hash_password(PASSWORD)  # once: bcrypt is slow on purpose


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """Services on a fresh data folder and SQLite file, shared with the app under test (the
    page logic is the same on both databases, and test_pages runs it on MariaDB too)."""
    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("START_WORKER", "0")
    get_settings.cache_clear()
    get_services.cache_clear()
    yield build_services(make_settings(data, f"sqlite:///{data / 'app.db'}"))
    get_settings.cache_clear()
    get_services.cache_clear()


def restart_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Set environment settings for the app under test (read once, then cached)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_services.cache_clear()


def sign_in_screen() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30).run()


def submit_sign_in(at: AppTest, username: str, password: str) -> AppTest:
    next(t for t in at.text_input if t.label == "User name").input(username)
    next(t for t in at.text_input if t.label == "Password").input(password)  # the first: sign in
    return next(b for b in at.button if b.label == "Sign in").click().run()


def errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


# ---- failed log-in limits -------------------------------------------------------------------
def test_sign_in_locks_after_the_allowed_failures(svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    restart_settings(monkeypatch, LOGIN_MAX_ATTEMPTS="3", LOCKOUT_MINUTES="15")
    ann = users.create_user(svc.factory, "ann", password_hash=PASSWORD_HASH)
    at = sign_in_screen()
    for attempt in range(1, 4):
        submit_sign_in(at, "ann", f"wrong-{attempt}")
        assert errors(at) == ["The user name or password is not right."]
        assert users.get_user(svc.factory, ann.id).failed_login_attempts == attempt

    submit_sign_in(at, "ann", PASSWORD)  # the right password, too late
    assert len(errors(at)) == 1 and "Too many failed attempts" in errors(at)[0]
    assert "15 minutes" in errors(at)[0]
    assert not at.session_state["authentication_status"]
    assert "Signed in as" not in texts(at)

    fresh = submit_sign_in(sign_in_screen(), "ann", PASSWORD)  # a new session is locked out as well
    assert "Too many failed attempts" in " ".join(errors(fresh))

    users.set_flags(svc.factory, ann.id, unlock=True)  # an administrator unlocks the account
    unlocked = submit_sign_in(sign_in_screen(), "ann", PASSWORD)
    assert not errors(unlocked) and unlocked.session_state["authentication_status"] is True


# ---- a deactivated account --------------------------------------------------------------------
def test_a_deactivated_user_with_a_signed_in_session_sees_only_the_deactivated_screen(svc: Services) -> None:
    """A session already signed in (as a valid cookie signs it in) gets no page once the account
    is deactivated. (A rerun of the same AppTest does not pass through the gate in app.py again,
    so the lock-out during a session is proved in the browser: test_auth_browser.)"""
    ann = users.create_user(svc.factory, "ann", password_hash=PASSWORD_HASH)
    assert "What would you like to do?" in texts(signed_in("ann"))
    users.set_flags(svc.factory, ann.id, is_active=False)
    at = signed_in("ann")
    assert "has been deactivated" in texts(at)
    assert "What would you like to do?" not in texts(at) and "Signed in as" not in texts(at)


# ---- isolation on the pages -----------------------------------------------------------------
def uploaded_task(svc: Services, user_id: int) -> str:
    data = CSV.encode()
    task = svc.tasks.create_task(
        user_id,
        "profile-my-data",
        None,
        None,
        {"primary": {"filename": "annsecretfile.csv", "size_bytes": len(data)}},
    )
    url = svc.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    svc.store.write(url["key"], data, url["headers"]["Content-Type"])
    return task["task_id"]


@pytest.mark.parametrize("state", ["uploading", "queued"])
def test_the_task_page_of_a_running_task_is_not_found_for_another_user(svc: Services, state: str) -> None:
    """test_pages covers a completed task; a task still running shows live progress and a Cancel
    button to its owner, and neither to anyone else."""
    ann = users.create_user(svc.factory, "ann", password_hash=PASSWORD_HASH)
    users.create_user(svc.factory, "bob", password_hash=PASSWORD_HASH)
    task_id = uploaded_task(svc, ann.id)
    if state == "queued":
        svc.tasks.start_processing(ann.id, task_id)
    before = svc.tasks.get_task(ann.id, task_id)

    owner = signed_in("ann", "pages/task.py", id=task_id)
    assert "annsecretfile" in texts(owner) and any(b.label == "Cancel task" for b in owner.button)

    at = signed_in("bob", "pages/task.py", id=task_id)
    assert "Task not found" in texts(at)
    assert "annsecretfile" not in texts(at) and not at.metric and not at.dataframe
    assert not any(b.label == "Cancel task" for b in at.button)
    listing = signed_in("bob", "pages/my_tasks.py")
    assert "annsecretfile" not in texts(listing) and "no tasks yet" in texts(listing)
    assert svc.tasks.get_task(ann.id, task_id) == before
    assert [i.key for i in svc.store.list(task_prefix(ann.id, task_id))] == list(
        before["input_keys"].values()
    )


# ---- passwords never logged -----------------------------------------------------------------
class Recorder(logging.Handler):
    """Every record, formatted as the app's log lines are plus all its attributes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_ = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.formatter_.format(record) + " " + repr(vars(record)))


@pytest.fixture
def every_log_record() -> Iterator[Recorder]:
    """A recorder on the root logger and on each logger that does not pass records up to it
    (Streamlit's own), all at DEBUG for the test."""
    recorder = Recorder()
    loggers = [logging.getLogger()] + [
        lg
        for lg in logging.root.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(recorder)
        lg.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(recorder)
            lg.setLevel(level)


def register(at: AppTest, username: str, password: str) -> AppTest:
    boxes = {
        "First name": "Rita",
        "Last name": "Reg",
        "Email": f"{username}@example.com",
        "Username": username,
        "Repeat password": password,
    }
    for label, value in boxes.items():
        next(t for t in at.text_input if t.label == label).input(value)
    [t for t in at.text_input if t.label == "Password"][-1].input(password)  # the last: register
    return next(b for b in at.button if b.label == "Create account").click().run()


def test_passwords_are_never_logged(
    svc: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    every_log_record: Recorder,
) -> None:
    restart_settings(monkeypatch, LOG_LEVEL="DEBUG", REGISTRATION="open")
    users.create_user(svc.factory, "ada", password_hash=PASSWORD_HASH, is_admin=True)
    secrets = [PASSWORD, NEW_PASSWORD, "wrong-" + PASSWORD]

    # registration, a failed and a good sign-in
    at = register(sign_in_screen(), "rita", PASSWORD)
    assert "Your account is ready" in texts(at)
    rita = users.find_user(svc.factory, "rita")
    submit_sign_in(at, "rita", "wrong-" + PASSWORD)
    assert "not right" in " ".join(errors(at))
    submit_sign_in(at, "rita", PASSWORD)
    assert at.session_state["authentication_status"] is True

    # a password change on the Account page
    at = signed_in("rita", "pages/account.py")
    for label, value in (
        ("Current password", PASSWORD),
        ("New password", NEW_PASSWORD),
        ("Repeat the new password", NEW_PASSWORD),
    ):
        next(t for t in at.text_input if t.label == label).input(value)
    next(b for b in at.button if b.label == "Change password").click().run()
    assert "Your password was changed." in texts(at), errors(at)
    assert users.check_password(NEW_PASSWORD, users.password_hashes(svc.factory)["rita"])

    # an API token made on the Account page, then used (and a wrong one refused) over HTTP
    next(t for t in at.text_input if t.label == "Name").input("script")
    next(b for b in at.button if b.label == "Create token").click().run()
    token = next(c.value for c in at.code if c.value.startswith("dq_"))
    secrets.append(token)
    sock = listening_socket()
    api = Starlette(routes=[Mount(API_PREFIX, app=build_api(lambda: svc))])
    with serve_asgi(api, sock) as base, httpx.Client(base_url=base + API_PREFIX, timeout=30) as client:
        listed = client.get("/tasks", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200, listed.text
        refused = client.get("/tasks", headers={"Authorization": f"Bearer {token}x"})
        assert refused.status_code == 401

    # `python -m core users add`, with the password on standard input
    env = {
        **os.environ,
        "DATA_DIR": os.environ["DATA_DIR"],
        "PYTHONPATH": str(PROJECT_ROOT),
        "LOG_LEVEL": "DEBUG",
    }
    env.pop("DATABASE_URL", None)
    added = subprocess.run(
        [sys.executable, "-m", "core", "users", "add", "cli-user"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["username"] == "cli-user"
    assert users.check_password(PASSWORD, users.password_hashes(svc.factory)["cli-user"])

    captured = capfd.readouterr()
    assert every_log_record.lines, "the recorder saw the app's log records"
    written = [p for p in Path(os.environ["DATA_DIR"]).rglob("*") if p.is_file()]
    assert any(p.name == "app.db" for p in written)
    for secret in secrets:
        leaks = [line for line in every_log_record.lines if secret in line]
        assert not leaks, leaks[:3]
        for name, text in (
            ("stdout", captured.out),
            ("stderr", captured.err),
            ("cli stdout", added.stdout),
            ("cli stderr", added.stderr),
        ):
            assert secret not in text, name
        for path in written:  # the database, the store, the secrets folder, any log file
            assert secret.encode() not in path.read_bytes(), path
    assert users.get_user(svc.factory, rita.id).is_verified
