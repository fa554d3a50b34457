"""The vectorised prefilters that spare clean rules their per-value Python calls: a value a
prefilter rules out must be one the rule leaves alone, and a column's cleaning is the same
with or without the prefilter."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from core.agents.clean.category_variants import ROWS_PER_VALUE, _counts
from core.agents.clean.common import filled_values, rewrite_values
from core.agents.clean.contacts import EMAIL_DOMAIN_TYPOS, email_may_change, email_rewrite
from core.agents.clean.dependencies import code_column
from core.agents.clean.numbers import NUMERIC_SHARE, parse_number, plan_numbers, unify_number
from core.agents.clean.state import CleaningState
from core.agents.clean.tidy_text import _many_values, _tidy_rewrite, may_need_tidying
from core.agents.profile.inference import ColumnProfile
from tests.profile_helpers import table_of

# printable ASCII, spaces, every control character, and the characters the tidy rules know
TRICKY = (
    "".join(chr(c) for c in range(0x00, 0x80))
    + "\u00a0\u2003\u202f\u3000\u200b\u200d\ufeff\u00ad\u0085\u2028\ufffd"
    + "e\u0301\u00e9\u00c3\u00a9\u00e2\u20ac\u0080\u009f"
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.text(alphabet=TRICKY, max_size=12), min_size=1, max_size=50))
def test_a_value_ruled_out_needs_no_tidying(values: list[str]) -> None:
    flags = may_need_tidying(pa.array(values, type=pa.large_string()))
    for value, flagged in zip(values, flags, strict=True):
        if not flagged:
            assert _tidy_rewrite(value) is None, repr(value)


def test_the_prefilter_lets_through_what_tidying_changes() -> None:
    values = ["plain", " lead", "trail ", "in  side", "tab\there", "zero\u200bwidth", "Cafe\u0301", "ok"]
    flags = may_need_tidying(pa.array(values, type=pa.large_string())).tolist()
    assert flags == [False, True, True, True, True, True, True, False]


def test_a_column_is_cleaned_alike_with_and_without_the_prefilter() -> None:
    column = ["Oslo", " Oslo", "Oslo ", "Ber  gen", "Bergen", "Tromsø\u00a0", "\u200bBodø", "", "Oslo"] * 3
    states = [CleaningState({"primary": table_of({"city": column})}) for _ in range(2)]
    plain = rewrite_values(states[0], "primary", "city", "tidy_text", _tidy_rewrite)
    filtered = rewrite_values(
        states[1], "primary", "city", "tidy_text", _tidy_rewrite, may_change=may_need_tidying
    )
    assert plain == filtered and plain[0] == 15
    assert states[0].frames["primary"]["city"].tolist() == states[1].frames["primary"]["city"].tolist()
    assert states[0].changes_frame().equals(states[1].changes_frame())


def profile_of(values: list[str]) -> ColumnProfile:
    return ColumnProfile("primary", "amount", pd.Series(values, dtype="str"))


NUMBER_TEXTS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.integers(0, 10**4).map(lambda n: f"{n}.0"),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.sampled_from(["0.054000000000000006", "1.00000000000001", "007", "-0", "1" * 30, "12.50"]),
    st.builds(lambda n, u: f"{n} {u}", st.integers(0, 500), st.sampled_from(["oz", "OZ.", "ounce", "kgs"])),
    st.builds(lambda n: f"{n}%", st.integers(0, 100)),
    st.builds(lambda n, c: f"{c}{n}", st.integers(0, 10**4), st.sampled_from(["$", "€"])),
    st.integers(1000, 10**7).map(lambda n: f"{n:,}"),
    st.sampled_from(["", "N/A", "n/k", "twelve", "12 apples", "\u0663\u0664", "\u0661\u0662 kg", "x\u00b2"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(NUMBER_TEXTS, min_size=1, max_size=40))
def test_plain_numbers_read_in_bulk_plan_and_rewrite_as_parsed_one_by_one(values: list[str]) -> None:
    """Metamorphic: a space before every value changes nothing `parse_number` sees, but keeps
    every value off the plain path; the plan must not notice. Every value left out of the
    parsed ones must be one the plan leaves alone."""
    planned = plan_numbers(profile_of(values))
    spaced = plan_numbers(profile_of([" " + v for v in values]))
    filled = filled_values(pd.Series(values, dtype="str")).tolist()
    numbers = sum(parse_number(v) is not None for v in filled)
    assert (planned is None) == (not filled or numbers < NUMERIC_SHARE * len(filled))
    assert (planned is None) == (spaced is None)
    if planned is None or spaced is None:
        return
    plan, parsed = planned
    assert plan == spaced[0]
    for value in set(values):
        number = parse_number(value)
        if value in parsed:
            assert parsed[value] == number
        elif number is not None and spaced[1]:  # the plan may rewrite values: not this one
            assert unify_number(value, number, plan) is None, value


def test_dependency_codes_leave_out_what_the_profile_calls_missing() -> None:
    """Blanks and markers get no code, by the profile's own rule; the rest keep their first
    appearance order."""
    text = pd.Series(["Oslo", " n/a ", "", "Lima", "NULL", "Oslo"], dtype="str")
    profile = ColumnProfile("primary", "city", text)
    coded = code_column(profile)
    assert coded.codes.tolist() == [0, -1, -1, 1, -1, 0]
    assert coded.values.tolist() == ["Oslo", "Lima"] and coded.name == "city"
    assert profile.missing_codes.tolist() == [False, True, True, False, True]


def test_a_column_is_ruled_out_of_case_fixes_by_its_first_rows_only_when_they_prove_it() -> None:
    many = pd.Series([f"v{i}" for i in range(1001)] + [""] * 50, dtype="str")
    assert _many_values(many, 1000)
    assert not _many_values(many, 1001)
    blanks = pd.Series(["", "a", "A"] * 500, dtype="str")  # "" is no value: two of them
    assert not _many_values(blanks, 2) and _many_values(blanks, 1)


EMAILISH = st.one_of(
    st.builds(
        lambda local, domain, pad: f"{pad}{local}@{domain}{pad}",
        st.text(alphabet="abcXYZ.é_+", min_size=1, max_size=6),
        st.sampled_from([*EMAIL_DOMAIN_TYPOS, "gmail.com", "Example.COM", "exämple.com", "x.io"]),
        st.sampled_from(["", " ", "\t"]),
    ),
    st.text(alphabet="ab@.XÉ ", max_size=10),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(EMAILISH, min_size=1, max_size=30))
def test_an_email_ruled_out_is_one_the_rule_leaves_alone(values: list[str]) -> None:
    flags = email_may_change(pa.array(values, type=pa.large_string()))
    for value, flagged in zip(values, flags, strict=True):
        if not flagged:
            assert email_rewrite(value) is None, repr(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "A", "n/a", "", " x", "NULL", "c", "d", "e"]), max_size=120))
def test_category_counts_from_the_profile_are_the_columns_value_counts(values: list[str]) -> None:
    state = CleaningState({"primary": table_of({"c": values})})
    expected = filled_values(state.column("primary", "c")).value_counts()
    ours = _counts(state, "primary", "c")
    if len(expected) < 2 or len(expected) * ROWS_PER_VALUE > expected.sum():
        assert ours is None
    else:
        assert ours is not None
        assert list(ours.items()) == list(expected.items())  # ties in the same order too
