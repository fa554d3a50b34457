"""The results of a finished task: headline figures, findings, the column explorer, downloads;
or, for a failed task, what went wrong and what finished."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.registry import get_tool
from core.services import Services
from core.users import UserView
from ui.clean_results import show_cleaning
from ui.master_results import TOOL_ID as MASTER_TOOL
from ui.master_results import show_master_results
from ui.status import SEVERITY_COLOURS
from ui.text import escape_markdown, human_bytes
from ui.wizard_state import restart

SEVERITIES = list(SEVERITY_COLOURS)


def _severity_style(frame: pd.DataFrame) -> Any:
    def colour(value: object) -> str:
        hexcode = SEVERITY_COLOURS.get(str(value))
        return f"color: white; background-color: {hexcode}; font-weight: 600" if hexcode else ""

    return frame.style.map(colour, subset=["severity"]) if "severity" in frame else frame


def _findings(records: list[dict[str, Any]], kind: str, key: str) -> None:
    if not records:
        st.success(f"No {kind} found.", icon="✅")
        return
    frame = pd.DataFrame(records)
    filters = st.columns([2, 2, 3])
    severities = [s for s in SEVERITIES if s in set(frame.get("severity", []))]
    chosen = filters[0].multiselect("Severity", severities, default=severities, key=f"{key}_sev")
    columns = sorted({str(c) for c in frame.get("column", []) if c})
    column = filters[1].selectbox("Column", ["All columns", *columns], key=f"{key}_col")
    search = filters[2].text_input("Search", key=f"{key}_search", placeholder="Words in the message")
    if "severity" in frame:
        frame = frame[frame["severity"].isin(chosen)]
    if column != "All columns":
        frame = frame[frame["column"].astype(str) == column]
    if search:
        frame = frame[frame["message"].str.contains(search, case=False, regex=False)]
    if "column" in frame:
        frame = frame.assign(column=frame["column"].fillna("").astype(str))  # whole-file findings
    if "examples" in frame:
        frame = frame.assign(examples=frame["examples"].map(lambda v: ", ".join(map(str, v or []))))
    shown = [c for c in ("severity", "column", "message", "count", "examples", "code", "agent") if c in frame]
    st.dataframe(
        _severity_style(frame[shown].reset_index(drop=True)),
        hide_index=True,
        width="stretch",
        column_config={
            "examples": st.column_config.TextColumn("Examples (affected values)"),
            "count": st.column_config.NumberColumn("Rows", format="%d"),
        },
    )


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


def _histogram(column: dict[str, Any]) -> go.Figure | None:
    hist = column.get("histogram") or {}
    bins, counts = hist.get("bins"), hist.get("counts")
    if not bins or not counts:
        return None
    if len(bins) == len(counts) + 1 and all(isinstance(b, int | float) for b in bins):
        centres = [(a + b) / 2 for a, b in itertools.pairwise(bins)]
        widths = [b - a for a, b in itertools.pairwise(bins)]
        figure = go.Figure(go.Bar(x=centres, y=counts, width=widths, marker_color="#1F6FEB"))
    else:
        figure = go.Figure(go.Bar(x=[str(b) for b in bins[: len(counts)]], y=counts, marker_color="#1F6FEB"))
    figure.update_layout(
        title="Distribution",
        xaxis_title="value",
        yaxis_title="rows",
        bargap=0.02,
        height=320,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def _top_values(column: dict[str, Any]) -> go.Figure | None:
    top = column.get("top_values") or []
    if not top:
        return None
    labels = [str(v.get("value")) for v in top][::-1]
    figure = go.Figure(
        go.Bar(
            x=[v.get("count") for v in top][::-1],
            y=labels,
            orientation="h",
            marker_color="#1F6FEB",
            hovertemplate="%{y}: %{x} rows<extra></extra>",
        )
    )
    figure.update_layout(
        title="Most common values",
        height=max(240, 28 * len(labels) + 80),
        margin={"t": 40, "b": 30, "l": 10, "r": 10},
        yaxis={"type": "category"},
    )
    return figure


def _missing_chart(columns: list[dict[str, Any]]) -> go.Figure | None:
    if not any("missing_ratio" in c for c in columns):
        return None
    names = [str(c["name"]) for c in columns]
    ratios = [round(100 * (c.get("missing_ratio") or 0), 2) for c in columns]
    figure = go.Figure(
        go.Bar(x=names, y=ratios, marker_color="#F79009", hovertemplate="%{x}: %{y}% missing<extra></extra>")
    )
    figure.update_layout(
        title="Missing values by column (%)",
        yaxis={"range": [0, 100]},
        height=320,
        margin={"t": 40, "b": 80, "l": 40, "r": 10},
        xaxis={"type": "category"},
    )
    return figure


def _correlation_heatmap(report: dict[str, Any]) -> go.Figure | None:
    files = ((report.get("agents", {}).get("relationships") or {}).get("metrics") or {}).get("files") or {}
    pairs = next((f.get("correlation_pairs") for f in files.values() if f.get("correlation_pairs")), None)
    if not pairs:
        return None
    names = list(dict.fromkeys([p["a"] for p in pairs] + [p["b"] for p in pairs]))
    index = {name: i for i, name in enumerate(names)}
    matrix: list[list[float | None]] = [[1.0 if a == b else None for b in names] for a in names]
    for pair in pairs:
        a, b = index[pair["a"]], index[pair["b"]]
        matrix[a][b] = matrix[b][a] = pair["r"]
    labels = [str(n) for n in names]
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            hovertemplate="%{x} ~ %{y}: %{z:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Correlations between numeric columns", height=420, margin={"t": 40, "b": 40, "l": 40, "r": 10}
    )
    return figure


FACTS = (
    "quality_score",
    "inferred_type",
    "semantic_type",
    "count",
    "missing_count",
    "distinct_count",
    "min",
    "max",
    "mean",
    "median",
    "std",
    "date_format",
)


def _column_explorer(report: dict[str, Any]) -> None:
    columns = report.get("columns") or []
    if not columns:
        st.info("This report has no per-column figures.")
        return
    missing = _missing_chart(columns)
    if missing is not None:
        st.plotly_chart(missing, width="stretch", key="missing_chart")
    heatmap = _correlation_heatmap(report)
    if heatmap is not None:
        st.plotly_chart(heatmap, width="stretch", key="correlations_chart")
    labels = [f"{c['name']}" for c in columns]
    index = st.selectbox("Column", range(len(columns)), format_func=lambda i: labels[i], key="explore_col")
    column = columns[index]
    facts = {k.replace("_", " "): column[k] for k in FACTS if column.get(k) is not None}
    left, right = st.columns([1, 2])
    with left:
        st.dataframe(
            pd.DataFrame({"fact": list(facts), "value": [str(v) for v in facts.values()]}),
            hide_index=True,
            width="stretch",
        )
    with right:
        chart = _histogram(column) or _top_values(column)
        if chart is not None:
            st.plotly_chart(chart, width="stretch", key="column_chart")
        else:
            st.caption("No chart for this column.")
    findings = [
        a for a in report.get("alerts", []) + report.get("issues", []) if a.get("column") == column["name"]
    ]
    if findings:
        st.markdown("**Findings in this column**")
        _findings(findings, "findings", "col_findings")


def _downloads(svc: Services, user: UserView, task: dict[str, Any]) -> None:
    downloads = svc.tasks.get_downloads(user.id, task["task_id"])
    if not downloads:
        st.info("This task produced no files.")
        return
    kinds = {"json": "Report data (JSON)", "xlsx": "Excel workbook", "csv": "Table (CSV)"}
    for item in downloads:
        row = st.columns([3, 2, 1, 2])
        row[0].text(item["filename"])
        row[1].caption(kinds.get(item["filename"].rsplit(".", 1)[-1], item["content_type"]))
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
        _findings(report.get("alerts", []), "alerts", "alerts")
    with tabs[1]:
        _findings(report.get("issues", []), "issues", "issues")
    with tabs[2]:
        _recommendations(report.get("recommendations", []))
    with tabs[3]:
        _column_explorer(report)
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
