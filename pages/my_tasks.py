"""My tasks: every task of the signed-in user, newest first, with filters and pages."""

from __future__ import annotations

import streamlit as st

from core.registry import TOOLS
from core.states import Status
from ui.session import current_user, services
from ui.status import STATUS_LABELS, status_badge
from ui.text import escape_markdown
from ui.wizard_state import restart

PAGE_SIZE = 20

user = current_user()
svc = services()
st.title("My tasks")

filters = st.columns([2, 2, 1])
status = filters[0].selectbox(
    "Status",
    [None, *[s.value for s in Status]],
    format_func=lambda s: "Any status" if s is None else STATUS_LABELS[s][0],
)
tool_id = filters[1].selectbox(
    "Tool",
    [None, *TOOLS],
    format_func=lambda t: "Any tool" if t is None else TOOLS[t].name,
    on_change=lambda: st.session_state.update(my_tasks_page=0),
)
page = int(st.session_state.get("my_tasks_page", 0))
listing = svc.tasks.list_tasks(
    user.id, status=status, tool_id=tool_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
)
filters[2].metric("Tasks", f"{listing['total']:,}")

if listing["total"] == 0:
    if status or tool_id:
        st.info("No task matches these filters.")
    else:
        st.info("You have no tasks yet. Start one to profile, clean or match a file.")
        st.page_link("pages/new_task.py", label="Start a new task", icon=":material/add_circle:")
    st.stop()

for task in listing["tasks"]:
    with st.container(border=True):
        row = st.columns([3, 2, 2, 1, 2])
        files = ", ".join(m["filename"] for m in task["files_metadata"].values())
        row[0].markdown(f"**{escape_markdown(files)}**")
        row[0].caption(
            f"{TOOLS[task['tool_id']].name} · {task['created_at'].replace('T', ' ').rstrip('Z')} UTC"
        )
        label, colour, icon = status_badge(task["status"])
        with row[1]:
            st.badge(label, color=colour, icon=icon)
        if task["status"] == "processing":
            row[2].progress(task["progress"] / 100, text=f"{task['progress']}%")
        elif task["error_code"]:
            row[2].caption(task["error_code"])
        summary = task.get("result_summary") or {}
        row[3].caption(f"{summary.get('total_alerts', '–')} alerts" if summary else "")
        with row[4]:
            st.page_link(
                "pages/task.py",
                label="Open",
                icon=":material/open_in_new:",
                query_params={"id": task["task_id"]},
            )
            if st.button(
                "Run again with a new file", key=f"again_{task['task_id']}", icon=":material/replay:"
            ):
                restart(
                    {"tool_id": task["tool_id"], "agents": task["agents"], "parameters": task["parameters"]}
                )
                st.switch_page("pages/new_task.py")

pager = st.columns([1, 2, 1])
if pager[0].button("← Newer", disabled=page == 0):
    st.session_state["my_tasks_page"] = page - 1
    st.rerun()
pages = (listing["total"] + PAGE_SIZE - 1) // PAGE_SIZE
pager[1].caption(f"Page {page + 1} of {pages}")
if pager[2].button("Older →", disabled=not listing["has_more"]):
    st.session_state["my_tasks_page"] = page + 1
    st.rerun()
