"""The `statistics` agent: counts, ranges, averages, spread, common values and histograms.

Numbers are summarised on their typed values (so "1.50" and "1.5" are one value), dates by
period, text by length. Everything returned is plain JSON (no numpy scalars, no NaN) because
it goes straight into `report.json` and the charts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.profile.inference import ColumnProfile, each_column, typed_if_useful
from core.agents.profile.order_stats import sorted_median, sorted_quantiles

AGENT_ID = "statistics"
DEFAULT_TOP_VALUES = 10
DEFAULT_HISTOGRAM_BINS = 20
QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
HIGH_CARDINALITY_MIN = 100
HIGH_CARDINALITY_RATIO = 0.5
LABEL_MEANINGS = {"categorical", "none"}  # text meant to group rows, where many values hurt
# The finest calendar period whose number of bars stays readable: (pandas freq, max bars).
DATE_PERIODS = (("D", 62), ("M", 120), ("Y", 200))


class StatisticsAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        top = int(context.parameters.get("top_values", DEFAULT_TOP_VALUES))
        bins = int(context.parameters.get("histogram_bins", DEFAULT_HISTOGRAM_BINS))
        result = AgentResult()
        kinds = {"numeric": 0, "date": 0, "boolean": 0, "text": 0}
        computed: dict[int, dict[str, Any]] = {}

        def compute(_: LoadedTable, profile: ColumnProfile) -> None:
            """Per column on the shared pool, so columns are summarised side by side."""
            typed_if_useful(_, profile)
            computed[id(profile)] = column_statistics(profile, top_values=top, histogram_bins=bins)

        for table, profile in each_column(context, ("column_type",), then=compute):
            stats = computed.pop(id(profile), None)
            if stats is None:  # not computed by the pool (nothing to warm): compute it here
                stats = column_statistics(profile, top_values=top, histogram_bins=bins)
            result.columns[(table.file_key, profile.name)] = stats
            kinds[_kind(profile)] += 1
            result.alerts.extend(_alerts(table, profile, stats))
        result.metrics = {
            "columns_profiled": sum(kinds.values()),
            "numeric_columns": kinds["numeric"],
            "date_columns": kinds["date"],
            "boolean_columns": kinds["boolean"],
            "text_columns": kinds["text"],
            "constant_columns": sum(1 for a in result.alerts if a.code == "CONSTANT_COLUMN"),
        }
        return result


def _kind(profile: ColumnProfile) -> str:
    inferred = profile.column_type.inferred_type
    if inferred in ("integer", "float"):
        return "numeric"
    if inferred in ("date", "datetime"):
        return "date"
    if inferred == "boolean":
        return "boolean"
    return "text"


def column_statistics(profile: ColumnProfile, *, top_values: int, histogram_bins: int) -> dict[str, Any]:
    """The statistics of one column, as plain JSON values."""
    kind = _kind(profile)
    stats: dict[str, Any] = {
        "count": profile.encoded.rows_count(~profile.missing_codes),
        "min": None,
        "max": None,
        "mean": None,
        "median": None,
        "std": None,
        "quantiles": None,
        "histogram": None,
    }
    if kind == "numeric":
        values = _filled_numbers(profile.typed)
        ordered = np.sort(values)
        stats.update(_numeric(values, ordered, histogram_bins))
        stats["top_values"] = _top_values(ordered, top_values)
    else:
        stats["distinct_count"] = profile.column_type.distinct_count
        stats["top_values"] = _top_text_values(profile, top_values)
        if kind == "date":
            stats.update(_dates(profile.typed.dropna(), profile.column_type.inferred_type, histogram_bins))
        elif kind == "boolean":
            typed = profile.typed.dropna()
            stats["true_count"] = int(typed.sum())
            stats["false_count"] = int((~typed).sum())
        else:
            stats.update(_lengths(profile))
    return stats


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN and infinities as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _filled_numbers(typed: pd.Series) -> np.ndarray:
    """The filled, finite typed numbers in row order: int64 for integer columns (exact beyond
    2**53), float64 otherwise, without infinities ('1e400' parses as inf), which would poison
    every summary.

    Read from the typed column's array with numpy: `dropna` and a filtered Series cost a
    tenth of a millisecond per column, which is most of a 20-row column's statistics."""
    if pd.api.types.is_integer_dtype(typed.dtype):
        array = typed.array
        missing = np.asarray(array.isna(), dtype=bool)
        numbers = array.to_numpy(dtype="int64", na_value=0)
        return numbers[~missing] if missing.any() else numbers
    floats = typed.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(floats)
    return floats if finite.all() else floats[finite]


