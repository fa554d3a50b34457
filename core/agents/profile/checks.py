"""A check that found something: the one shape every row-level finding of the profile agents
takes before it becomes an alert, its rows and a recommendation.

Keeping the three together means an alert can never say "412 rows" while `issue_rows.csv`
lists 411, and the quality score can count the very same rows per dimension
(completeness, validity, uniqueness, consistency) without re-deriving any rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from core.agents.base import AgentResult, Finding, Recommendation
from core.agents.rows import refs

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency")


@dataclass
class Check:
    """Rows of one column (or whole rows, `column=None`) that break one rule."""

    code: str
    severity: str
    dimension: str  # one of DIMENSIONS, or "none" for findings that cost no quality points
    file_key: str
    column: str | None
    rows: np.ndarray  # 0-based positions
    reason: str
    message: str
    examples: list[Any] = field(default_factory=list)
    fix_agent: str | None = None
    fix_message: str | None = None
    values: Any = None  # per-row value override for issue_rows (see RowRefs)
    reasons: Any = None  # per-row reason override

    @property
    def count(self) -> int:
        return len(self.rows)

    def keep_rows(self, keep: np.ndarray) -> None:
        """Keep only the rows where `keep` (a mask over `rows`) is true, with their per-row
        values and reasons, so the three stay aligned."""
        self.rows = self.rows[keep]
        self.values = _kept(self.values, keep)
        self.reasons = _kept(self.reasons, keep)


def _kept(per_row: Any, keep: np.ndarray) -> Any:
    if per_row is None or isinstance(per_row, str):  # nothing per row, or one text for every row
        return per_row
    if isinstance(per_row, pa.Array | pa.ChunkedArray):
        return per_row.filter(pa.array(keep))
    return np.asarray(per_row, dtype=object)[keep]


def emit(result: AgentResult, agent: str, checks: list[Check]) -> None:
    """Add each check to `result` as an alert, its rows and (when it names a fix) a
    recommendation that counts the rows it would fix."""
    for check in checks:
        if check.count == 0:
            continue
        result.alerts.append(
            Finding(
                severity=check.severity,
                agent=agent,
                code=check.code,
                message=check.message,
                column=check.column,
                file_key=check.file_key,
                count=check.count,
                examples=check.examples[:5],
            )
        )
        result.row_refs.append(
            refs(
                check.file_key,
                check.column,
                agent,
                check.code,
                check.reason,
                check.rows,
                values=check.values,
                reasons=check.reasons,
            )
        )
        if check.fix_message:
            result.recommendations.append(
                Recommendation(
                    agent=agent,
                    code=f"FIX_{check.code}",
                    message=check.fix_message,
                    column=check.column,
                    file_key=check.file_key,
                    rows_affected=check.count,
                    fix_agent=check.fix_agent,
                )
            )
