"""The results of a finished task: headline figures, findings, the column explorer, downloads;
or, for a failed task, what went wrong and what finished."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.registry import get_tool
from core.services import Services
from core.users import UserView
from ui.clean_results import show_cleaning
from ui.column_explorer import show_column_explorer
from ui.findings import show_findings
from ui.master_results import TOOL_ID as MASTER_TOOL
from ui.master_results import show_master_results
from ui.text import escape_markdown, human_bytes
from ui.wizard_state import restart


def _recommendations(records: list[dict[str, Any]]) -> None:
    if not records:
        st.success("Nothing to recommend.", icon="✅")
        return
    frame = pd.DataFrame(records)
    shown = [c for c in ("rows_affected", "message", "column", "fix_agent") if c in frame]
    st.dataframe(
        frame[shown],
        hide_index=True,
        width="stretch",
        column_config={
            "rows_affected": st.column_config.NumberColumn("Rows it would fix", format="%d"),
            "fix_agent": st.column_config.TextColumn("Fixed by (clean-my-data)"),
        },
    )


# what a download holds, by the start of its name (a multi-file run adds the file to the name)
FILE_DESCRIPTIONS = (
    ("report.json", "The whole report, for programs"),
    ("report.xlsx", "The report as a workbook: summary, columns, findings, every affected row"),
    ("issue_rows", "Every affected row: row number, column, value and reason"),
    ("quality_scores", "Each column's quality score, dimension by dimension"),
    ("correlations", "Correlations between numeric columns"),
    ("associations", "Associations between categorical columns (Cramér's V)"),
    ("dependencies", "Rules such as zip → city, how often they hold and the rows that break them"),
    ("malformed_rows", "Lines of the file that could not be read as rows"),
    ("cleaned_", "Your data, cleaned, in the format it came in"),
    ("changes", "Every change: row, column, old and new value, rule and confidence"),
    ("suggestions", "Changes proposed but not made: below the confidence threshold"),
    ("removed_rows", "Rows marked for removal, with the reason"),
    ("golden_records", "One golden record per entity; every value names its file and row"),
    ("clusters", "Every input record with the entity it belongs to"),
    ("match_explanations", "Sample pairs, explained field by field"),
    ("matches", "Record pairs compared, with their scores and field-by-field weights"),
    ("conflicts", "Values the files disagree on, per entity and field"),
)
KINDS = {"json": "JSON", "xlsx": "Excel workbook", "csv": "CSV table"}


def describe_download(filename: str, content_type: str) -> str:
    """What a download holds, in words, and its kind."""
    kind = KINDS.get(filename.rsplit(".", 1)[-1], content_type)
    what = next((words for start, words in FILE_DESCRIPTIONS if filename.startswith(start)), None)
    return f"{what} ({kind})" if what else kind


def _downloads(svc: Services, user: UserView, task: dict[str, Any]) -> None:
    downloads = svc.tasks.get_downloads(user.id, task["task_id"])
    if not downloads:
        st.info("This task produced no files.")
        return
    for item in downloads:
        row = st.columns([2, 4, 1, 2])
        row[0].text(item["filename"])
        row[1].caption(describe_download(item["filename"], item["content_type"]))
        row[2].caption(human_bytes(item["size_bytes"]))
        row[3].link_button("Download", item["url"], icon=":material/download:")
    expiry = downloads[0]["expires_at"]
    st.caption(
        f"Download links expire at {str(expiry).replace('T', ' ')[:16]} UTC; reopen this page for new ones."
    )


def show_results(svc: Services, user: UserView, task: dict[str, Any]) -> None:
    report = svc.tasks.read_report(user.id, task["task_id"]) or {}
    summary = report.get("summary") or task.get("result_summary") or {}
    severity = summary.get("alerts_by_severity") or {}
    cards = st.columns(6)
    score = summary.get("quality_score")
    cards[0].metric(
        "Quality score",
        f"{score:.0f} / 100" if isinstance(score, int | float) else "—",
        help=None if score is not None else "Choose the Quality score check to get one.",
    )
    cards[1].metric("Rows", f"{summary.get('rows', 0):,}")
    cards[2].metric("Columns", f"{summary.get('columns', 0):,}")
    cards[3].metric("Critical / high", f"{severity.get('critical', 0) + severity.get('high', 0):,}")
    cards[4].metric("Medium", f"{severity.get('medium', 0):,}")
    cards[5].metric("Low / info", f"{severity.get('low', 0) + severity.get('info', 0):,}")
    failed = summary.get("agents_failed") or []
    if failed:
        tool = get_tool(task["tool_id"])
        st.warning(
            "These checks stopped unexpectedly and were not charged: "
            + ", ".join(tool.agent(a).name for a in failed)
        )
    if task["tool_id"] == MASTER_TOOL:
        show_master_results(svc, user, task, report)
    names = ["Alerts", "Issues", "Recommendations", "Columns", "Downloads"]
    if report.get("cleaning"):  # clean-my-data: its before/after view comes first
        tabs = st.tabs(["Before and after", *names])
        with tabs[0]:
            show_cleaning(report)
        tabs = tabs[1:]
    else:
        tabs = st.tabs(names)
    with tabs[0]:
        show_findings(report.get("alerts", []), "alerts", "alerts")
    with tabs[1]:
        show_findings(report.get("issues", []), "issues", "issues")
    with tabs[2]:
        _recommendations(report.get("recommendations", []))
    with tabs[3]:
        show_column_explorer(report)
    with tabs[4]:
        _downloads(svc, user, task)


def show_failure(
    svc: Services, user: UserView, task: dict[str, Any], agent_rows: list[dict[str, Any]]
) -> None:
    if task["status"] == "cancelled":
        st.info("This task was cancelled.")
    else:
        st.error(escape_markdown(task.get("error_message") or "The task did not finish."))
        st.caption(f"Error code: {task.get('error_code') or 'unknown'}")
    st.subheader("What ran")
    st.dataframe(agent_rows, hide_index=True, width="stretch")
    if task.get("output_keys"):
        st.subheader("Partial results")
        show_results(svc, user, task)
    if st.button("Run again", type="primary", icon=":material/replay:"):
        restart({"tool_id": task["tool_id"], "agents": task["agents"], "parameters": task["parameters"]})
        st.switch_page("pages/new_task.py")
