"""The patterns agent on columns with planted problems: shapes, mixed date formats, invalid
emails/phones/URLs/postcodes, stray whitespace and category variants, each found with its
rows; clean columns raise nothing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from core.agents.profile import phones
from core.agents.profile.patterns import PatternsAgent, shapes
from core.agents.profile.phones import check_phones, is_valid_phone
from tests.profile_helpers import alert, codes_for, context_of, issue_rows, rows_of, table_of

N = 40


def _plant(values: list[str], planted: dict[int, str]) -> list[str]:
    out = list(values)
    for position, value in planted.items():
        out[position] = value
    return out


def test_shapes() -> None:
    got = shapes(pa.array(["Main St 12", "555-123-4567", "Zoë", "", "ab_C"])).to_pylist()
    assert got == ["Aaaa Aa 99", "999-999-9999", "Aaa", "", "aa_A"]


@pytest.fixture(scope="module")
def planted():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    valid_phones = [f"+1 212-555-{n:04d}" for n in rng.integers(0, 10_000, N)]
    table = table_of(
        {
            "email": _plant([f"user{i}@example.com" for i in range(N)], {4: "bob at example.com", 9: "x@y"}),
            "phone": _plant(valid_phones, {7: "555-0000", 12: "+1 012-555-0100"}),
            "website": _plant([f"https://shop{i}.example.com/x" for i in range(N)], {3: "htp:/shop.example"}),
            "zip": _plant([f"{10_000 + 37 * i:05d}" for i in range(N)], {15: "1234", 16: "ABCDE"}),
            "signup": _plant(
                [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)],
                {20: "25/12/2023", 21: "31/01/2024"},
            ),
            "city": _plant(
                [["Oslo", "Lima", "Pune", "New York"][i % 4] for i in range(N)],
                {1: " Oslo", 2: "Lima ", 5: "New  York"},
            ),
            "status": _plant(
                ["active"] * 30 + ["pending"] * 10, {0: "ACTIVE", 6: "Active", 8: "actve", 33: "Pending"}
            ),
            "clean_code": [f"AB-{i:03d}" for i in range(N)],
            "clean_email": [f"person{i}@example.org" for i in range(N)],
        }
    )
    context = context_of(table)
    return context, PatternsAgent().run(context)


def test_invalid_emails_phones_urls_and_postcodes(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "INVALID_EMAIL", "email") == {5, 10}
    assert rows_of(context, result, "INVALID_PHONE", "phone") == {8, 13}
    assert rows_of(context, result, "INVALID_URL", "website") == {4}
    assert rows_of(context, result, "INVALID_POSTAL_CODE", "zip") == {16, 17}
    email = alert(result, "INVALID_EMAIL", "email")
    assert email.count == 2 and set(email.examples) == {"bob at example.com", "x@y"}
    assert email.severity == "medium"
    assert result.columns[("primary", "phone")]["phone_check"]["agreement_sample_disagreements"] == 0
    assert {r.fix_agent for r in result.recommendations if r.code.startswith("FIX_INVALID")} == {
        "types_formats"
    }


def test_mixed_date_formats_with_the_format_each_row_uses(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "MIXED_DATE_FORMATS", "signup") == {21, 22}
    listed = issue_rows(context, result)
    reasons = listed.loc[listed["code"] == "MIXED_DATE_FORMATS", "reason"].tolist()
    assert reasons == ["date written as %d/%m/%Y, not %Y-%m-%d"] * 2


def test_whitespace_and_category_variants(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    assert rows_of(context, result, "LEADING_TRAILING_WHITESPACE", "city") == {2, 3}
    assert rows_of(context, result, "DOUBLE_WHITESPACE", "city") == {6}
    assert rows_of(context, result, "CATEGORY_VARIANTS", "status") == {1, 7, 9, 34}
    listed = issue_rows(context, result)
    variant = listed[(listed["code"] == "CATEGORY_VARIANTS") & (listed["row"] == 9)]
    assert variant["reason"].tolist() == ["written 'actve'; most rows write 'active'"]
    # the city variants come from spacing alone: also one category written several ways
    assert rows_of(context, result, "CATEGORY_VARIANTS", "city") == {2, 3, 6}


def test_clean_columns_raise_nothing(planted) -> None:  # type: ignore[no-untyped-def]
    _, result = planted
    assert codes_for(result, "clean_code") == set()
    assert codes_for(result, "clean_email") == set()
    facts = result.columns[("primary", "clean_code")]
    assert facts["patterns"] == [{"pattern": "AA-999", "count": N, "share": 1.0, "example": "AB-000"}]
    assert result.columns[("primary", "clean_email")]["validated_as"] == "email"
    assert result.columns[("primary", "clean_email")]["invalid_count"] == 0


def test_shape_frequencies_are_counted_over_rows(planted) -> None:  # type: ignore[no-untyped-def]
    _, result = planted
    zip_patterns = {p["pattern"]: p["count"] for p in result.columns[("primary", "zip")]["patterns"]}
    assert zip_patterns == {"99999": N - 2, "9999": 1, "AAAAA": 1}


def test_phone_check_agrees_with_phonenumbers_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    numbers = [
        f"+1 {a}-{b:03d}-{c:04d}"
        for a, b, c in zip(
            rng.integers(100, 999, 150), rng.integers(100, 999, 150), rng.integers(0, 9999, 150), strict=True
        )
    ]
    numbers += [
        f"+44 20 {a:04d} {b:04d}"
        for a, b in zip(rng.integers(0, 9999, 50), rng.integers(0, 9999, 50), strict=True)
    ]
    numbers += [f"+49 30 {a}" for a in rng.integers(10_000, 99_999_999, 50)]
    numbers += [
        f"({a}) 555-{c:04d}"
        for a, c in zip(rng.integers(100, 999, 50), rng.integers(0, 9999, 50), strict=True)
    ]
    numbers += ["12", "phone", "+999 123", "555 12"]
    check = check_phones(pa.array(numbers))
    expected = [is_valid_phone(n, check.region) for n in numbers]
    assert check.valid.tolist() == expected
    assert 0 < sum(expected) < len(numbers)  # both kinds are present
    monkeypatch.setattr(phones, "SPLIT_AT", 2)  # the pattern checks shared by two threads
    assert check_phones(pa.array(numbers)).valid.tolist() == expected


def test_quick_phone_rejection_agrees_with_phonenumbers() -> None:
    """The length shortcut used to confirm rejected numbers gives phonenumbers' own answer."""
    from core.agents.profile.phones import _is_valid_quick

    rng = np.random.default_rng(4)
    prefixes = ["", "+", "+1 ", "+44 ", "+49 ", "+91 ", "+800 ", "+979 ", "00", "0", "1 ", "+7 ", "+39 0"]
    numbers = [
        f"{prefixes[int(p)]}{''.join(map(str, rng.integers(0, 10, int(k))))}"
        for p, k in zip(rng.integers(0, len(prefixes), 1500), rng.integers(1, 16, 1500), strict=True)
    ]
    numbers += ["555-7613", "phone", "1-800-FLOWERS", "+1 (201) 555-0100 ext. 12", ""]
    for region in ("US", "GB", "DE", "IT"):
        assert [_is_valid_quick(n, region) for n in numbers] == [is_valid_phone(n, region) for n in numbers]


def test_dates_in_a_second_format_are_dates_not_another_type() -> None:
    from core.agents.profile.types import TypesAgent

    iso = [f"2023-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 8)]  # 84 dates
    others = ["2023.05.23", "30/12/2022", "5 Mar 2021", "2023.06.20", "31/01/2023", "7 Jul 2022"] * 2
    values = iso + others + ["Austin", "20211028"]  # 87.5% in the main format; two are not dates
    context = context_of(table_of({"signup": values}))
    types = TypesAgent().run(context)
    column = types.columns[("primary", "signup")]
    assert (column["inferred_type"], column["date_format"]) == ("date", "%Y-%m-%d")
    mixed = alert(types, "MIXED_TYPES", "signup")
    assert mixed.count == 2 and set(mixed.examples) == {"Austin", "20211028"}
    patterns = PatternsAgent().run(context)
    in_other_format = {len(iso) + 1 + i for i in range(len(others))}  # 1-based data rows
    assert rows_of(context, patterns, "MIXED_DATE_FORMATS", "signup") == in_other_format
