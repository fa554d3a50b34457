"""Small builders shared by the profile agent tests: a table from columns of text, a context,
and the rows (1-based, as users see them in issue_rows.csv) behind a finding."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.rows import issue_rows_table


def table_of(columns: dict[str, list[str]], file_key: str = "primary") -> LoadedTable:
    frame = pd.DataFrame(columns, dtype="str")
    return LoadedTable(file_key, f"{file_key}.csv", frame, "csv", 0)


def context_of(*tables: LoadedTable, **parameters: Any) -> AgentContext:
    return AgentContext(tables={t.file_key: t for t in tables}, parameters=parameters)


def alerts(result: AgentResult, code: str, column: str | None = None) -> list[Finding]:
    return [a for a in result.alerts if a.code == code and (column is None or a.column == column)]


def alert(result: AgentResult, code: str, column: str | None = None) -> Finding:
    found = alerts(result, code, column)
    assert len(found) == 1, (code, column, [(a.code, a.column) for a in result.alerts])
    return found[0]


def issue_rows(context: AgentContext, result: AgentResult) -> pd.DataFrame:
    """The issue_rows.csv table for one agent's result, as the report builder makes it."""
    table = issue_rows_table(context.tables, [result])
    columns = ["row", "column", "value", "reason", "agent", "code"]
    return pd.DataFrame(columns=columns) if table is None else table.to_pandas()


def rows_of(context: AgentContext, result: AgentResult, code: str, column: str | None = None) -> set[int]:
    frame = issue_rows(context, result)
    frame = frame[frame["code"] == code]
    if column is not None:
        frame = frame[frame["column"] == column]
    return set(frame["row"].astype(int))


def codes_for(result: AgentResult, column: str) -> set[str]:
    return {a.code for a in result.alerts if a.column == column}


def empty_report() -> dict[str, Any]:
    """The smallest report `report_xlsx_bytes` accepts, for tests about the tables it writes."""
    return {
        "task_id": "t",
        "tool_id": "profile-my-data",
        "generated_at": "now",
        "summary": {},
        "dataset": {"files": []},
        "columns": [],
        "alerts": [],
        "issues": [],
        "recommendations": [],
        "agents": {},
    }
