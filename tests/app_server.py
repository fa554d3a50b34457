"""Start `streamlit run <script>` on a free port for a test, as `make run` would, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(
    data_dir: Path, script: str = "app.py", extra_env: dict[str, str] | None = None, timeout: float = 90
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (base URL, environment) of a running app with its own data folder."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PUBLIC_BASE_URL": base,
        "PYTHONPATH": str(PROJECT_ROOT),
        **(extra_env or {}),
    }
    if "DATABASE_URL" not in (extra_env or {}):
        env.pop("DATABASE_URL", None)  # the app under test uses its own SQLite file
    log = (data_dir.parent / f"{data_dir.name}-streamlit.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):  # not up yet, or busy starting
                if requests.get(f"{base}/_stcore/health", timeout=5).status_code == 200:
                    break
            if proc.poll() is not None:
                log.flush()
                pytest.fail("the app exited at start:\n" + Path(log.name).read_text(errors="replace")[-4000:])
            time.sleep(0.5)
        else:
            pytest.fail(f"the app did not become healthy within {timeout:.0f} s")
        yield base, env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def app_services(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The core services of a running app (its data folder and address), for a test or a
    benchmark that acts as the app's users while the app's own worker does the work."""
    from core.services import build_services
    from core.settings import load_settings

    names = ("DATA_DIR", "PUBLIC_BASE_URL", "MAX_UPLOAD_MB")
    return build_services(load_settings({k: env[k] for k in names if k in env}), migrate=False)