def _numeric(values: np.ndarray, ordered: np.ndarray, bins: int) -> dict[str, Any]:
    """Summary of finite typed numbers (`_filled_numbers`); integers keep their exact min and max.

    Everything comes from one sort: quantiles and median read the sorted values, the distinct
    values and their counts are its runs, and histogram counts are positions of the bin edges,
    with the same edges and the same bin for every value as `np.histogram` gives. `ordered` is
    `values` sorted. Quantiles, median and edges are numpy's own arithmetic on the sorted
    values (`order_stats.sorted_quantiles`, `_bin_edges`), without its per-call overhead."""
    if len(ordered) == 0:
        return {"distinct_count": 0}
    floats = ordered.astype("float64", copy=False)
    signed_zeros = ordered.dtype.kind == "f" and _has_negative_zero(floats)
    edges = _bin_edges(floats, bins, signed_zeros)
    positions = np.searchsorted(floats, edges, side="left")
    positions[-1] = len(floats)  # the last bin includes its right edge
    counts = np.diff(positions)
    distinct = 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
    as_read = values.astype("float64", copy=False)  # sums in row order: the same rounding as before
    quantiles = sorted_quantiles(floats, _QUANTILE_POINTS).tolist()
    return {
        "distinct_count": distinct,
        "min": _plain(ordered[0]),
        "max": _plain(ordered[-1]),
        "mean": _plain(float(as_read.mean())),
        "median": _plain(sorted_median(floats)),
        "std": _plain(float(as_read.std(ddof=1))) if len(floats) > 1 else None,
        "quantiles": {name: _plain(q) for name, q in zip(QUANTILES, quantiles, strict=True)},
        "histogram": {"bins": edges.tolist(), "counts": counts.tolist()},
    }


_QUANTILE_POINTS = np.array(list(QUANTILES.values()), dtype=np.float64)


def _has_negative_zero(floats: np.ndarray) -> bool:
    """True when sorted float64 values hold a -0.0: numpy's min (bin edges) may then bring
    either zero where the sorted values hold the other, so `_bin_edges` hands such columns
    to numpy itself. The zeros are one run of the sorted values, found by two binary
    searches."""
    low, high = np.searchsorted(floats, 0.0, side="left"), np.searchsorted(floats, 0.0, side="right")
    return bool(high > low and np.signbit(floats[low:high]).any())


def _bin_edges(floats: np.ndarray, bins: int, signed_zeros: bool) -> np.ndarray:
    """`np.histogram_bin_edges(floats, bins=bins)` of sorted float64 values: the same outer
    edges (widened by half a unit when all values are equal) and the same `np.linspace`;
    anything numpy would refuse (no bins, too many bins for the range) goes to numpy, which
    raises as before."""
    if signed_zeros or bins < 1:
        return np.histogram_bin_edges(floats, bins=bins)
    first, last = floats[0], floats[-1]
    if first == last:
        first, last = first - 0.5, last + 0.5
    edges = np.linspace(first, last, bins + 1, endpoint=True, dtype=np.float64)
    if not (edges[:-1] < edges[1:]).all():
        return np.histogram_bin_edges(floats, bins=bins)
    return edges


def _dates(values: pd.Series, inferred: str, bins: int) -> dict[str, Any]:
    if values.empty:
        return {}
    low, high = values.min(), values.max()
    as_text = (lambda t: t.strftime("%Y-%m-%d")) if inferred == "date" else (lambda t: t.isoformat())
    return {"min": as_text(low), "max": as_text(high), "histogram": _date_histogram(values, bins)}


def _date_histogram(values: pd.Series, bins: int) -> dict[str, Any]:
    """Bars per day, month or year (the finest that stays readable); equal-width bins when the
    dates span centuries (a typo like year 1024 would otherwise make 1,000 bars)."""
    low, high = values.min(), values.max()
    for freq, max_bars in DATE_PERIODS:
        periods = pd.period_range(low.to_period(freq), high.to_period(freq), freq=freq)
        if len(periods) <= max_bars:
            counts = values.dt.to_period(freq).value_counts().reindex(periods, fill_value=0)
            return {
                "period": {"D": "day", "M": "month", "Y": "year"}[freq],
                "bins": [str(p) for p in periods],
                "counts": [int(c) for c in counts],
            }
    stamps = values.astype("int64").to_numpy()
    counts, edges = np.histogram(stamps, bins=bins)
    unit = np.datetime_data(values.dtype)[0]
    return {
        "period": None,
        "bins": [pd.Timestamp(np.datetime64(int(e), unit)).isoformat() for e in edges],
        "counts": [int(c) for c in counts],
    }


