"""The cleaning state: the one road every change of a clean-my-data run travels.

The clean agents never write into a table themselves. They *propose* new values for cells,
with the rule that found them and a confidence; the state applies what is at or above the
task's `confidence_threshold` and keeps the rest as suggestions, so a wrong repair can only
happen where the tool was sure. Every applied change is logged with the cell's old value, so
the original is always recoverable, and removed rows are marked (never dropped from the log).

The state lives in the run's shared cache: each agent reads the values the earlier agents
left (tidy text first, then missing markers, formats, categories, dependencies...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.profile.inference import ColumnProfile, as_text

CACHE_KEY = "clean.state"
DEFAULT_THRESHOLD = 0.8
CHANGE_FIELDS = ("file_key", "row", "column", "old_value", "new_value", "agent", "rule", "confidence")


def clean_parameter(context: AgentContext, name: str) -> Any:
    """A parameter of the clean tool: the task's value, else the registry's default (agent
    tests and direct calls give only the parameters they care about)."""
    if name in context.parameters:
        return context.parameters[name]
    from core.registry import CLEAN  # the registry names the agents' modules: import late

    for spec in CLEAN.parameters:
        if spec.name == name:
            return spec.default
    raise KeyError(name)


@dataclass
class Removal:
    row: int  # 0-based
    agent: str
    rule: str
    reason: str
    confidence: float


@dataclass
class CleaningState:
    """Working copies of the tables plus the log of what changed, was suggested or removed."""

    tables: dict[str, LoadedTable]
    threshold: float = DEFAULT_THRESHOLD
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _changes: list[dict[str, Any]] = field(default_factory=list)
    _suggestions: list[dict[str, Any]] = field(default_factory=list)
    removed: dict[str, dict[int, Removal]] = field(default_factory=dict)
    flagged_rows: dict[str, dict[int, Removal]] = field(default_factory=dict)
    _profiles: dict[tuple[str, str], ColumnProfile] = field(default_factory=dict)
    _suggested: set[tuple[str, int, str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for key, table in self.tables.items():
            frame = table.frame.copy()
            for column in frame.columns:
                frame[column] = as_text(frame[column])
            self.frames[key] = frame
            self.removed.setdefault(key, {})
            self.flagged_rows.setdefault(key, {})

    # ---- reading ----------------------------------------------------------------------------
    def column(self, file_key: str, column: str) -> pd.Series:
        """The column's current text ("" for empty cells)."""
        return self.frames[file_key][column]

    def profile(self, file_key: str, column: str) -> ColumnProfile:
        """The profile agents' view of the column as it is now (recomputed after it changed),
        so every clean rule judges a column by the same inference the profile tool uses."""
        key = (file_key, column)
        if key not in self._profiles:
            text = self.column(file_key, column).copy()
            text.name = column
            self._profiles[key] = ColumnProfile(file_key, column, text)
        return self._profiles[key]

    def profiles(self) -> list[ColumnProfile]:
        """The profiles computed so far of the columns as they are now."""
        return list(self._profiles.values())

    def working_table(self, file_key: str) -> LoadedTable:
        """The table as it is now, for reusing profile computations on the cleaned values."""
        table = self.tables[file_key]
        return LoadedTable(
            table.file_key,
            table.filename,
            self.frames[file_key],
            table.format,
            table.size_bytes,
            table.encoding,
            table.delimiter,
            table.sheet,
        )

    def live_rows(self, file_key: str) -> np.ndarray:
        """A mask of the rows not removed so far."""
        mask = np.ones(len(self.frames[file_key]), dtype=bool)
        gone = list(self.removed[file_key])
        if gone:
            mask[gone] = False
        return mask

    # ---- writing ----------------------------------------------------------------------------
    def propose(
        self,
        file_key: str,
        column: str,
        rows: Sequence[int] | np.ndarray,
        new_values: Sequence[str],
        agent: str,
        rule: str,
        confidence: float | Sequence[float],
    ) -> tuple[int, int]:
        """Offer new values for cells: applied at or above the threshold, else suggested.
        Cells already holding the value, and removed rows, are skipped. Returns (applied,
        suggested)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return 0, 0
        confidences = np.broadcast_to(np.asarray(confidence, dtype=float), rows.shape)
        series = self.frames[file_key][column]
        current = series.to_numpy()
        gone = self.removed[file_key]
        applied_rows: list[int] = []
        applied_values: list[str] = []
        applied = suggested = 0
        for row, new, conf in zip(rows.tolist(), new_values, confidences.tolist(), strict=True):
            old = current[row]
            new = "" if new is None else str(new)
            if new == old or row in gone:
                continue
            record = {
                "file_key": file_key,
                "row": row,
                "column": column,
                "old_value": old,
                "new_value": new,
                "agent": agent,
                "rule": rule,
                "confidence": round(float(conf), 3),
            }
            if conf >= self.threshold:
                self._changes.append(record)
                applied_rows.append(row)
                applied_values.append(new)
                applied += 1
            elif (file_key, row, column, new) not in self._suggested:
                self._suggested.add((file_key, row, column, new))  # two rules, one suggestion
                self._suggestions.append(record)
                suggested += 1
        if applied_rows:
            position = self.frames[file_key].columns.get_loc(column)
            self.frames[file_key].iloc[applied_rows, position] = applied_values
            self._profiles.pop((file_key, column), None)
        return applied, suggested

    def remove_row(
        self, file_key: str, row: int, agent: str, rule: str, reason: str, confidence: float
    ) -> bool:
        """Mark a row as removed from the cleaned file (at or above the threshold) or only
        flagged (below it). True when removed."""
        if row in self.removed[file_key]:
            return False
        entry = Removal(row, agent, rule, reason, confidence)
        if confidence >= self.threshold:
            self.removed[file_key][row] = entry
            return True
        self.flagged_rows[file_key].setdefault(row, entry)
        return False

    # ---- the log ----------------------------------------------------------------------------
    def changes_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._changes, columns=list(CHANGE_FIELDS))

    def suggestions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._suggestions, columns=list(CHANGE_FIELDS))

    def records_of(self, agent: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The applied changes and the suggestions of one agent, in the order they were made."""
        return (
            [c for c in self._changes if c["agent"] == agent],
            [c for c in self._suggestions if c["agent"] == agent],
        )

    def cleaned_frame(self, file_key: str) -> pd.DataFrame:
        """The cleaned table: every column and the original row order, removed rows left out
        (the working frame itself when none was removed: pandas copies it on a later write)."""
        live = self.live_rows(file_key)
        frame = self.frames[file_key]
        return frame if live.all() else frame[live]


