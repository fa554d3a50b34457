"""One task: live progress while it runs, then its results, or what went wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.errors import DQError
from core.registry import get_tool
from core.states import TERMINAL
from ui.results import show_failure, show_results
from ui.session import current_user, services
from ui.status import status_badge
from ui.text import escape_markdown, human_duration

user = current_user()
svc = services()
task_id = st.query_params.get("id", "")


def load(task_id: str) -> dict | None:
    try:
        return svc.tasks.get_task(user.id, task_id)
    except DQError:
        return None


def seconds_since(stamp: str | None) -> float | None:
    if not stamp:
        return None
    started = datetime.fromisoformat(stamp.rstrip("Z")).replace(tzinfo=UTC)
    return (datetime.now(UTC) - started).total_seconds()


def header(task: dict) -> None:
    tool = get_tool(task["tool_id"])
    files = ", ".join(m["filename"] for m in task["files_metadata"].values())
    st.title(tool.name)
    label, colour, icon = status_badge(task["status"])
    st.badge(label, color=colour, icon=icon)
    st.caption(f"{escape_markdown(files)} · started {task['created_at'].replace('T', ' ').rstrip('Z')} UTC")


def agent_rows(task: dict) -> list[dict]:
    tool = get_tool(task["tool_id"])
    partial = task.get("partial_results") or {}
    rows = []
    for agent_id in task["agents"]:
        run = partial.get(agent_id, {})
        if agent_id == task.get("current_agent") and task["status"] == "processing":
            state = "⏳ running"
        else:
            state = {"completed": "✅ done", "failed": "⚠️ failed", "not_run": "⏭️ not run"}.get(
                run.get("status", ""), "· waiting"
            )
        seconds = run.get("execution_time_ms")
        rows.append(
            {
                "Check": tool.agent(agent_id).name,
                "State": state,
                "Time": human_duration(seconds / 1000) if seconds is not None else "",
            }
        )
    return rows


@st.fragment(run_every=1.5)
def live(task_id: str) -> None:
    if not current_user().can_sign_in:
        # A refresh reruns only this fragment, not the sign-in gate in app.py: a full run
        # lets the gate show the deactivated (or waiting) screen instead of more of the task.
        st.rerun(scope="app")
    task = load(task_id)
    if task is None or task["status"] in TERMINAL:
        st.rerun()  # the whole page redraws with the results
        return
    progress = int(task["progress"])
    if task["status"] in ("created", "uploading", "upload_failed"):
        st.info("This task is waiting for its files. Finish the upload in New task.")
        if task["error_message"]:
            st.error(f"{task['error_message']} ({task['error_code']})")
        return
    st.progress(progress / 100, text=escape_markdown(task.get("progress_message") or "Waiting for a worker…"))
    elapsed = seconds_since(task.get("processing_started_at"))
    cols = st.columns(3)
    cols[0].metric("Progress", f"{progress}%")
    cols[1].metric("Elapsed", human_duration(elapsed) if elapsed is not None else "queued")
    remaining = elapsed * (100 - progress) / progress if elapsed and progress >= 5 else None
    cols[2].metric(
        "Time left (estimate)", human_duration(remaining) if remaining is not None else "estimating…"
    )
    st.dataframe(agent_rows(task), hide_index=True, width="stretch")


if not task_id or (task := load(task_id)) is None:
    st.title("Task not found")
    st.write("This task does not exist, or it belongs to someone else.")
    st.page_link("pages/my_tasks.py", label="Go to my tasks", icon=":material/list_alt:")
    st.stop()

header(task)
if task["status"] not in TERMINAL:
    live(task_id)
    if st.button("Cancel task", icon=":material/block:"):
        try:
            svc.tasks.cancel_task(user.id, task_id)
        except DQError as error:
            st.error(f"{error.message} ({error.code})")
        st.rerun()
elif task["status"] == "completed":
    show_results(svc, user, task)
else:
    show_failure(svc, user, task, agent_rows(task))
