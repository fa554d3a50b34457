"""The `outliers` agent: unusual numbers (by IQR and by a robust z-score), rare categories and
values outside the range the rest of the column implies, each listed with its row.

Both numeric rules use medians and quartiles, not the mean and standard deviation, because
the values being hunted would otherwise drag the yardstick towards themselves: one amount of
9,999,999 among prices of 10 to 100 inflates the standard deviation until it hides itself.
The fences use 3 × IQR (Tukey's "far out") rather than 1.5, which flags about 0.7% of a
perfectly normal column; the robust z-score uses the usual 3.5 (Iglewicz and Hoaglin). A row is
listed when both rules flag it (each rule's own count is in the column facts), and positive
columns with a long right tail (amounts, prices) are judged on a log scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, LoadedTable
from core.agents.profile.checks import Check, emit
from core.agents.profile.inference import _ID_NAME, ColumnProfile, each_column
from core.agents.profile.order_stats import sorted_quantiles
from core.agents.rows import examples_at, join_text

AGENT_ID = "outliers"
CACHE_KEY = "profile.outliers"
FIX_AGENT = "outliers"
IQR_FACTOR = 3.0
ROBUST_Z = 3.5
MAD_SCALE = 0.6745  # makes the MAD comparable to a standard deviation for normal data
MIN_VALUES = 20  # fewer numbers say nothing about what is unusual
RARE_SHARE = 0.005
RARE_MAX_CATEGORIES = 100
RARE_MIN_ROWS = 200
SIGN_SHARE = 0.99
QUARTILES = np.array([0.25, 0.5, 0.75])
SKEW = 0.15  # a column this often non-negative implies that negatives are mistakes
NUMERIC_MEANINGS = ("numeric", "currency", "percentage")


@dataclass
class ColumnOutliers:
    facts: dict[str, Any]
    checks: list[Check] = field(default_factory=list)


def column_outliers(context: AgentContext, table: LoadedTable, profile: ColumnProfile) -> ColumnOutliers:
    """The cached outlier facts and checks of one column."""
    cache: dict[tuple[str, str], ColumnOutliers] = context.cache.setdefault(CACHE_KEY, {})
    key = (table.file_key, profile.name)
    if key not in cache:
        cache[key] = _compute(table, profile)
    return cache[key]


def _compute(table: LoadedTable, profile: ColumnProfile) -> ColumnOutliers:
    column_type = profile.column_type
    if _ID_NAME.search(profile.name):
        return ColumnOutliers({})  # ids and codes: far-apart numbers are expected
    if column_type.inferred_type in ("integer", "float") and column_type.semantic_type in NUMERIC_MEANINGS:
        return _numeric(table, profile)
    if column_type.inferred_type in ("date", "datetime"):
        return _dates(table, profile)
    if column_type.inferred_type == "string":
        return _rare(table, profile)
    return ColumnOutliers({})


def _fences(values: np.ndarray, *, ordered: bool = False) -> dict[str, float]:
    """Quartiles, IQR fences and the median absolute deviation. Order statistics do not
    depend on the order of `values`, so they are read off one sort (`ordered` when `values`
    is sorted already: a log of sorted values is sorted too)."""
    ordered_values = values if ordered else np.sort(values)
    q1, median, q3 = sorted_quantiles(ordered_values, QUARTILES)
    iqr = q3 - q1
    deviation = ordered_values - median  # a temporary of our own: made absolute and
    np.abs(deviation, out=deviation)  # partitioned in place (the same values, no copies)
    mad = float(np.median(deviation, overwrite_input=True))
    return {
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "iqr": float(iqr),
        "mad": mad,
        "lower_fence": float(q1 - IQR_FACTOR * iqr),
        "upper_fence": float(q3 + IQR_FACTOR * iqr),
    }


def _robust_z(measured: np.ndarray, fence: dict[str, float]) -> np.ndarray:
    """MAD_SCALE * (measured - median) / mad, step by step in one array (the same
    operations in the same order, without two more temporaries of a million values)."""
    if fence["mad"] <= 0:
        return np.zeros(len(measured))
    z = measured - fence["median"]
    np.multiply(MAD_SCALE, z, out=z)
    np.divide(z, fence["mad"], out=z)
    return z


def _skewed(fence: dict[str, float]) -> bool:
    """Bowley's quartile skewness above 0.15: the upper half spreads clearly wider."""
    spread = fence["q3"] - fence["q1"]
    return spread > 0 and (fence["q3"] + fence["q1"] - 2 * fence["median"]) / spread >= SKEW


