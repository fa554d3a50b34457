"""The `quality_score` agent: a 0–100 score per column and for the file, from four named
dimensions with their weights shown, so a business user sees where the points were lost.

| dimension | weight | a column's score is the share of its rows that … |
| --- | --- | --- |
| completeness | 30 | are filled (blanks and placeholders such as 'N/A' count as missing) |
| validity | 30 | fit the column's type and format (valid emails, phones, URLs, postcodes, in range) |
| uniqueness | 15 | are not repeats, in columns that should identify rows (ids, emails) |
| consistency | 25 | are written the usual way (spacing, one date format and spelling, zip → city) |

For the file, uniqueness also counts duplicate rows.

A dimension that does not apply to a column (uniqueness of a category column) is left out
and the other weights are scaled up, so every column is scored out of 100. The file's score
averages each dimension over the columns (uniqueness also counts duplicate rows) and weighs
the four the same way.

It reuses the earlier agents' cached work when they ran and computes the same facts through
the same functions when they did not, so the score never depends on which agents were picked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.profile.checks import DIMENSIONS, Check
from core.agents.profile.inference import ColumnProfile, column_profile
from core.agents.profile.outliers import column_outliers
from core.agents.profile.patterns import column_patterns
from core.agents.profile.relationships import table_relationships
from core.agents.profile.uniqueness import table_uniqueness

AGENT_ID = "quality_score"
WEIGHTS = {"completeness": 30, "validity": 30, "uniqueness": 15, "consistency": 25}
LOW_QUALITY = 80.0


def weighted_score(scores: dict[str, float | None]) -> tuple[float, dict[str, dict[str, Any]]]:
    """0–100 from dimension scores (0..1, None = not applicable), and each dimension's share of
    the 100 points: its effective weight, the points it earned and the points it lost."""
    applicable = {d: s for d, s in scores.items() if s is not None}
    total_weight = sum(WEIGHTS[d] for d in applicable) or 1
    detail: dict[str, dict[str, Any]] = {}
    score = 0.0
    for dimension in DIMENSIONS:
        value = scores.get(dimension)
        if value is None:
            detail[dimension] = {"score": None, "weight": 0.0, "points": 0.0, "points_lost": 0.0}
            continue
        weight = 100 * WEIGHTS[dimension] / total_weight
        detail[dimension] = {
            "score": round(100 * value, 2),
            "weight": round(weight, 2),
            "points": round(weight * value, 2),
            "points_lost": round(weight * (1 - value), 2),
        }
        score += weight * value
    return round(score, 1), detail


def _rows_in(checks: list[Check], dimension: str, n: int) -> int:
    """Distinct rows hit by the checks of one dimension (a row counts once)."""
    hit = np.zeros(n, dtype=bool)
    for check in checks:
        if check.dimension == dimension:
            hit[check.rows] = True
    return int(hit.sum())


def column_scores(
    context: AgentContext, table: LoadedTable, profile: ColumnProfile, dependency_checks: list[Check]
) -> tuple[dict[str, float | None], dict[str, int]]:
    """Each dimension's score (None when it does not apply) and the rows that cost points."""
    n = len(table.frame)
    missing = int(profile.encoded.counts[profile.missing_codes].sum())  # = profile.missing.sum()
    filled = n - missing
    checks = [
        *column_patterns(context, table, profile).checks,
        *column_outliers(context, table, profile).checks,
        *[c for c in dependency_checks if c.column == profile.name],
    ]
    invalid = min(filled, _rows_in(checks, "validity", n) + profile.column_type.mismatch_count)
    inconsistent = _rows_in(checks, "consistency", n)
    uniqueness = table_uniqueness(context, table)
    repeated = len(uniqueness.duplicate_value_rows.get(profile.name, ()))
    expected_unique = profile.name in uniqueness.duplicate_value_rows
    scores = {
        "completeness": filled / n if n else 1.0,
        "validity": 1 - invalid / filled if filled else None,
        "uniqueness": 1 - repeated / filled if filled and expected_unique else None,
        "consistency": 1 - inconsistent / filled if filled else None,
    }
    rows = {"completeness": missing, "validity": invalid, "uniqueness": repeated, "consistency": inconsistent}
    return scores, rows


class QualityScoreAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        table_rows = []
        file_scores: dict[str, dict[str, Any]] = {}
        per_dimension: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
        total = sum(int(t.frame.shape[1]) for t in context.tables.values()) or 1
        done = 0
        for table in context.tables.values():
            dependency_checks = table_relationships(context, table).checks
            uniqueness = table_uniqueness(context, table)
            file_dimensions: dict[str, list[float]] = {d: [] for d in DIMENSIONS}
            for name in table.frame.columns:
                context.progress(done / total, f"{table.filename}: {name}")
                done += 1
                profile = column_profile(context, table, str(name))
                scores, affected = column_scores(context, table, profile, dependency_checks)
                score, detail = weighted_score(scores)
                result.columns[(table.file_key, profile.name)] = {
                    "quality_score": score,
                    "quality_dimensions": detail,
                }
                for dimension, value in scores.items():
                    if value is not None:
                        file_dimensions[dimension].append(value)
                table_rows.append(_sheet_row(table, profile.name, score, detail))
                self._alert(result, table, profile.name, score, detail, affected)
            rows = len(table.frame)
            repeats = len(uniqueness.exact_duplicates) + len(uniqueness.near_duplicates)
            file_dimensions["uniqueness"].append(1 - repeats / rows if rows else 1.0)
            dimension_scores = {d: float(np.mean(v)) if v else None for d, v in file_dimensions.items()}
            score, detail = weighted_score(dimension_scores)
            file_scores[table.file_key] = {"quality_score": score, "dimensions": detail}
            table_rows.insert(
                len(table_rows) - table.frame.shape[1], _sheet_row(table, "(whole file)", score, detail)
            )
            for dimension, values in file_dimensions.items():
                per_dimension[dimension].extend(values)
        context.progress(1.0, None)
        overall, detail = weighted_score(
            {d: float(np.mean(v)) if v else None for d, v in per_dimension.items()}
        )
        result.metrics = {
            "quality_score": overall,
            "dimensions": detail,
            "weights": dict(WEIGHTS),
            "files": file_scores,
            "method": "Each dimension is the share of rows without that kind of problem, averaged over "
            "the columns; uniqueness also counts duplicate rows. Weights: "
            + ", ".join(f"{d} {w}" for d, w in WEIGHTS.items())
            + "; a dimension that does not apply to a column is left out of its score.",
        }
        result.artifacts["quality_scores.csv"] = pd.DataFrame(table_rows)
        return result

    @staticmethod
    def _alert(
        result: AgentResult,
        table: LoadedTable,
        name: str,
        score: float,
        detail: dict[str, Any],
        affected: dict[str, int],
    ) -> None:
        if score >= LOW_QUALITY:
            return
        losses = sorted(
            ((d, v["points_lost"]) for d, v in detail.items() if v["points_lost"] > 0),
            key=lambda item: -item[1],
        )
        worst = losses[0][0]
        result.alerts.append(
            Finding(
                severity="medium" if score >= 50 else "high",
                agent=AGENT_ID,
                code="LOW_QUALITY_COLUMN",
                message=f"Column '{name}' scores {score:.0f}/100; most points were lost on {worst} "
                f"({losses[0][1]:.0f} points, {affected[worst]:,} rows). The rows behind it are in "
                "issue_rows.csv under the other agents' codes.",
                column=name,
                file_key=table.file_key,
                count=affected[losses[0][0]],
                examples=[f"{d}: -{lost:.1f} points ({affected[d]:,} rows)" for d, lost in losses],
            )
        )


def _sheet_row(table: LoadedTable, column: str, score: float, detail: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"file": table.filename, "column": column, "quality_score": score}
    for dimension in DIMENSIONS:
        row[f"{dimension}_score"] = detail[dimension]["score"]
        row[f"{dimension}_weight"] = detail[dimension]["weight"]
        row[f"{dimension}_points_lost"] = detail[dimension]["points_lost"]
    return row
