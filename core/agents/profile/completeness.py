"""The `completeness` agent: empty cells and the blanks that pretend not to be.

"N/A", "-" or a cell of spaces count as filled in every spreadsheet formula, so a column can
look complete and still be a third empty. Truly empty cells and these disguised ones are
counted apart, because only the second kind needs cleaning before anything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable, Recommendation
from core.agents.profile.inference import ColumnProfile, each_column
from core.agents.rows import RowRefs, refs

AGENT_ID = "completeness"
FIX_AGENT = "missing_values"
MAX_MARKER_EXAMPLES = 10


def missing_severity(ratio: float) -> str:
    """How bad a share of missing cells is: half empty is high, a few percent is low."""
    if ratio >= 0.5:
        return "high"
    if ratio >= 0.2:
        return "medium"
    if ratio >= 0.05:
        return "low"
    return "info"


class CompletenessAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        files: dict[str, dict[str, Any]] = {}
        row_gaps: dict[str, np.ndarray] = {}
        for table, profile in each_column(context, ("missing",)):
            if table.file_key not in files:
                files[table.file_key] = _empty_totals(table)
                row_gaps[table.file_key] = np.zeros(len(table.frame), dtype=bool)
            empty = _empty_values(profile)
            facts = _column_facts(profile, empty, len(table.frame))
            if facts["missing_count"]:  # a full column leaves the complete rows as they are
                row_gaps[table.file_key] |= profile.missing.to_numpy()
            result.columns[(table.file_key, profile.name)] = facts
            totals = files[table.file_key]
            totals["cells_missing"] += facts["missing_count"]
            totals["null_cells"] += facts["null_count"]
            totals["disguised_missing_cells"] += facts["disguised_missing_count"]
            totals["columns_with_missing"] += facts["missing_count"] > 0
            totals["empty_columns"] += facts["missing_count"] == len(table.frame)
            alerts = _alerts(table, profile, facts)
            result.alerts.extend(alerts)
            result.row_refs.extend(_row_refs(table, profile, empty, {a.code for a in alerts}))
            result.recommendations.extend(_recommendations(table, profile, facts))
        for file_key, totals in files.items():
            _finish(totals, row_gaps[file_key])
        result.metrics = {**_overall(files), "files": files}
        return result


def _empty_values(profile: ColumnProfile) -> np.ndarray:
    """Per distinct value: True for the empty text. The truly empty cells (`profile.null`)
    are the rows of that value, so they are counted and found without a pass over the
    million cells' text. The empty text is a missing marker, so a column without markers
    (most columns) needs no comparison at all."""
    missing_codes = profile.missing_codes
    if not missing_codes.any():
        return np.zeros(len(missing_codes), dtype=bool)
    return pc.fill_null(pc.equal(profile.encoded.values, ""), False).to_numpy(zero_copy_only=False)


def _disguised_values(profile: ColumnProfile, empty: np.ndarray | None = None) -> np.ndarray:
    """Per distinct value: a missing marker that is not the empty text ("N/A", "-", spaces);
    `empty` is `_empty_values(profile)` when already known."""
    return profile.missing_codes & ~(_empty_values(profile) if empty is None else empty)


def _column_facts(profile: ColumnProfile, empty: np.ndarray, rows: int) -> dict[str, Any]:
    """Counts of empty and missing cells; `empty` is `_empty_values(profile)`."""
    counts = profile.encoded.counts
    null = int(counts[empty].sum())  # = profile.null.sum()
    missing = int(counts[profile.missing_codes].sum())  # = profile.missing.sum()
    return {
        "null_count": null,
        "disguised_missing_count": missing - null,
        "missing_count": missing,
        "missing_ratio": missing / rows if rows else 0.0,
    }


def _empty_totals(table: LoadedTable) -> dict[str, Any]:
    rows, columns = len(table.frame), int(table.frame.shape[1])
    return {
        "rows": rows,
        "columns": columns,
        "cells": rows * columns,
        "cells_missing": 0,
        "null_cells": 0,
        "disguised_missing_cells": 0,
        "columns_with_missing": 0,
        "empty_columns": 0,
    }


def _finish(totals: dict[str, Any], row_gaps: np.ndarray) -> None:
    complete = int((~row_gaps).sum())
    totals["complete_rows"] = complete
    totals["complete_rows_ratio"] = complete / totals["rows"] if totals["rows"] else 0.0
    totals["completeness_ratio"] = 1 - totals["cells_missing"] / totals["cells"] if totals["cells"] else 0.0


def _overall(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The whole run's totals (the sum over files; ratios recomputed from the sums)."""
    keys = (
        "rows",
        "cells",
        "cells_missing",
        "null_cells",
        "disguised_missing_cells",
        "columns_with_missing",
        "empty_columns",
        "complete_rows",
    )
    overall = {key: sum(int(f[key]) for f in files.values()) for key in keys}
    overall["complete_rows_ratio"] = overall["complete_rows"] / overall["rows"] if overall["rows"] else 0.0
    overall["completeness_ratio"] = (
        1 - overall["cells_missing"] / overall["cells"] if overall["cells"] else 0.0
    )
    return overall


