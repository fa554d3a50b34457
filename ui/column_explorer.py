"""The Columns tab of a report: where the quality points went, for the file and for each
column, then one column at a time with its facts, its charts (distribution or most common
values, value shapes) and its findings.

Every chart here is built by a plain function of the report, so tests can check a chart's
numbers without a browser. User data (column names, values) reaches Plotly only through
`chart_text`, which keeps Plotly from reading it as markup.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.findings import show_findings

KEPT_COLOUR = "#1F6FEB"
LOST_COLOUR = "#F79009"
SCORE_BANDS = ((90.0, "#12B76A"), (70.0, "#F79009"), (0.0, "#D92D20"))  # score at least → colour
MAX_SCORED_COLUMNS = 40  # the per-column score chart shows the lowest ones beyond this
DIMENSION_WORDS = {
    "completeness": "filled in",
    "validity": "valid values",
    "uniqueness": "no duplicates",
    "consistency": "one way of writing",
}


def chart_text(value: object) -> str:
    """`value` as text Plotly shows as written: Plotly reads a few HTML tags (`<b>`, `<a>`,
    `<br>`) in labels, so `<` and `>` go in as entities, which it shows as the characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    return str(value)


def _percent(value: object) -> str:
    return f"{100 * float(value):.1f}%" if isinstance(value, int | float) else str(value)


def points_chart(dimensions: dict[str, dict[str, float]], title: str) -> go.Figure | None:
    """One bar per quality dimension, as long as its weight: the points kept, then the points
    lost in orange, labelled. A business user sees at once which dimension cost the score."""
    if not dimensions:
        return None
    names = list(dimensions)[::-1]  # Plotly draws the first bar at the bottom
    labels = [_dimension_label(name, dimensions[name]["weight"]) for name in names]
    kept = [dimensions[name]["points"] for name in names]
    lost = [dimensions[name]["points_lost"] for name in names]
    scores = [dimensions[name]["score"] for name in names]
    words = [DIMENSION_WORDS.get(name, name) for name in names]
    figure = go.Figure(
        [
            go.Bar(
                y=labels,
                x=kept,
                orientation="h",
                name="points kept",
                marker_color=KEPT_COLOUR,
                customdata=list(zip(scores, words, strict=True)),
                hovertemplate="%{x:.2f} points kept: %{customdata[0]:.1f}% of rows %{customdata[1]}"
                "<extra></extra>",
            ),
            go.Bar(
                y=labels,
                x=lost,
                orientation="h",
                name="points lost",
                marker_color=LOST_COLOUR,
                text=[f"−{p:.2f}" if p > 0 else "" for p in lost],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x:.2f} points lost<extra></extra>",
            ),
        ]
    )
    figure.update_layout(
        title=title,
        barmode="stack",
        height=260,
        margin={"t": 40, "b": 30, "l": 10, "r": 40},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
    )
    return figure


def _dimension_label(name: str, weight: float) -> str:
    """A column's weights are the file's, shared out again over the dimensions that apply
    to it (uniqueness only counts for identifiers): 35.29 reads better as 35.3."""
    return f"{name} · weight {weight:.3g}" if weight else f"{name} · does not apply"


def _band_colour(score: float) -> str:
    return next(colour for floor, colour in SCORE_BANDS if score >= floor)


def column_scores_chart(columns: list[dict[str, Any]], labels: list[str]) -> go.Figure | None:
    """Each column's quality score, lowest first (at most `MAX_SCORED_COLUMNS`, the lowest)."""
    scored = [(c.get("quality_score"), label) for c, label in zip(columns, labels, strict=True)]
    scored = [(score, label) for score, label in scored if isinstance(score, int | float)]
    if not scored:
        return None
    lowest = sorted(scored, key=lambda pair: pair[0])[:MAX_SCORED_COLUMNS]
    shown = lowest[::-1]  # the lowest at the top
    title = "Quality score by column"
    if len(scored) > len(lowest):
        title += f" (the {len(lowest)} lowest of {len(scored)})"
    figure = go.Figure(
        go.Bar(
            y=[chart_text(label) for _, label in shown],
            x=[score for score, _ in shown],
            orientation="h",
            marker_color=[_band_colour(score) for score, _ in shown],
            text=[f"{score:.1f}" for score, _ in shown],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f} / 100<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        height=max(240, 24 * len(shown) + 90),
        margin={"t": 40, "b": 30, "l": 10, "r": 40},
        xaxis={"range": [0, 100]},
        yaxis={"type": "category"},
    )
    return figure