def _numeric(table: LoadedTable, profile: ColumnProfile) -> ColumnOutliers:
    typed = profile.typed.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(typed)
    positions = np.flatnonzero(finite)
    values = typed if len(positions) == len(typed) else typed[positions]  # no copy when all finite
    if len(values) < MIN_VALUES:
        return ColumnOutliers({})
    ordered = np.sort(values)
    fence = _fences(ordered, ordered=True)
    scale = "linear"
    measured = values
    if ordered[0] > 0 and _skewed(fence):
        # prices, amounts, sizes: a long right tail is their nature, not a mistake; judged on
        # a log scale the tail is ordinary and only the values far beyond it stand out
        scale, measured = "log", np.log(values)
        fence = {**_fences(np.log(ordered), ordered=True), "lower_fence_value": 0.0, "upper_fence_value": 0.0}
        fence["lower_fence_value"] = float(np.exp(fence["lower_fence"]))
        fence["upper_fence_value"] = float(np.exp(fence["upper_fence"]))
    low = fence.get("lower_fence_value", fence["lower_fence"])
    high = fence.get("upper_fence_value", fence["upper_fence"])
    facts: dict[str, Any] = {
        "outlier_method": f"{IQR_FACTOR:g}×IQR and robust z > {ROBUST_Z:g}, both ({scale} scale)",
        "outlier_scale": scale,
        **{k: v for k, v in fence.items() if not k.endswith("_value")},
        "usual_low": low,
        "usual_high": high,
    }
    checks = []
    by_iqr = (
        (measured < fence["lower_fence"]) | (measured > fence["upper_fence"])
        if fence["iqr"] > 0
        else np.zeros(len(values), bool)
    )
    z = _robust_z(measured, fence)
    by_z = np.abs(z) > ROBUST_Z
    flagged = by_iqr & by_z  # both rules agree: a value one rule alone flags is often just a tail
    facts["outliers_iqr"] = int(by_iqr.sum())
    facts["outliers_robust_z"] = int(by_z.sum())
    name = profile.name
    if flagged.any():
        rows = positions[flagged]
        reasons = join_text(
            "outside the 3×IQR fences; robust z = ",
            pc.round(pa.array(z[flagged]), 1),
            f" (usual range {low:.6g} to {high:.6g})",
        )
        extreme = np.argsort(-np.abs(z[flagged]), kind="stable")[:5]
        checks.append(
            Check(
                code="OUTLIERS",
                severity="low",
                dimension="none",
                file_key=table.file_key,
                column=name,
                rows=rows,
                reason="unusual value",
                reasons=reasons,
                message=f"{len(rows):,} value(s) of '{name}' are far from the rest (usual range "
                f"{low:.6g} to {high:.6g}); check them for typing or unit mistakes.",
                examples=examples_at(profile.text, rows[extreme]),
                fix_agent=FIX_AGENT,
                fix_message=f"Review the unusual values of '{name}' and correct, cap or blank them.",
            )
        )
    negative = values < 0
    if negative.any() and (~negative).mean() >= SIGN_SHARE:
        rows = positions[negative]
        checks.append(
            _out_of_range(
                table,
                profile,
                rows,
                "negative value in a column of positive numbers",
                f"{len(rows):,} value(s) of '{name}' are negative, while "
                f"{(~negative).mean():.1%} of the column is zero or more.",
            )
        )
    if profile.column_type.semantic_type == "percentage":
        beyond = (values < 0) | (values > 100)
        if beyond.any() and (~beyond).mean() >= SIGN_SHARE:
            rows = positions[beyond & ~negative]
            if len(rows):
                checks.append(
                    _out_of_range(
                        table,
                        profile,
                        rows,
                        "percentage above 100",
                        f"{len(rows):,} percentage(s) of '{name}' are above 100%.",
                    )
                )
    return ColumnOutliers(facts, checks)


