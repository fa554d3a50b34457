"""The profile agents (types, completeness, statistics) and their shared inference: what they
decide on small, known columns, that they agree with pandas on a generated file, and that a
million rows stay fast enough to run (timed in the report, never asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from core.agents.base import AgentContext, AgentResult, LoadedTable
from core.agents.profile.completeness import CompletenessAgent
from core.agents.profile.inference import (
    CACHE_KEY,
    MISSING_MARKERS,
    column_profile,
    infer_column,
    is_missing,
    typed_values,
)
from core.agents.profile.statistics import StatisticsAgent
from core.agents.profile.types import TypesAgent
from core.loading import load_table
from core.registry import get_tool


def table_of(columns: dict[str, list[str]], file_key: str = "primary") -> LoadedTable:
    frame = pd.DataFrame(columns, dtype="str")
    return LoadedTable(file_key, f"{file_key}.csv", frame, "csv", 0)


def context_of(*tables: LoadedTable, **parameters: Any) -> AgentContext:
    return AgentContext(tables={t.file_key: t for t in tables}, parameters=parameters)


def column(result: AgentResult, name: str, file_key: str = "primary") -> dict[str, Any]:
    return result.columns[(file_key, name)]


def codes(result: AgentResult, name: str) -> set[str]:
    return {a.code for a in result.alerts if a.column == name}


def assert_plain_json(value: Any) -> None:
    """Only JSON types, no numpy scalars, no NaN: the report is written without conversion."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), (type(value), value)
        if isinstance(value, float):
            assert math.isfinite(value)


# ---- inference ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "values", "inferred", "semantic", "detail"),
    [
        ("qty", ["1", "2", " 3 ", "", "N/A"], "integer", "numeric", "plain"),
        ("price", ["1.5", "2", "-3e2", ".5"], "float", "numeric", "plain"),
        ("amount", ["$1,234.50", "$12", "-$5.00", "$0.99"], "float", "currency", "thousands"),
        ("betrag", ["12 €", "3,50 €", "1.234,00 €"], "float", "currency", "decimal_comma"),
        ("rate", ["12.5%", "3%", "100%"], "float", "percentage", "plain"),
        ("visits", ["1,234", "12,000", "5"], "integer", "numeric", "thousands"),
        ("weight", ["1,5", "2,25", "3"], "float", "numeric", "decimal_comma"),
        ("active", ["yes", "no", "Y", "N", "TRUE"], "boolean", "boolean", None),
        ("born", ["05/01/2024", "13/02/2024", "01/12/2023"], "date", "date", "%d/%m/%Y"),
        ("seen", ["2024-01-31", "2024-02-29", "2023-12-01"], "date", "date", "%Y-%m-%d"),
        ("at", ["2024-01-05 10:00:00", "2024-02-05 11:30:00"], "datetime", "date", "%Y-%m-%d %H:%M:%S"),
        ("zip", ["02134", "10001", "90210", "02139"], "string", "postal_code", None),
        ("contact", ["a@b.com", "x.y@z.org", "q@w.co.uk"], "string", "email", None),
        ("site", ["https://a.com/x", "http://b.org", "www.c.net"], "string", "url", None),
        ("tel", ["+1 555 123 4567", "(555) 123-4567", "555-123-4567"], "string", "phone", None),
        ("size", ["S", "M", "L", "M", "S", "M"], "string", "categorical", None),
        ("note", ["the quick brown fox jumps", "lorem ipsum dolor sit amet", "hi there my friend"], "string",
         "free_text", None),
        ("sku", ["A1-x", "B2-y", "C3-z", "D4-w"], "string", "identifier", None),
        ("iban", ["12345678901234567890", "22345678901234567890"], "string", "identifier", None),
        ("blank", ["", "N/A", "  ", "null"], "empty", "none", None),
    ],
)  # fmt: skip
def test_infer_column(name: str, values: list[str], inferred: str, semantic: str, detail: str | None) -> None:
    column_type = infer_column(pd.Series(values, dtype="str", name=name))
    assert (column_type.inferred_type, column_type.semantic_type) == (inferred, semantic)
    if inferred in ("integer", "float"):
        assert column_type.number_format == detail
    if inferred in ("date", "datetime"):
        assert column_type.date_format == detail