def missing_chart(columns: list[dict[str, Any]], labels: list[str]) -> go.Figure | None:
    if not any("missing_ratio" in c for c in columns):
        return None
    ratios = [round(100 * (c.get("missing_ratio") or 0), 2) for c in columns]
    figure = go.Figure(
        go.Bar(
            x=[chart_text(label) for label in labels],
            y=ratios,
            marker_color=LOST_COLOUR,
            hovertemplate="%{x}: %{y}% missing<extra></extra>",
        )
    )
    figure.update_layout(
        title="Missing values by column (%)",
        yaxis={"range": [0, 100]},
        height=320,
        margin={"t": 40, "b": 80, "l": 40, "r": 10},
        xaxis={"type": "category"},
    )
    return figure


def correlation_heatmap(report: dict[str, Any]) -> go.Figure | None:
    files = ((report.get("agents", {}).get("relationships") or {}).get("metrics") or {}).get("files") or {}
    pairs = next((f.get("correlation_pairs") for f in files.values() if f.get("correlation_pairs")), None)
    if not pairs:
        return None
    names = list(dict.fromkeys([p["a"] for p in pairs] + [p["b"] for p in pairs]))
    index = {name: i for i, name in enumerate(names)}
    matrix: list[list[float | None]] = [[1.0 if a == b else None for b in names] for a in names]
    for pair in pairs:
        a, b = index[pair["a"]], index[pair["b"]]
        matrix[a][b] = matrix[b][a] = pair["r"]
    labels = [chart_text(n) for n in names]
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            hovertemplate="%{x} ~ %{y}: %{z:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Correlations between numeric columns", height=420, margin={"t": 40, "b": 40, "l": 40, "r": 10}
    )
    return figure