def disguised_markers(profile: ColumnProfile) -> list[tuple[str, int]]:
    """The marker values seen in a column, most frequent first, spaces made visible."""
    markers = np.flatnonzero(_disguised_values(profile))  # their rows' count is the value's count
    texts = profile.encoded.values.take(pa.array(markers)).to_pylist()
    counts = profile.encoded.counts[markers].tolist()
    pairs = sorted(
        ((str(v), int(c)) for v, c in zip(texts, counts, strict=True)), key=lambda p: (-p[1], p[0])
    )
    return [(v if v.strip() else "(only spaces)", c) for v, c in pairs]


def _alerts(table: LoadedTable, profile: ColumnProfile, facts: dict[str, Any]) -> list[Finding]:
    alerts = []
    missing, ratio = facts["missing_count"], facts["missing_ratio"]
    name = profile.name
    if missing and missing == len(table.frame):
        alerts.append(
            Finding(
                severity="high",
                agent=AGENT_ID,
                code="EMPTY_COLUMN",
                message=f"Column '{name}' is empty in every row.",
                column=name,
                file_key=table.file_key,
                count=missing,
            )
        )
    elif missing:
        alerts.append(
            Finding(
                severity=missing_severity(ratio),
                agent=AGENT_ID,
                code="MISSING_VALUES",
                message=f"Column '{name}' is missing a value in {missing:,} row(s) ({ratio:.1%}).",
                column=name,
                file_key=table.file_key,
                count=missing,
            )
        )
    if facts["disguised_missing_count"]:
        markers = disguised_markers(profile)
        shown = ", ".join(f"'{v}'" for v, _ in markers[:3])
        alerts.append(
            Finding(
                severity="medium",
                agent=AGENT_ID,
                code="DISGUISED_MISSING",
                message=f"Column '{name}' has {facts['disguised_missing_count']:,} cell(s) that look "
                f"filled but mean 'no value' ({shown}); formulas count them as data.",
                column=name,
                file_key=table.file_key,
                count=facts["disguised_missing_count"],
                examples=[v for v, _ in markers[:MAX_MARKER_EXAMPLES]],
            )
        )
    return alerts


def _row_refs(
    table: LoadedTable, profile: ColumnProfile, empty: np.ndarray, codes: set[str]
) -> list[RowRefs]:
    """The cells behind MISSING_VALUES and DISGUISED_MISSING (an EMPTY_COLUMN is every row);
    `empty` is `_empty_values(profile)`."""
    found = []
    if "MISSING_VALUES" in codes:
        missing = profile.missing.to_numpy()
        found.append(refs(table.file_key, profile.name, AGENT_ID, "MISSING_VALUES", "no value", missing))
    if "DISGUISED_MISSING" in codes:
        disguised = _disguised_values(profile, empty)[profile.encoded.codes]
        found.append(
            refs(
                table.file_key,
                profile.name,
                AGENT_ID,
                "DISGUISED_MISSING",
                "placeholder meaning no value",
                disguised,
            )
        )
    return found


def _recommendations(
    table: LoadedTable, profile: ColumnProfile, facts: dict[str, Any]
) -> list[Recommendation]:
    name, rows = profile.name, len(table.frame)
    recommendations = []
    if facts["disguised_missing_count"]:
        recommendations.append(
            Recommendation(
                agent=AGENT_ID,
                code="CONVERT_DISGUISED_MISSING",
                message=f"Turn the placeholder values in '{name}' into real blanks so that counts "
                "and averages stop treating them as data.",
                column=name,
                file_key=table.file_key,
                rows_affected=facts["disguised_missing_count"],
                fix_agent=FIX_AGENT,
            )
        )
    if facts["missing_count"] == rows and rows:
        recommendations.append(
            Recommendation(
                agent=AGENT_ID,
                code="DROP_EMPTY_COLUMN",
                message=f"Column '{name}' holds no data: remove it or find where its values were lost.",
                column=name,
                file_key=table.file_key,
                rows_affected=rows,
            )
        )
    elif facts["missing_ratio"] >= 0.2:
        recommendations.append(
            Recommendation(
                agent=AGENT_ID,
                code="REVIEW_MISSING_VALUES",
                message=f"{facts['missing_ratio']:.0%} of '{name}' is missing: decide whether to fill "
                "it from another source or leave it out of analyses.",
                column=name,
                file_key=table.file_key,
                rows_affected=facts["missing_count"],
                fix_agent=FIX_AGENT,
            )
        )
    return recommendations