def cleaning_state(context: AgentContext) -> CleaningState:
    """The run's cleaning state, created by the first clean agent that runs."""
    state = context.cache.get(CACHE_KEY)
    if state is None:
        threshold = float(clean_parameter(context, "confidence_threshold"))
        state = CleaningState(context.tables, threshold)
        context.cache[CACHE_KEY] = state
    return state


def agent_result(state: CleaningState, agent: str, notes: list[Finding] | None = None) -> AgentResult:
    """The result every clean agent returns: how many cells it changed and suggested, per
    rule and column, as metrics and one info alert per (column, rule)."""
    result = AgentResult()
    changes, suggestions = state.records_of(agent)
    by_column: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for change in changes:
        by_column[change["column"]] = by_column.get(change["column"], 0) + 1
        by_rule[change["rule"]] = by_rule.get(change["rule"], 0) + 1
        groups.setdefault((change["file_key"], change["column"], change["rule"]), []).append(change)
    result.metrics = {
        "changes": len(changes),
        "suggestions": len(suggestions),
        "changes_by_column": by_column,
        "changes_by_rule": by_rule,
        "rows_removed": sum(1 for rows in state.removed.values() for r in rows.values() if r.agent == agent),
    }
    for (file_key, column, rule), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        result.alerts.append(
            Finding(
                severity="info",
                agent=agent,
                code=f"CLEANED_{rule.upper()}",
                message=f"{len(items):,} cell(s) of '{column}' changed by the rule '{rule}'.",
                column=column,
                file_key=file_key,
                count=len(items),
                examples=[f"{c['old_value']!r} → {c['new_value']!r}" for c in items[:5]],
            )
        )
    pending: dict[tuple[str, str, str], int] = {}
    for item in suggestions:
        key = (item["file_key"], item["column"], item["rule"])
        pending[key] = pending.get(key, 0) + 1
    for (file_key, column, rule), count in sorted(pending.items(), key=lambda kv: -kv[1]):
        result.alerts.append(
            Finding(
                severity="low",
                agent=agent,
                code=f"SUGGESTED_{rule.upper()}",
                message=f"{count:,} cell(s) of '{column}' could be changed by the rule '{rule}', but the "
                "tool is not sure enough to apply it; see suggestions.csv.",
                column=column,
                file_key=file_key,
                count=count,
            )
        )
    result.alerts.extend(notes or [])
    return result
