"""The new-task wizard's state, kept in the session between reruns.

Pure data and rules (no drawing), so the steps can be tested without a browser: which step is
shown, what the user chose, the task created for the chosen files, and each file slot's
upload progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core.registry import ToolSpec, get_tool

STEPS = ("Tool", "Agents", "Settings", "Files", "Start")
STATE_KEY = "dq_wizard"


@dataclass
class SlotFile:
    """The file chosen for one slot and how far its upload got."""

    source: str  # "direct" | "server" | "sample"
    name: str
    size: int
    uploaded: bool = False
    error: str | None = None
    selection: str | None = None  # the direct-upload component's id for this pick of a file


@dataclass
class Wizard:
    step: int = 0
    tool_id: str | None = None
    agents: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    files: dict[str, SlotFile] = field(default_factory=dict)
    task_id: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0  # bumps when the wizard restarts, so widgets get fresh keys

    @property
    def tool(self) -> ToolSpec | None:
        return get_tool(self.tool_id) if self.tool_id else None

    def choose_tool(self, tool_id: str) -> None:
        if tool_id != self.tool_id:
            tool = get_tool(tool_id)
            self.tool_id = tool_id
            self.agents = tool.default_agents()
            self.parameters = {p.name: p.default for p in tool.parameters}
            self.reset_files()
        self.step = 1

    def cost(self) -> int:
        tool = self.tool
        return sum(tool.agent(a).credit_cost for a in self.agents) if tool else 0

    def reset_files(self) -> None:
        self.files = {}
        self.task_id = None
        self.targets = {}

    def files_ready(self) -> bool:
        tool = self.tool
        if tool is None or self.task_id is None:
            return False
        required = {s.key for s in tool.file_slots if s.required}
        return required <= set(self.files) and all(f.uploaded for f in self.files.values())

    def files_metadata(self) -> dict[str, dict[str, Any]]:
        return {slot: {"filename": f.name, "size_bytes": f.size} for slot, f in self.files.items()}


def get_wizard() -> Wizard:
    if STATE_KEY not in st.session_state:
        st.session_state[STATE_KEY] = Wizard()
    return st.session_state[STATE_KEY]


def restart(prefill: dict[str, Any] | None = None) -> Wizard:
    """A fresh wizard; `prefill` (tool_id, agents, parameters) starts it at the files step."""
    old = st.session_state.get(STATE_KEY)
    wizard = Wizard(generation=(old.generation + 1) if old else 0)
    if prefill:
        wizard.choose_tool(prefill["tool_id"])
        tool = get_tool(prefill["tool_id"])
        wizard.agents = [a for a in prefill.get("agents", []) if tool.agent(a).available] or wizard.agents
        wizard.parameters.update(prefill.get("parameters", {}))
        wizard.step = 3
    st.session_state[STATE_KEY] = wizard
    return wizard