def histogram(column: dict[str, Any]) -> go.Figure | None:
    hist = column.get("histogram") or {}
    bins, counts = hist.get("bins"), hist.get("counts")
    if not bins or not counts:
        return None
    if len(bins) == len(counts) + 1 and all(isinstance(b, int | float) for b in bins):
        centres = [(a + b) / 2 for a, b in itertools.pairwise(bins)]
        widths = [b - a for a, b in itertools.pairwise(bins)]
        figure = go.Figure(go.Bar(x=centres, y=counts, width=widths, marker_color=KEPT_COLOUR))
    else:
        labels = [chart_text(b) for b in bins[: len(counts)]]
        figure = go.Figure(go.Bar(x=labels, y=counts, marker_color=KEPT_COLOUR))
    figure.update_layout(
        title="Distribution",
        xaxis_title="value",
        yaxis_title="rows",
        bargap=0.02,
        height=320,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def _ranked_bars(texts: list[str], counts: list[int], title: str, hover: list[str]) -> go.Figure:
    """Horizontal bars, the first at the top. The bars sit at positions, not at categories
    named by their texts: masked values ('a****m') can read the same, and Plotly would
    merge equal categories into one bar."""
    positions = list(range(len(texts)))[::-1]
    figure = go.Figure(
        go.Bar(
            x=counts,
            y=positions,
            orientation="h",
            marker_color=KEPT_COLOUR,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        height=max(240, 28 * len(texts) + 80),
        margin={"t": 40, "b": 30, "l": 10, "r": 10},
        yaxis={"tickmode": "array", "tickvals": positions, "ticktext": texts},
        xaxis={"rangemode": "tozero", "dtick": 1 if max(counts, default=0) <= 10 else None},
    )
    return figure


def top_values_chart(column: dict[str, Any]) -> go.Figure | None:
    top = column.get("top_values") or []
    if not top:
        return None
    texts = [chart_text(v.get("value")) for v in top]
    counts = [int(v.get("count") or 0) for v in top]
    hover = [f"{text}: {count:,} rows" for text, count in zip(texts, counts, strict=True)]
    title = "Most common values" + (" (masked: personal data)" if column.get("masked") else "")
    return _ranked_bars(texts, counts, title, hover)


def shapes_chart(column: dict[str, Any]) -> go.Figure | None:
    """The most common value shapes (A = capital, a = small letter, 9 = digit), by rows."""
    shapes = column.get("patterns") or []
    if len(shapes) < 2 and not column.get("pattern_count", 0) > 1:
        return None  # one shape for every value: said in the facts, no chart needed
    texts = [chart_text(s["pattern"]) for s in shapes]
    counts = [int(s["count"]) for s in shapes]
    hover = [
        f"{text}: {count:,} rows ({100 * s['share']:.1f}%), e.g. {chart_text(s.get('example'))}"
        for text, count, s in zip(texts, counts, shapes, strict=True)
    ]
    runs = " (repeats shown once)" if column.get("pattern_style") == "runs" else ""
    return _ranked_bars(texts, counts, f"Value shapes: A letter, a small letter, 9 digit{runs}", hover)


def _when(key: str, show: Any = None) -> Any:
    """A reader of one fact: `show(value)` of the column's `key`, or None when it is absent."""
    return lambda c: None if c.get(key) is None else (show(c[key]) if show else c[key])


def _missing(c: dict[str, Any]) -> str | None:
    if c.get("missing_count") is None:
        return None
    return f"{c['missing_count']:,} ({_percent(c.get('missing_ratio') or 0)})"


def _length(c: dict[str, Any]) -> str | None:
    if c.get("min_length") is None:
        return None
    return f"{c['min_length']:,}–{c['max_length']:,} characters, mean {c['mean_length']:.1f}"


def _usual_range(c: dict[str, Any]) -> str | None:
    if c.get("lower_fence") is None:
        return None
    return f"{_number(c['lower_fence'])} to {_number(c['upper_fence'])}"


# (group, label, reader): the explorer's fact table, in order; a reader gives None to leave
# its row out (a text column has no mean, a column nobody checked has no validity)
_FACTS: tuple[tuple[str, str, Any], ...] = (
    ("Type", "type", _when("inferred_type")),
    ("Type", "meaning", _when("semantic_type")),
    ("Type", "values of this type", _when("type_share", _percent)),
    ("Type", "date format", _when("date_format")),
    ("Type", "number format", _when("number_format")),
    ("Completeness", "filled rows", _when("count")),
    ("Completeness", "missing rows", _missing),
    (
        "Completeness",
        "of these, written as NULL, n/a…",
        lambda c: c.get("disguised_missing_count") or None,
    ),
    ("Uniqueness", "distinct values", _when("distinct_count")),
    ("Uniqueness", "distinct ratio", _when("distinct_ratio", _percent)),
    ("Uniqueness", "values seen once", _when("unique_values")),
    ("Uniqueness", "rows repeating a value", _when("repeated_value_rows")),
    ("Uniqueness", "rows repeating an id", lambda c: c.get("duplicate_value_rows") or None),
    ("Uniqueness", "candidate key (exact duplicate rows aside)", _when("is_candidate_key")),
    ("Statistics", "min", _when("min")),
    ("Statistics", "max", _when("max")),
    ("Statistics", "mean", _when("mean")),
    ("Statistics", "median", _when("median")),
    ("Statistics", "standard deviation", _when("std")),
    ("Text", "length", _length),
    ("Shapes", "value shapes", _when("pattern_count")),
    ("Validity", "checked as", _when("validated_as")),
    ("Validity", "invalid values", lambda c: c.get("invalid_count") if c.get("validated_as") else None),
    ("Outliers", "usual range", _usual_range),
    ("Outliers", "outliers", _when("outliers_count")),
    ("Outliers", "out of range", _when("out_of_range_count")),
    ("Outliers", "method", _when("outlier_method")),
    ("Personal data", "holds", _when("sensitive_kind", lambda v: str(v).replace("_", " "))),
    ("Personal data", "samples masked", lambda c: True if c.get("masked") else None),
    ("Quality", "score", _when("quality_score", lambda v: f"{v:.1f} / 100")),
)


def column_facts(column: dict[str, Any]) -> pd.DataFrame:
    """The facts the agents found for one column, grouped and in words."""
    rows = [
        {"group": group, "fact": label, "value": _number(value)}
        for group, label, read in _FACTS
        if (value := read(column)) is not None
    ]
    return pd.DataFrame(rows, columns=["group", "fact", "value"])


def _labels(columns: list[dict[str, Any]]) -> list[str]:
    """Column names, with their file's key when the report covers several files."""
    several = len({c.get("file_key") for c in columns}) > 1
    return [f"{c.get('file_key')}: {c['name']}" if several else str(c["name"]) for c in columns]


def _quality(report: dict[str, Any]) -> dict[str, Any]:
    return ((report.get("agents") or {}).get("quality_score") or {}).get("metrics") or {}


def show_column_explorer(report: dict[str, Any]) -> None:
    columns = report.get("columns") or []
    if not columns:
        st.info("This report has no per-column figures.")
        return
    labels = _labels(columns)
    quality = _quality(report)
    points = points_chart(quality.get("dimensions") or {}, "Where the file's points went")
    scores = column_scores_chart(columns, labels)
    if points is not None or scores is not None:
        left, right = st.columns(2)
        if points is not None:
            left.plotly_chart(points, width="stretch", key="quality_points")
            weights = quality.get("weights") or {}
            left.caption(
                "Each dimension is the share of rows without that kind of problem; the score adds "
                "them up with these weights: " + ", ".join(f"{k} {v:g}" for k, v in weights.items()) + "."
            )
        if scores is not None:
            right.plotly_chart(scores, width="stretch", key="quality_by_column")
    missing = missing_chart(columns, labels)
    if missing is not None:
        st.plotly_chart(missing, width="stretch", key="missing_chart")
    heatmap = correlation_heatmap(report)
    if heatmap is not None:
        st.plotly_chart(heatmap, width="stretch", key="correlations_chart")

    index = st.selectbox("Column", range(len(columns)), format_func=lambda i: labels[i], key="explore_col")
    column = columns[index]
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(
            column_facts(column),
            hide_index=True,
            width="stretch",
            height=420,
            column_config={"group": st.column_config.TextColumn(width="small")},
        )
    with right:
        chart = histogram(column) or top_values_chart(column)
        if chart is not None:
            st.plotly_chart(chart, width="stretch", key="column_chart")
        else:
            st.caption("No chart for this column.")
    charts = [
        (shapes_chart(column), "column_shapes"),
        (
            points_chart(column.get("quality_dimensions") or {}, "Where this column's points went"),
            "column_points",
        ),
    ]
    charts = [(chart, key) for chart, key in charts if chart is not None]
    for place, (chart, key) in zip(st.columns(2) if charts else [], charts, strict=False):
        place.plotly_chart(chart, width="stretch", key=key)
    here = (column.get("file_key"), column["name"])
    findings = [
        a
        for a in report.get("alerts", []) + report.get("issues", [])
        if (a.get("file_key", here[0]), a.get("column")) == here
    ]
    st.markdown("**Findings in this column**")
    # a key per column: the severity filter starts from this column's severities every time
    show_findings(findings, "findings in this column", f"col_findings_{index}", by_column=False)