def _lengths(profile: ColumnProfile) -> dict[str, Any]:
    """Text lengths in characters over the filled rows, measured once per distinct value."""
    encoded = profile.encoded
    rows = np.where(profile.missing_codes, 0, encoded.counts)
    if not rows.any():
        return {"min_length": None, "max_length": None, "mean_length": None}
    lengths = pc.utf8_length(encoded.values).to_numpy(zero_copy_only=False).astype(np.int64)
    used = lengths[rows > 0]
    return {
        "min_length": int(used.min()),
        "max_length": int(used.max()),
        "mean_length": float(int((lengths * rows).sum()) / int(rows.sum())),
    }


def _top_values(ordered: np.ndarray, limit: int) -> list[dict[str, Any]]:
    """The most common values, ties broken by value so the list is the same every run; from
    the runs of the sorted values (no hashing)."""
    if len(ordered) == 0:
        return []
    change = np.empty(len(ordered), dtype=bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    if change.all():  # every value once (ids, measurements): the smallest, as the stable sort keeps them
        return [{"value": value, "count": 1} for value in ordered[: max(limit, 0)].tolist()]
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, len(ordered)))
    distinct = ordered[starts]  # ascending, so a stable sort by count keeps ties in value order
    best = _most_common(counts, limit)
    # finite int64 or float64 values: `tolist` gives the plain ints and floats `_plain` would
    return [
        {"value": value, "count": count}
        for value, count in zip(distinct[best].tolist(), counts[best].tolist(), strict=True)
    ]


def _most_common(counts: np.ndarray, limit: int) -> np.ndarray:
    """`np.argsort(-counts, kind="stable")[:limit]` without sorting a million counts: the
    limit-th largest count found by a partition, then only the counts above it and the
    first ones equal to it (ties keep the lower index, as the stable sort does) sorted."""
    if limit <= 0 or len(counts) <= limit:
        return np.argsort(-counts, kind="stable")[: max(limit, 0)]
    threshold = np.partition(counts, len(counts) - limit)[len(counts) - limit]
    above = np.flatnonzero(counts > threshold)
    tied = np.flatnonzero(counts == threshold)[: limit - len(above)]
    chosen = np.sort(np.concatenate([above, tied]))
    return chosen[np.argsort(-counts[chosen], kind="stable")]


def _top_text_values(profile: ColumnProfile, limit: int) -> list[dict[str, Any]]:
    """`_top_values` of a text column from its shared distinct-value counts (no second pass
    over the rows); same order: count, then value."""
    encoded = profile.encoded
    counts = np.where(profile.missing_codes, 0, encoded.counts)
    if not counts.any():
        return []
    keep = min(limit, int((counts > 0).sum()))
    # the count of the keep-th most common value, from a histogram of the counts (no sort)
    per_count = np.bincount(counts)
    at_least = np.cumsum(per_count[::-1])[::-1]  # values with at least k rows, per k
    cut = int(np.flatnonzero(at_least >= keep).max())
    candidates = np.flatnonzero(counts >= cut)
    if len(candidates) > 50 * limit:  # a million tied singletons: only the smallest values matter
        values = encoded.values.take(pa.array(candidates))
        order = pc.sort_indices(values)[: limit * 2].to_numpy()
        candidates = np.concatenate([candidates[counts[candidates] > cut], candidates[order]])
    pairs = [
        (str(v), int(counts[i]))
        for i, v in zip(candidates, encoded.values.take(pa.array(candidates)).to_pylist(), strict=True)
    ]
    pairs.sort(key=lambda item: (-item[1], item[0]))
    return [{"value": value, "count": count} for value, count in pairs[:limit]]


def _alerts(table: LoadedTable, profile: ColumnProfile, stats: dict[str, Any]) -> list[Finding]:
    alerts = []
    count, distinct = stats["count"], stats.get("distinct_count") or 0
    name = profile.name
    if count > 1 and distinct == 1:
        value = stats["top_values"][0]["value"] if stats["top_values"] else ""
        alerts.append(
            Finding(
                severity="low",
                agent=AGENT_ID,
                code="CONSTANT_COLUMN",
                message=f"Column '{name}' holds the same value ('{value}') in every filled row; "
                "it tells nothing apart.",
                column=name,
                file_key=table.file_key,
                count=count,
                examples=[value],
            )
        )
    column_type = profile.column_type
    if (
        column_type.inferred_type == "string"
        and column_type.semantic_type in LABEL_MEANINGS
        and distinct >= HIGH_CARDINALITY_MIN
        and distinct < count
        and distinct / max(count, 1) >= HIGH_CARDINALITY_RATIO
    ):
        alerts.append(
            Finding(
                severity="info",
                agent=AGENT_ID,
                code="HIGH_CARDINALITY",
                message=f"Column '{name}' has {distinct:,} different values in {count:,} filled rows: "
                "grouping or filtering by it will not summarise much.",
                column=name,
                file_key=table.file_key,
                count=distinct,
                examples=[v["value"] for v in stats["top_values"][:3]],
            )
        )
    return alerts
