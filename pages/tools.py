"""The tools catalogue, drawn from the registry: what each tool gives and which agents exist."""

from __future__ import annotations

import streamlit as st

from core.registry import TOOLS

st.title("Data-quality workbench")
st.write(
    "Profile, clean and master your CSV and Excel files. Each tool runs a set of analysis agents; "
    "every agent costs a few credits."
)
st.info(
    "Signing in and running tasks from the browser are not available in this version yet. "
    "Tasks can be run today from the command line: `python -m core run --help`.",
    icon="ℹ️",
)

for tool in TOOLS.values():
    with st.container(border=True):
        header, badge = st.columns([5, 1])
        header.subheader(tool.name)
        header.caption(f"`{tool.id}`")
        if not tool.available:
            badge.warning("Not available yet")
        st.write(tool.description)
        rows = [
            {
                "Agent": agent.name,
                "What it does": agent.description,
                "Credits": agent.credit_cost,
                "Status": "Available" if agent.available else "Not available yet",
            }
            for agent in tool.agents
        ]
        st.dataframe(rows, hide_index=True, width="stretch")
