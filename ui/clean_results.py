"""The clean tool's own results: the score before and after, what changed per agent and per
column, a before/after view of sample rows with the changed cells highlighted, and the change
log. Everything comes from the `cleaning` section of report.json (core.agents.clean.outputs),
so this page draws and decides nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.registry import get_tool

CHANGED_STYLE = "background-color: #FFF3B0; color: #3D2E00; font-weight: 600"
AGENT_NAMES = {a.id: a.name for a in get_tool("clean-my-data").agents}


def _bars(counts: dict[str, int], title: str, names: dict[str, str] | None = None) -> go.Figure | None:
    if not counts:
        return None
    items = sorted(counts.items(), key=lambda kv: kv[1])[-20:]
    labels = [(names or {}).get(k, k) for k, _ in items]
    figure = go.Figure(go.Bar(x=[v for _, v in items], y=labels, orientation="h", marker_color="#1F3A5F"))
    figure.update_layout(
        title=title, height=120 + 26 * len(items), margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    return figure


def before_after_frames(samples: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame, list[set[str]]]:
    """The sample rows before and after cleaning, aligned, and each row's changed columns."""
    before = pd.DataFrame([{"row": s["row"], **s["before"]} for s in samples])
    after = pd.DataFrame([{"row": s["row"], **s["after"]} for s in samples])
    return before, after, [set(s["changed"]) for s in samples]


def _highlighted(frame: pd.DataFrame, changed: list[set[str]]) -> Any:
    def style(row: pd.Series) -> list[str]:
        cells = changed[row.name]
        return [CHANGED_STYLE if column in cells else "" for column in row.index]

    return frame.style.apply(style, axis=1)


def show_cleaning(report: dict[str, Any]) -> None:
    cleaning = report.get("cleaning") or {}
    before, after = cleaning.get("quality_score_before"), cleaning.get("quality_score_after")
    cards = st.columns(4)
    cards[0].metric(
        "Quality score after",
        f"{after:.0f} / 100" if isinstance(after, int | float) else "—",
        delta=f"{after - before:+.1f} from {before:.0f}"
        if isinstance(after, int | float) and before
        else None,
        help="Measured by the profile's quality score on the file before and after cleaning.",
    )
    cards[1].metric("Cells changed", f"{cleaning.get('changes', 0):,}")
    cards[2].metric(
        "Suggestions",
        f"{cleaning.get('suggestions', 0):,}",
        help=f"Changes the tool was less than {cleaning.get('confidence_threshold', 0.8):.0%} sure of: "
        "not applied, listed in suggestions.csv for you to review.",
    )
    cards[3].metric(
        "Rows removed", f"{cleaning.get('rows_removed', 0):,}", help="Listed in removed_rows.csv."
    )
    for note in cleaning.get("notes") or []:
        st.warning(note)
    charts = st.columns(2)
    for place, counts, title, names in (
        (charts[0], cleaning.get("changes_by_agent") or {}, "Changes per agent", AGENT_NAMES),
        (charts[1], cleaning.get("changes_by_column") or {}, "Changes per column", None),
    ):
        figure = _bars(counts, title, names)
        if figure is not None:
            place.plotly_chart(figure, width="stretch")
    samples = cleaning.get("sample_rows") or []
    st.subheader("Before and after")
    if not samples:
        st.success("Nothing needed changing: the cleaned file is the same as yours.", icon="✅")
    else:
        st.caption(
            f"The first {len(samples)} changed row(s). Highlighted cells were changed; row = data row "
            "number (1 = first row after the header)."
        )
        before_frame, after_frame, changed = before_after_frames(samples)
        st.markdown("**Before**")
        st.dataframe(_highlighted(before_frame, changed), hide_index=True, width="stretch")
        st.markdown("**After**")
        st.dataframe(_highlighted(after_frame, changed), hide_index=True, width="stretch")
    st.subheader("Change log")
    log = pd.DataFrame(cleaning.get("change_log_head") or [])
    if log.empty:
        st.info("No cell was changed.")
        return
    filters = st.columns(2)
    agents = sorted(set(log["agent"]))
    chosen = filters[0].multiselect(
        "Agent", agents, default=agents, format_func=lambda a: AGENT_NAMES.get(a, a), key="clean_log_agents"
    )
    columns = ["All columns", *sorted(set(log["column"].astype(str)))]
    column = filters[1].selectbox("Column", columns, key="clean_log_column")
    log = log[log["agent"].isin(chosen)]
    if column != "All columns":
        log = log[log["column"].astype(str) == column]
    st.dataframe(
        log.assign(agent=log["agent"].map(lambda a: AGENT_NAMES.get(a, a))),
        hide_index=True,
        width="stretch",
        column_config={
            "row": st.column_config.NumberColumn("Row", format="%d"),
            "column": st.column_config.TextColumn("Column"),
            "agent": st.column_config.TextColumn("Agent"),
            "rule": st.column_config.TextColumn("Rule"),
            "old_value": st.column_config.TextColumn("Old value"),
            "new_value": st.column_config.TextColumn("New value"),
            "confidence": st.column_config.NumberColumn("Confidence", format="%.2f"),
        },
    )
    total = cleaning.get("changes", 0)
    if total > len(cleaning.get("change_log_head") or []):
        st.caption(
            f"The first {len(cleaning['change_log_head']):,} of {total:,} changes; changes.csv has them all."
        )
