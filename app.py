"""The composition root: settings, the database, storage routes, the worker, and the UI.

Streamlit first imports this file as a module to find `app` (building the HTTP routes and the
lifespan once), then executes it as `__main__` for every session run, which draws the pages.
`streamlit run app.py` therefore serves the UI, the signed storage URLs of the embedded default
and starts the worker process, all from one command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from api import API_PREFIX, build_api
from core.errors import ConfigurationError
from core.health import check_health
from core.logs import configure_logging
from core.services import get_services
from core.worker import reap_periodically
from storage.local import LocalObjectStore
from storage.routes import storage_routes

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("app")


def _start_worker() -> subprocess.Popen[bytes]:
    """A worker in its own process, so heavy analysis never blocks the UI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "core", "worker", "--parent-pid", str(os.getpid())], cwd=ROOT, env=env
    )


@contextlib.asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    configure_logging("INFO")
    services = get_services()  # validates settings and upgrades the database schema
    # with EXECUTOR=rq the app only enqueues, and reaps tasks whose RQ worker died
    rq = services.settings.executor == "rq"
    worker = _start_worker() if not rq and os.environ.get("START_WORKER", "1") != "0" else None
    stop_reaper = threading.Event()
    if rq:
        reap_periodically(services.worker(), stop_reaper)
    try:
        yield {"services": services}
    finally:
        stop_reaper.set()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


def healthz(_request: Request) -> JSONResponse:
    """Database, storage and queue, each checked; 503 naming the failing part."""
    health = check_health(get_services())
    return JSONResponse(health, status_code=503 if health["failing"] else 200)


def _routes() -> list[Any]:
    try:
        store = get_services().store  # the start-up settings check
    except ConfigurationError as error:
        print(f"The app cannot start: {error.message}", file=sys.stderr)
        raise SystemExit(2) from None
    local = storage_routes(store) if isinstance(store, LocalObjectStore) else []
    return [
        Route("/healthz", healthz, methods=["GET"]),
        *local,
        Mount(API_PREFIX, app=build_api(get_services)),  # the REST Task API
    ]


app = st.App(__file__, routes=_routes(), lifespan=lifespan)


def main() -> None:
    """Draw the UI for one run: the sign-in gate, the sidebar and the chosen page."""
    from ui import auth
    from ui.session import services

    st.set_page_config(
        page_title="Data-quality workbench", page_icon=str(ROOT / "assets" / "logo.svg"), layout="wide"
    )
    st.logo(str(ROOT / "assets" / "logo.svg"), size="large")
    user, authenticator = auth.gate(services())
    pages = {
        "Work": [
            st.Page(
                str(ROOT / "pages" / "new_task.py"),
                title="New task",
                icon=":material/add_circle:",
                default=True,
            ),
            st.Page(str(ROOT / "pages" / "my_tasks.py"), title="My tasks", icon=":material/list_alt:"),
            st.Page(str(ROOT / "pages" / "task.py"), title="Task", url_path="task", visibility="hidden"),
        ],
        "You": [st.Page(str(ROOT / "pages" / "account.py"), title="Account", icon=":material/person:")],
    }
    if user.is_admin:
        pages["You"].append(
            st.Page(str(ROOT / "pages" / "admin.py"), title="Admin", icon=":material/shield:")
        )
    with st.sidebar:
        st.markdown(f"**{_plain(user.name or user.username)}**")
        st.caption(f"Signed in as {_plain(user.username)}")
        st.metric("Credits", f"{user.credits:,}")
        authenticator.logout("Sign out", location="sidebar", key="sign_out")
    st.navigation(pages).run()


def _plain(text: str) -> str:
    """User text shown through Markdown, with every Markdown/HTML character escaped."""
    from ui.text import escape_markdown

    return escape_markdown(text)


if __name__ == "__main__":
    main()
