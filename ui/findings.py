"""The findings tables (alerts, issues): severity colours and the filters above them."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.status import SEVERITY_COLOURS

SEVERITIES = list(SEVERITY_COLOURS)


def severity_style(frame: pd.DataFrame) -> Any:
    def colour(value: object) -> str:
        hexcode = SEVERITY_COLOURS.get(str(value))
        return f"color: white; background-color: {hexcode}; font-weight: 600" if hexcode else ""

    return frame.style.map(colour, subset=["severity"]) if "severity" in frame else frame


def show_findings(records: list[dict[str, Any]], kind: str, key: str, by_column: bool = True) -> None:
    """A filterable table of findings. `key` names its widgets: a table whose records change
    while the page lives (the column explorer's) needs a key per record set, or the severity
    filter would keep the choices made for other records and hide findings. `by_column`
    offers the column filter (pointless when every record is about one column)."""
    if not records:
        st.success(f"No {kind} found.", icon="✅")
        return
    frame = pd.DataFrame(records)
    filters = st.columns([2, 2, 3]) if by_column else st.columns([2, 3])
    severities = [s for s in SEVERITIES if s in set(frame.get("severity", []))]
    chosen = filters[0].multiselect("Severity", severities, default=severities, key=f"{key}_sev")
    column = "All columns"
    if by_column:
        columns = sorted({str(c) for c in frame.get("column", []) if c})
        column = filters[1].selectbox("Column", ["All columns", *columns], key=f"{key}_col")
    search = filters[-1].text_input("Search", key=f"{key}_search", placeholder="Words in the message")
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
    if not by_column and "column" in shown:
        shown.remove("column")
    st.dataframe(
        severity_style(frame[shown].reset_index(drop=True)),
        hide_index=True,
        width="stretch",
        column_config={
            "examples": st.column_config.TextColumn("Examples (affected values)"),
            "count": st.column_config.NumberColumn("Rows", format="%d"),
        },
    )
