"""The agent contract: what an agent receives (`AgentContext`) and returns (`AgentResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from core.agents.rows import RowRefs

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class LoadedTable:
    """One input file read as a table of text values, with what was learned while reading it.

    Every cell is kept as the text the file holds (missing cells are empty strings), so no
    information is lost before the agents decide what a value means.
    """

    file_key: str
    filename: str
    frame: pd.DataFrame
    format: str  # "csv" or "xlsx"
    size_bytes: int
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    malformed_rows: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "file_key": self.file_key,
            "filename": self.filename,
            "rows": len(self.frame),
            "columns": int(self.frame.shape[1]),
            "size_bytes": int(self.size_bytes),
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "malformed_rows": len(self.malformed_rows),
        }


@dataclass
class Finding:
    """An alert or an issue: what is wrong, where, how often, with examples."""

    severity: str
    agent: str
    code: str
    message: str
    column: str | None = None
    file_key: str | None = None
    count: int = 0
    examples: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "agent": self.agent,
            "code": self.code,
            "message": self.message,
            "column": self.column,
            "file_key": self.file_key,
            "count": int(self.count),
            "examples": [str(e) for e in self.examples][:10],
        }


@dataclass
class Recommendation:
    agent: str
    code: str
    message: str
    column: str | None = None
    file_key: str | None = None
    rows_affected: int = 0
    fix_agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "code": self.code,
            "message": self.message,
            "column": self.column,
            "file_key": self.file_key,
            "rows_affected": int(self.rows_affected),
            "fix_agent": self.fix_agent,
        }


@dataclass
class AgentResult:
    """What one agent found.

    `columns` maps (file_key, column name) to facts the report merges into its per-column
    section; `artifacts` are tables the runner writes out as downloadable files.
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    alerts: list[Finding] = field(default_factory=list)
    issues: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    columns: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[str, pd.DataFrame] = field(default_factory=dict)
    # The rows behind each finding, uncapped; merged into one `issue_rows.csv` by
    # `core.agents.rows.issue_rows_frame` (see that module for the shape).
    row_refs: list[RowRefs] = field(default_factory=list)


ProgressCallback = Callable[[float, str | None], None]


@dataclass
class AgentContext:
    """What an agent may use: the tables, the task's parameters, earlier agents' results,
    a progress callback (fraction 0..1 of this agent's work, optional message), a cache
    shared by the agents of one run (so a column's type is inferred once) and the ids of the
    run's agents in order (so an agent can start work a later agent will need)."""

    tables: dict[str, LoadedTable]
    parameters: dict[str, Any]
    results: dict[str, AgentResult] = field(default_factory=dict)
    progress: ProgressCallback = lambda fraction, message=None: None
    cache: dict[str, Any] = field(default_factory=dict)
    agents: tuple[str, ...] = ()


class Agent(Protocol):
    id: str

    def run(self, context: AgentContext) -> AgentResult: ...