def _out_of_range(
    table: LoadedTable, profile: ColumnProfile, rows: np.ndarray, reason: str, message: str
) -> Check:
    return Check(
        code="OUT_OF_RANGE",
        severity="medium",
        dimension="validity",
        file_key=table.file_key,
        column=profile.name,
        rows=rows,
        reason=reason,
        message=message,
        examples=examples_at(profile.text, rows),
        fix_agent=FIX_AGENT,
        fix_message=f"Correct the values of '{profile.name}' that fall outside its range.",
    )


def _dates(table: LoadedTable, profile: ColumnProfile) -> ColumnOutliers:
    """Dates far outside the column's usual period (a year typed 1024 or 2204)."""
    typed = profile.typed
    present = typed.notna().to_numpy()
    positions = np.flatnonzero(present)
    if len(positions) < MIN_VALUES:
        return ColumnOutliers({})
    days = typed.to_numpy()[positions].astype("datetime64[s]").astype(np.int64) / 86_400.0
    fence = _fences(days)
    if fence["iqr"] <= 0:
        return ColumnOutliers({})
    outside = (days < fence["lower_fence"]) | (days > fence["upper_fence"])
    low = pd.Timestamp(int(fence["lower_fence"] * 86_400), unit="s").date()
    high = pd.Timestamp(int(min(fence["upper_fence"], 2.5e6) * 86_400), unit="s").date()
    facts = {"usual_period": f"{low} to {high}", "dates_outside_period": int(outside.sum())}
    if not outside.any():
        return ColumnOutliers(facts)
    rows = positions[outside]
    check = _out_of_range(
        table,
        profile,
        rows,
        f"date outside the column's usual period ({low} to {high})",
        f"{len(rows):,} date(s) of '{profile.name}' fall far outside the period the rest of the column "
        f"covers ({low} to {high}); a mistyped year is the usual cause.",
    )
    return ColumnOutliers(facts, [check])


def _rare(table: LoadedTable, profile: ColumnProfile) -> ColumnOutliers:
    """Categories so rare in a column of few categories that they are likely mistakes."""
    encoded = profile.encoded
    filled = ~profile.missing_codes
    filled_rows = encoded.rows_count(filled)
    if (
        filled_rows < RARE_MIN_ROWS
        or filled.sum() > RARE_MAX_CATEGORIES
        or profile.column_type.semantic_type in ("free_text", "identifier", "email", "url", "phone")
    ):
        return ColumnOutliers({})
    rare = filled & (encoded.counts < RARE_SHARE * filled_rows)
    facts = {"rare_categories": int(rare.sum())}
    if not rare.any():
        return ColumnOutliers(facts)
    rows = encoded.rows_where(rare)
    names = [str(v) for v in encoded.values.filter(pa.array(rare)).to_pylist()]
    check = Check(
        code="RARE_CATEGORY",
        severity="info",
        dimension="none",
        file_key=table.file_key,
        column=profile.name,
        rows=rows,
        reason=f"category used by fewer than {RARE_SHARE:.1%} of rows",
        message=f"Column '{profile.name}' has {len(names):,} rare categor{'y' if len(names) == 1 else 'ies'} "
        f"({len(rows):,} rows), each under {RARE_SHARE:.1%} of the rows: typing mistakes or real exceptions?",
        examples=names[:5],
        fix_agent="category_variants",
        fix_message=f"Check the rare categories of '{profile.name}' and merge the mistaken ones.",
    )
    return ColumnOutliers(facts, [check])


class OutliersAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        for table, profile in each_column(
            context, ("column_type",), then=lambda table, profile: column_outliers(context, table, profile)
        ):
            found = column_outliers(context, table, profile)
            facts = dict(found.facts)
            for check in found.checks:
                facts[f"{check.code.lower()}_count"] = check.count
            if facts:
                result.columns[(table.file_key, profile.name)] = facts
            emit(result, AGENT_ID, found.checks)
        totals: dict[str, int] = {}
        for alert in result.alerts:
            totals[alert.code] = totals.get(alert.code, 0) + alert.count
        result.metrics = {
            "outlier_rows": totals.get("OUTLIERS", 0),
            "out_of_range_rows": totals.get("OUT_OF_RANGE", 0),
            "rare_category_rows": totals.get("RARE_CATEGORY", 0),
            "method": f"{IQR_FACTOR:g}×IQR fences and robust z-score (median/MAD) > {ROBUST_Z:g}, "
            "on every value",
        }
        return result
