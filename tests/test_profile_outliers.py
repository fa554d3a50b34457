"""The outliers agent on columns with planted outliers, out-of-range values and rare
categories: each found with its row; clean columns raise nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.agents.profile.outliers import IQR_FACTOR, ROBUST_Z, OutliersAgent
from tests.profile_helpers import alert, codes_for, context_of, issue_rows, rows_of, table_of

N = 300


@pytest.fixture(scope="module")
def planted():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    amount = rng.uniform(50, 150, N).round(2).astype(str).tolist()
    amount[49] = "5000"  # a typing mistake: row 50
    amount[59] = "-3"  # a negative amount in a column of positive ones: row 60
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, N), unit="D")
    day = days.strftime("%Y-%m-%d").tolist()
    day[99] = "2203-05-01"  # a mistyped year: row 100
    country = ["NO"] * 150 + ["PE"] * 149 + ["Peru!"]  # a rare category: row 300
    table = table_of(
        {
            "amount": amount,
            "day": day,
            "country": country,
            "clean_price": rng.uniform(10, 20, N).round(2).astype(str).tolist(),
            "customer_id": [str(10 * i) for i in range(N - 2)] + ["999999", "0"],
            "clean_size": (["S", "M", "L"] * N)[:N],
        }
    )
    context = context_of(table)
    return context, OutliersAgent().run(context)


def test_numeric_outliers_are_listed_with_their_rows(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "OUTLIERS", "amount") == {50}
    listed = issue_rows(context, result)
    reason = listed.loc[(listed["code"] == "OUTLIERS") & (listed["row"] == 50), "reason"].item()
    assert reason.startswith("outside the 3×IQR fences; robust z = ")
    assert result.columns[("primary", "amount")]["outlier_scale"] == "linear"
    facts = result.columns[("primary", "amount")]
    values = pd.to_numeric(context.tables["primary"].frame["amount"]).to_numpy()
    q1, q3 = np.quantile(values, [0.25, 0.75])
    assert facts["upper_fence"] == pytest.approx(q3 + IQR_FACTOR * (q3 - q1))
    median = np.median(values)
    z = 0.6745 * (values - median) / np.median(np.abs(values - median))
    assert facts["outliers_robust_z"] == int((np.abs(z) > ROBUST_Z).sum())


def test_values_out_of_the_implied_range(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "OUT_OF_RANGE", "amount") == {60}
    assert rows_of(context, result, "OUT_OF_RANGE", "day") == {100}
    negative = next(a for a in result.alerts if a.code == "OUT_OF_RANGE" and a.column == "amount")
    assert negative.examples == ["-3"] and negative.severity == "medium"


def test_rare_categories(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    rare = alert(result, "RARE_CATEGORY", "country")
    assert rare.count == 1 and rare.examples == ["Peru!"]
    assert rows_of(context, result, "RARE_CATEGORY", "country") == {300}


def test_clean_and_identifier_columns_raise_nothing(planted) -> None:  # type: ignore[no-untyped-def]
    _, result = planted
    assert codes_for(result, "clean_price") == set()
    assert codes_for(result, "clean_size") == set()
    assert codes_for(result, "customer_id") == set()  # an id far from the others is no outlier
    assert result.metrics["outlier_rows"] == 1


def test_a_long_right_tail_is_judged_on_a_log_scale() -> None:
    rng = np.random.default_rng(6)
    amounts = rng.lognormal(4, 0.6, 5_000).round(2)
    amounts[123] = amounts.max() * 400  # a unit mistake: row 124
    table = table_of({"order_total": amounts.astype(str).tolist()})
    context = context_of(table)
    result = OutliersAgent().run(context)
    assert result.columns[("primary", "order_total")]["outlier_scale"] == "log"
    assert rows_of(context, result, "OUTLIERS", "order_total") == {124}
