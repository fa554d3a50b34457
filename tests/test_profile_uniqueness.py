"""The uniqueness agent on tables with planted duplicates: each planted problem is found with
its rows, keys are found, and a clean table raises nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.agents.profile.uniqueness import UniquenessAgent, duplicate_rows, table_uniqueness
from tests.profile_helpers import alert, context_of, issue_rows, rows_of, table_of


def _customers(n: int = 60) -> dict[str, list[str]]:
    return {
        "ref": [f"R{i:03d}" for i in range(n)],
        "name": [f"Company {i} Ltd" for i in range(n)],
        "email": [f"contact{i}@example.com" for i in range(n)],
        "city": [["Oslo", "Lima", "Pune"][i % 3] for i in range(n)],
    }


def test_planted_exact_and_near_duplicates_are_found_with_their_rows() -> None:
    columns = _customers()
    for name in columns:  # row 11 (position 10) is an exact copy of row 4 (position 3)
        columns[name][10] = columns[name][3]
    # row 21 (position 20) is row 6 typed differently: case, punctuation, spacing
    columns["ref"][20] = columns["ref"][5].lower()
    columns["name"][20] = "  company 5, LTD. "
    columns["email"][20] = columns["email"][5].upper()
    columns["city"][20] = columns["city"][5].upper()
    table = table_of(columns)
    context = context_of(table)
    result = UniquenessAgent().run(context)

    exact = alert(result, "DUPLICATE_ROWS")
    assert exact.count == 1 and exact.severity == "high" and exact.examples == ["row 11 = row 4"]
    assert rows_of(context, result, "DUPLICATE_ROWS") == {11}
    near = alert(result, "NEAR_DUPLICATE_ROWS")
    assert near.count == 1
    assert rows_of(context, result, "NEAR_DUPLICATE_ROWS") == {21}
    listed = issue_rows(context, result)
    assert listed.loc[listed["code"] == "DUPLICATE_ROWS", "value"].tolist() == ["same as row 4"]
    assert listed.loc[listed["code"] == "NEAR_DUPLICATE_ROWS", "value"].tolist() == ["same as row 6"]
    assert result.metrics["exact_duplicate_rows"] == 1 and result.metrics["near_duplicate_rows"] == 1

    # the copied row repeats 'ref' and 'email', which otherwise identify each row
    assert rows_of(context, result, "DUPLICATE_VALUES", "ref") == {4, 11}
    assert rows_of(context, result, "DUPLICATE_VALUES", "email") == {4, 11}
    assert {r.fix_agent for r in result.recommendations} == {"duplicates"}
    assert {r.rows_affected for r in result.recommendations if r.code == "REMOVE_DUPLICATE_ROWS"} == {1}

    # keys are judged once the exact copy is set aside: 'ref' then identifies every row
    keys = result.metrics["candidate_keys"]["primary"]
    assert "ref" in keys["single_column_keys"] and keys["keys_checked_without_duplicate_rows"]
    assert result.columns[("primary", "city")]["distinct_values"] == 4  # OSLO/LIMA/PUNE variant adds one
    assert result.columns[("primary", "ref")]["is_candidate_key"]


def test_a_clean_table_raises_nothing_and_its_key_is_found() -> None:
    table = table_of(_customers())
    result = UniquenessAgent().run(context_of(table))
    assert result.alerts == [] and result.row_refs == []
    keys = result.metrics["candidate_keys"]["primary"]
    assert set(keys["single_column_keys"]) == {"ref", "name", "email"}
    assert result.columns[("primary", "city")]["distinct_ratio"] == 3 / 60
    assert not result.columns[("primary", "city")]["is_candidate_key"]


def test_two_columns_that_together_identify_rows() -> None:
    n = 200
    table = table_of(
        {
            "store": [f"S{i % 10}" for i in range(n)],
            "day": [f"2024-01-{1 + i // 10:02d}" for i in range(n)],
            "sales": [str(i % 7) for i in range(n)],
        }
    )
    result = UniquenessAgent().run(context_of(table))
    keys = result.metrics["candidate_keys"]["primary"]
    assert keys["single_column_keys"] == []
    assert sorted(map(sorted, keys["column_pair_keys"])) == [["day", "store"]]


def test_hash_comparison_agrees_with_pandas_duplicated() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    columns = [rng.integers(0, k, n).astype(np.int32) for k in (3, 4, 5, 6, 7)]
    later, first = duplicate_rows(columns, n)
    frame = pd.DataFrame({i: c for i, c in enumerate(columns)})
    expected = np.flatnonzero(frame.duplicated(keep="first").to_numpy())
    assert np.array_equal(np.sort(later), expected)
    for row, original in zip(later[:500], first[:500], strict=True):
        assert original < row
        assert all(c[row] == c[original] for c in columns)


def test_facts_are_cached_for_the_quality_score() -> None:
    context = context_of(table_of(_customers()))
    first = table_uniqueness(context, context.tables["primary"])
    assert table_uniqueness(context, context.tables["primary"]) is first


def test_near_duplicates_agree_with_keying_every_cell() -> None:
    """The shortcut (costly columns keyed only for rows that already agree elsewhere) finds
    the same rows as keying every cell of every column."""
    rng = np.random.default_rng(12)
    n = 3_000
    columns = {
        "email": [f"user{i}@example.com" for i in range(n)],
        "city": list(rng.choice(["Oslo", "Lima", "Pune"], n)),
        "plan": list(rng.choice(["basic", "pro"], n)),
    }
    for copy, original in ((2_500, 10), (2_600, 20), (2_700, 30)):
        columns["email"][copy] = columns["email"][original].upper()
        columns["city"][copy] = f" {columns['city'][original].lower()}"
        columns["plan"][copy] = columns["plan"][original]
    context = context_of(table_of(columns))
    facts = table_uniqueness(context, context.tables["primary"])
    assert sorted(facts.near_duplicates + 1) == [2_501, 2_601, 2_701]
    assert sorted(facts.near_first + 1) == [11, 21, 31]
    profiles = [context.cache["profile.columns"][("primary", c)] for c in columns]
    brute, _ = duplicate_rows([p.matching[0][p.encoded.codes] for p in profiles], n)
    assert sorted(brute) == sorted(facts.near_duplicates)
