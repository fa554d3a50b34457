"""The relationships agent: a planted zip → city rule with two broken rows (found, with their
rows), correlations that match numpy, Cramér's V on known tables, and no alert for a rule
that holds on every row."""

from __future__ import annotations

import numpy as np
import pytest

from core.agents.profile.relationships import RelationshipsAgent, _cramers_v
from tests.profile_helpers import alerts, codes_for, context_of, issue_rows, rows_of, table_of

N = 400
CITIES = {f"{1000 + 7 * k:05d}": f"City {k}" for k in range(10)}


@pytest.fixture(scope="module")
def planted():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(8)
    zips = rng.choice(sorted(CITIES), N)
    city = [CITIES[z] for z in zips]
    city[17] = "City 99"  # rows 18 and 251 break zip -> city
    city[250] = CITIES[zips[(250 + 1) % N]] if CITIES[zips[(250 + 1) % N]] != city[250] else "City 98"
    x = rng.normal(0, 1, N)
    plan = rng.choice(["basic", "pro"], N)
    table = table_of(
        {
            "zip": list(zips),
            "city": city,
            "x": x.round(6).astype(str).tolist(),
            "y": (2 * x + rng.normal(0, 0.1, N)).round(6).astype(str).tolist(),
            "noise": rng.normal(0, 1, N).round(6).astype(str).tolist(),
            "plan": list(plan),
            "tier": ["T1" if p == "basic" else "T2" for p in plan],  # plan -> tier on every row
        }
    )
    context = context_of(table)
    return context, RelationshipsAgent().run(context)


def test_broken_dependency_rows_are_listed(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "DEPENDENCY_VIOLATION", "city") == {18, 251}
    listed = issue_rows(context, result)
    reason = listed.loc[(listed["column"] == "city") & (listed["row"] == 18), "reason"].item()
    assert reason.startswith("'city' differs from the usual value for this 'zip'")
    violation = next(a for a in result.alerts if a.code == "DEPENDENCY_VIOLATION" and a.column == "city")
    assert violation.count == 2 and "99.50%" in violation.message
    assert {r.fix_agent for r in result.recommendations} == {"dependency_repair"}
    rules = result.artifacts["dependencies.csv"].set_index("rule")
    assert rules.loc["zip → city", "rows_breaking_it"] == 2
    assert rules.loc["zip → city", "share_of_rows"] == pytest.approx(398 / 400)


def test_a_rule_that_always_holds_is_reported_without_alert(planted) -> None:  # type: ignore[no-untyped-def]
    _, result = planted
    rules = result.artifacts["dependencies.csv"].set_index("rule")
    assert rules.loc["plan → tier", "rows_breaking_it"] == 0
    assert codes_for(result, "tier") == set() and codes_for(result, "plan") == set()
    assert {"column": "plan", "share": 1.0} in result.columns[("primary", "tier")]["determined_by"]


def test_correlations_match_numpy(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    frame = context.tables["primary"].frame
    pairs = result.artifacts["correlations.csv"].set_index(["column_a", "column_b"])
    expected = np.corrcoef(frame["x"].astype(float), frame["y"].astype(float))[0, 1]
    assert pairs.loc[("x", "y"), "pearson"] == pytest.approx(expected, rel=1e-9)
    assert abs(pairs.loc[("x", "noise"), "pearson"]) < 0.2
    strong = alerts(result, "STRONG_CORRELATION")
    assert [(a.column, a.examples) for a in strong] == [("x", ["x ~ y"])]
    assert result.metrics["files"]["primary"]["correlations_sampled"] is False


def test_cramers_v_on_known_tables() -> None:
    a = np.array([0, 0, 1, 1] * 25)
    assert _cramers_v(a, a.copy(), 2, 2) == pytest.approx(1.0)
    b = np.array([0, 1, 0, 1] * 25)
    assert _cramers_v(a, b, 2, 2) == pytest.approx(0.0)


def test_a_very_wide_file_compares_its_first_columns_only_and_says_so() -> None:
    """Pairs grow with the square of the columns: a wide export is compared on its first
    columns, with an info alert naming how many were left out."""
    from core.agents.profile.relationships import MAX_COMPARED_COLUMNS, MAX_CORRELATION_ALERTS

    width = MAX_COMPARED_COLUMNS + 30
    base = np.arange(60, dtype=float)
    columns = {f"c{i}": (base * (i + 1)).astype(str).tolist() for i in range(width)}  # all correlated
    context = context_of(table_of(columns))
    result = RelationshipsAgent().run(context)
    limited = alerts(result, "RELATIONSHIPS_LIMITED")
    assert len(limited) == 1 and limited[0].count == 30
    assert limited[0].examples[0] == f"c{MAX_COMPARED_COLUMNS}"
    metrics = result.metrics["files"]["primary"]
    assert (metrics["columns_compared"], metrics["columns_total"]) == (MAX_COMPARED_COLUMNS, width)
    pairs = result.artifacts["correlations.csv"]
    assert len(pairs) == MAX_COMPARED_COLUMNS * (MAX_COMPARED_COLUMNS - 1) // 2
    assert len(alerts(result, "STRONG_CORRELATION")) == MAX_CORRELATION_ALERTS