def test_a_few_stray_values_do_not_change_the_type_but_are_counted() -> None:
    values = [str(i) for i in range(1, 100)] + ["n/k"]
    column_type = infer_column(pd.Series(values, dtype="str", name="count"))
    assert column_type.inferred_type == "integer"
    assert column_type.parse_share == pytest.approx(0.99)
    assert column_type.mismatch_count == 1 and column_type.mismatch_examples == ("n/k",)


def test_a_mostly_numeric_column_below_95_percent_is_text_with_its_majority_type() -> None:
    values = [str(i) for i in range(80)] + [f"x{i}" for i in range(20)]
    column_type = infer_column(pd.Series(values, dtype="str", name="mixed"))
    assert column_type.inferred_type == "string"
    assert column_type.mismatch_type == "integer"
    assert column_type.mismatch_share == pytest.approx(0.8) and column_type.mismatch_count == 20


@pytest.mark.parametrize("rows", [300, 12_000])  # the second is long enough for Arrow's date parsing
def test_dates_and_times_mixed_in_one_column_take_the_majority_format(rows: int) -> None:
    """Formats are only tried on the side of the ':' line they can fit, and long ISO columns
    are parsed by Arrow: neither may change which format wins or which cells misfit."""
    stamps = [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00" for i in range(rows)]
    stamps[::50] = ["2024-02-30 10:00:00"] * len(stamps[::50])  # no such day: a misfit
    values = [*stamps, "2024-03-01", "2024-3-2 10:00:00"]
    column_type = infer_column(pd.Series(values, dtype="str", name="seen"))
    assert (column_type.inferred_type, column_type.date_format) == ("datetime", "%Y-%m-%d %H:%M:%S")
    # the impossible days misfit; a bare date and the short form are dates written another way
    # (patterns lists them as MIXED_DATE_FORMATS), so not cells of another type
    assert column_type.mismatch_count == len(stamps[::50])
    assert set(column_type.mismatch_examples) == {"2024-02-30 10:00:00"}
    days = [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(rows)] + ["2024-01-05 10:00:00", "soon"]
    column_type = infer_column(pd.Series(days, dtype="str", name="day"))
    assert (column_type.inferred_type, column_type.date_format) == ("date", "%Y-%m-%d")
    assert column_type.mismatch_examples == ("soon",)


def test_missing_markers_and_whitespace() -> None:
    values = pd.Series(
        ["", "  ", "N/A", "null", " None ", "-", "?", "NaN", "#N/A", "missing", "0", "x"], dtype="str"
    )
    assert is_missing(values).tolist() == [True] * 10 + [False, False]
    assert {"", "n/a", "na", "null", "none", "-", "?", "nan", "#n/a", "missing"} <= MISSING_MARKERS


def test_typed_values() -> None:
    amounts = pd.Series(["$1,234.50", "", "-$5", "oops", *["$1"] * 30], dtype="str", name="amount")
    typed = typed_values(amounts, infer_column(amounts))
    assert typed.iloc[0] == 1234.5 and typed.iloc[2] == -5.0
    assert typed.isna().tolist()[:5] == [False, True, False, True, False]

    counts = pd.Series(["1", "+2", "", "3"], dtype="str", name="n")
    typed = typed_values(counts, infer_column(counts))
    assert str(typed.dtype) == "Int64" and typed.tolist()[:2] == [1, 2] and typed.isna().iloc[2]

    days = pd.Series(["31/01/2024", "n/a", "29/02/2024"], dtype="str", name="d")
    typed = typed_values(days, infer_column(days))
    assert typed.iloc[0] == pd.Timestamp("2024-01-31") and pd.isna(typed.iloc[1])

    flags = pd.Series(["yes", "No", ""], dtype="str", name="f")
    assert typed_values(flags, infer_column(flags)).tolist() == [True, False, pd.NA]


def test_ambiguous_day_month_order_is_flagged() -> None:
    dates = ["01/02/2024", "03/04/2024", "05/06/2024"]
    assert infer_column(pd.Series(dates, dtype="str", name="d")).date_ambiguous
    assert not infer_column(pd.Series([*dates, "25/12/2024"], dtype="str", name="d")).date_ambiguous


@pytest.mark.parametrize(
    "values",
    [
        ["12", "7", "12", "n/k", "7", "7", "", "3"] * 50,  # numbers with a stray value and blanks
        ["$1,200.50", "$3", "$3", "USD 4", "9%", "N/A"] * 40,  # currency among formatted numbers
        ["2024-01-31", "2024-02-01", "2024-02-01", "31/01/2024", "x"] * 60,  # a second format
        ["01/02/2024", "03/04/2024", "01/02/2024"] * 30,  # day and month order ambiguous
        ["007", "012", "007", "123"] * 30,  # codes with leading zeros stay text
        ["a@x.com", "b@y.org", "a@x.com", "not mail"] * 30,
        ["yes", "no", "yes", "maybe"] * 30,
    ],
)
def test_type_judged_per_distinct_value_agrees_with_the_rows(values: list[str]) -> None:
    """A column whose values repeat is judged once per distinct value, weighted by rows: the
    verdict, the shares and the misfit count must be the ones every row gives."""
    frame_table = table_of({"col": values})
    profile = column_profile(context_of(frame_table), frame_table, "col")
    assert len(profile.encoded.values) * 2 <= len(values)  # the weighted path is the one taken
    by_rows = infer_column(pd.Series(values, dtype="str", name="col"))
    weighted = profile.column_type
    assert weighted == by_rows


# ---- types agent ----------------------------------------------------------------------------
def test_types_agent_columns_alerts_and_metrics() -> None:
    table = table_of(
        {
            "qty": [str(i) for i in range(1, 40)] + ["n/k"],
            "price": [f"${i},000.50" for i in range(1, 41)],
            "name": [f"person {i}" for i in range(40)],
            "when": [f"{d:02d}/01/2024" for d in range(1, 13)] * 3 + ["01/02/2024"] * 4,
        }
    )
    result = TypesAgent().run(context_of(table))
    assert column(result, "qty")["inferred_type"] == "integer"
    assert column(result, "qty")["type_share"] == pytest.approx(39 / 40)
    assert column(result, "price")["semantic_type"] == "currency"
    assert column(result, "when")["date_format"] == "%d/%m/%Y"
    assert codes(result, "qty") == {"MIXED_TYPES"}
    assert codes(result, "price") == {"NUMBERS_AS_TEXT"}
    assert codes(result, "when") == {"AMBIGUOUS_DATES"}
    mixed = next(a for a in result.alerts if a.code == "MIXED_TYPES")
    assert mixed.count == 1 and mixed.examples == ["n/k"] and mixed.severity == "medium"
    formatted = next(a for a in result.alerts if a.code == "NUMBERS_AS_TEXT")
    assert formatted.count == 40 and formatted.examples[:2] == ["$1,000.50", "$2,000.50"]
    assert result.metrics["columns_by_type"]["integer"] == 1
    assert result.metrics["columns_by_type"]["string"] == 1
    assert result.metrics["mixed_type_columns"] == 1
    assert {r.fix_agent for r in result.recommendations} == {"types_formats"}
    assert_plain_json(result.metrics)
    assert_plain_json({f"{k[0]}/{k[1]}": v for k, v in result.columns.items()})


# ---- completeness agent ---------------------------------------------------------------------
def test_completeness_separates_empty_cells_from_disguised_ones() -> None:
    table = table_of(
        {
            "id": ["1", "2", "3", "4", "5", "6"],
            "city": ["Oslo", "", "N/A", "  ", "-", "Lima"],
            "nothing": ["", "", "null", "", "", ""],
        }
    )
    result = CompletenessAgent().run(context_of(table))
    city = column(result, "city")
    assert city == {"null_count": 1, "disguised_missing_count": 3, "missing_count": 4, "missing_ratio": 4 / 6}
    assert column(result, "id")["missing_count"] == 0
    assert codes(result, "city") == {"MISSING_VALUES", "DISGUISED_MISSING"}
    assert codes(result, "nothing") == {"EMPTY_COLUMN", "DISGUISED_MISSING"}
    disguised = next(a for a in result.alerts if a.code == "DISGUISED_MISSING" and a.column == "city")
    assert disguised.count == 3 and set(disguised.examples) == {"N/A", "-", "(only spaces)"}
    missing = next(a for a in result.alerts if a.code == "MISSING_VALUES")
    assert missing.severity == "high" and missing.count == 4
    assert result.metrics["cells"] == 18 and result.metrics["cells_missing"] == 10
    assert result.metrics["complete_rows"] == 0  # every row misses 'nothing'
    assert result.metrics["empty_columns"] == 1
    assert result.metrics["completeness_ratio"] == pytest.approx(8 / 18)
    fixes = {(r.code, r.column): r for r in result.recommendations}
    assert fixes[("CONVERT_DISGUISED_MISSING", "city")].fix_agent == "missing_values"
    assert fixes[("CONVERT_DISGUISED_MISSING", "city")].rows_affected == 3
    assert_plain_json(result.metrics)


def test_completeness_over_two_files() -> None:
    first = table_of({"a": ["1", ""]}, "primary")
    second = table_of({"a": ["1", "2", "3"]}, "secondary")
    result = CompletenessAgent().run(context_of(first, second))
    assert result.metrics["files"]["primary"]["complete_rows"] == 1
    assert result.metrics["files"]["secondary"]["complete_rows"] == 3
    assert result.metrics["complete_rows"] == 4 and result.metrics["rows"] == 5


# ---- statistics agent -----------------------------------------------------------------------
def test_statistics_numeric_column_matches_pandas_and_numpy() -> None:
    values = ["4", "8", "15", "16", "23", "42", "", "8", "n/a"]
    table = table_of({"n": values})
    result = StatisticsAgent().run(context_of(table, top_values=2, histogram_bins=4))
    stats = column(result, "n")
    numbers = pd.Series([4, 8, 15, 16, 23, 42, 8], dtype="float64")
    assert stats["count"] == 7 and stats["distinct_count"] == 6
    assert (stats["min"], stats["max"]) == (4, 42) and isinstance(stats["min"], int)
    assert stats["mean"] == pytest.approx(numbers.mean())
    assert stats["std"] == pytest.approx(numbers.std())  # sample std, ddof=1
    assert stats["median"] == pytest.approx(numbers.median())
    assert stats["quantiles"]["p25"] == pytest.approx(numbers.quantile(0.25))
    assert stats["quantiles"]["p95"] == pytest.approx(numbers.quantile(0.95))
    counts, edges = np.histogram(numbers, bins=4)
    assert stats["histogram"] == {"bins": edges.tolist(), "counts": counts.tolist()}
    assert stats["top_values"] == [{"value": 8, "count": 2}, {"value": 4, "count": 1}]
    assert_plain_json(stats)


def test_statistics_dates_text_and_booleans() -> None:
    table = table_of(
        {
            "day": ["2024-01-15", "2024-03-02", "2024-03-09", ""],
            "word": ["ab", "abcd", "ab", "abc"],
            "flag": ["yes", "no", "yes", ""],
        }
    )
    result = StatisticsAgent().run(context_of(table))
    day = column(result, "day")
    assert (day["min"], day["max"]) == ("2024-01-15", "2024-03-09")
    assert day["histogram"] == {
        "period": "day",
        "bins": day["histogram"]["bins"],
        "counts": day["histogram"]["counts"],
    }
    assert sum(day["histogram"]["counts"]) == 3
    word = column(result, "word")
    assert (word["min_length"], word["max_length"], word["mean_length"]) == (2, 4, 2.75)
    assert word["distinct_count"] == 3 and word["top_values"][0] == {"value": "ab", "count": 2}
    flag = column(result, "flag")
    assert (flag["true_count"], flag["false_count"]) == (2, 1)
    assert_plain_json({k[1]: v for k, v in result.columns.items()})


def test_date_histogram_by_month_over_a_year() -> None:
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D").strftime("%Y-%m-%d").tolist()
    result = StatisticsAgent().run(context_of(table_of({"d": days})))
    histogram = column(result, "d")["histogram"]
    assert (
        histogram["period"] == "month" and len(histogram["bins"]) == 12 and histogram["bins"][0] == "2023-01"
    )
    assert sum(histogram["counts"]) == 365


def test_top_values_ties_are_broken_by_value() -> None:
    table = table_of({"code": ["b", "a", "c", "a", "d", "b", "e"]})
    result = StatisticsAgent().run(context_of(table, top_values=3))
    assert column(result, "code")["top_values"] == [
        {"value": "a", "count": 2},
        {"value": "b", "count": 2},
        {"value": "c", "count": 1},
    ]


def test_constant_and_high_cardinality_alerts() -> None:
    labels = [f"label {i % 150}" for i in range(200)]
    table = table_of({"country": ["FR"] * 200, "label": labels})
    result = StatisticsAgent().run(context_of(table))
    assert codes(result, "country") == {"CONSTANT_COLUMN"}
    assert codes(result, "label") == {"HIGH_CARDINALITY"}
    assert result.metrics["constant_columns"] == 1


# ---- shared behaviour -----------------------------------------------------------------------
def test_agents_share_one_inference_per_column_and_report_progress() -> None:
    table = table_of({"a": ["1", "2"], "b": ["x", ""]})
    seen: list[tuple[float, str | None]] = []
    context = AgentContext(
        tables={"primary": table}, parameters={}, progress=lambda f, m=None: seen.append((f, m))
    )
    TypesAgent().run(context)
    inferred = context.cache[CACHE_KEY][("primary", "a")].column_type
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # columns inferred on all cores first
    assert {"primary.csv: a", "primary.csv: b"} <= {m for _, m in seen}
    progress_calls = len(seen)
    TypesAgent().run(context)  # everything cached: no second inference, only the walk
    assert [f for f, _ in seen[progress_calls:]] == [0.0, 0.5, 1.0]
    StatisticsAgent().run(context)
    CompletenessAgent().run(context)
    assert context.cache[CACHE_KEY][("primary", "a")].column_type is inferred


def test_the_registry_loads_these_agents() -> None:
    tool = get_tool("profile-my-data")
    loaded = {agent_id: tool.agent(agent_id).load() for agent_id in tool.default_agents()}
    assert {agent_id: agent.id for agent_id, agent in loaded.items()} == {a.id: a.id for a in tool.agents}
    assert all(a.available for a in tool.agents)


def test_an_empty_column_and_a_single_row_do_not_break_anything() -> None:
    table = table_of({"empty": [""], "one": ["5"], "text": ["hello"]})
    context = context_of(table)
    for agent in (TypesAgent(), CompletenessAgent(), StatisticsAgent()):
        result = agent.run(context)
        assert_plain_json(result.metrics)
        assert_plain_json({k[1]: v for k, v in result.columns.items()})
    stats = StatisticsAgent().run(context)
    assert column(stats, "one")["std"] is None and column(stats, "empty")["count"] == 0


# ---- agreement with pandas ------------------------------------------------------------------
def _generated_frame(n: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "qty": rng.integers(-1_000, 100_000, n).astype("float64"),
            "price": rng.normal(250, 80, n).round(4),
            "word": rng.choice([f"w{i:03d}" for i in range(700)], n).astype(object),
            "day": (
                pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1_500, n), unit="D")
            ).strftime("%Y-%m-%d"),
        }
    )
    for name in frame.columns:
        frame.loc[rng.choice(n, n // 20, replace=False), name] = np.nan
    return frame


def test_statistics_agree_with_pandas_read_csv(tmp_path: Path) -> None:
    path = tmp_path / "generated.csv"
    _generated_frame(20_000).to_csv(path, index=False, float_format="%.10g")
    table = load_table(path, "primary", path.name)
    context = context_of(table)
    missing = CompletenessAgent().run(context)
    stats = StatisticsAgent().run(context)
    expected = pd.read_csv(path)
    assert len(table.frame) == len(expected) == 20_000
    for name in expected.columns:
        assert column(missing, name)["missing_count"] == int(expected[name].isna().sum()), name
        assert column(stats, name)["distinct_count"] == int(expected[name].nunique()), name
        assert column(stats, name)["count"] == int(expected[name].notna().sum()), name
    for name in ("qty", "price"):
        assert column(stats, name)["min"] == pytest.approx(expected[name].min(), rel=1e-12)
        assert column(stats, name)["max"] == pytest.approx(expected[name].max(), rel=1e-12)
        assert column(stats, name)["mean"] == pytest.approx(expected[name].mean(), rel=1e-9)
        assert column(stats, name)["std"] == pytest.approx(expected[name].std(), rel=1e-9)
        assert column(stats, name)["median"] == pytest.approx(expected[name].median(), rel=1e-12)
    days = pd.to_datetime(expected["day"])
    assert column(stats, "day")["min"] == days.min().strftime("%Y-%m-%d")
    assert column(stats, "day")["max"] == days.max().strftime("%Y-%m-%d")
    top = expected["word"].value_counts()
    assert column(stats, "word")["top_values"][0]["count"] == int(top.iloc[0])
    assert json.dumps({k[1]: v for k, v in stats.columns.items()}, allow_nan=False)


# ---- a million rows -------------------------------------------------------------------------
def _write_million_rows(path: Path, n: int = 1_000_000) -> None:
    rng = np.random.default_rng(3)
    ids = np.arange(n)
    amounts = rng.normal(100, 15, n).round(2)
    days = (np.datetime64("2021-01-01") + rng.integers(0, 1_000, n).astype("timedelta64[D]")).astype(str)
    notes = rng.choice(np.array(["", "N/A", "ok", "late", "damaged box"]), n)
    table = pa.table(
        {
            "id": pa.array(ids.astype(str)),
            "age": pa.array(rng.integers(18, 90, n).astype(str)),
            "amount": pa.array(amounts.astype(str)),
            "city": pa.array(rng.choice(np.array(["Oslo", "Lima", "Pune", "Kyiv", "Zürich"]), n)),
            "day": pa.array(days),
            "score": pa.array(rng.random(n).round(6).astype(str)),
            "active": pa.array(rng.choice(np.array(["true", "false"]), n)),
            "code": pa.array(np.char.add("C", (ids % 5000).astype(str))),
            "note": pa.array(notes),
            "qty": pa.array(rng.integers(0, 50, n).astype(str)),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


@pytest.mark.slow
def test_a_million_rows_load_and_profile(tmp_path: Path) -> None:
    path = tmp_path / "million.csv"
    _write_million_rows(path)
    table = load_table(path, "primary", path.name)
    assert table.frame.shape == (1_000_000, 10) and table.malformed_rows == []
    context = context_of(table)
    types = TypesAgent().run(context)
    missing = CompletenessAgent().run(context)
    stats = StatisticsAgent().run(context)
    assert column(types, "id")["inferred_type"] == "integer"
    assert column(types, "day")["inferred_type"] == "date"
    assert column(types, "active")["inferred_type"] == "boolean"
    assert column(missing, "note")["missing_count"] == pytest.approx(400_000, rel=0.01)
    assert column(stats, "id")["min"] == 0 and column(stats, "id")["max"] == 999_999
    assert column(stats, "id")["distinct_count"] == 1_000_000
    assert column(stats, "age")["mean"] == pytest.approx(53.5, abs=0.2)
    assert column(stats, "code")["distinct_count"] == 5_000
