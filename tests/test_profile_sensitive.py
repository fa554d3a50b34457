"""The sensitive agent: personal-data columns are flagged (checksums keep look-alikes out), a
card number planted in a notes column is found with its row, clean columns are left alone,
and the report masks the flagged columns' samples."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from core.agents.profile.sensitive import SensitiveAgent, iban_valid, luhn_valid, mask_text
from core.agents.profile.statistics import StatisticsAgent
from core.reports import build_report, mask_sensitive
from tests.profile_helpers import alert, codes_for, context_of, rows_of, table_of

N = 40
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "340000000000009", "6011000000000004"]
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]


def _luhn_fixed(prefix: str) -> str:
    """`prefix` (15 digits) completed with the check digit that makes it Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(pa.array([prefix + digit]))[0]:
            return prefix + digit
    raise AssertionError


def test_checksums() -> None:
    assert luhn_valid(pa.array(CARDS)).tolist() == [True] * 4
    assert luhn_valid(pa.array(["4111 1111 1111 1112", "1234567890123", "12"])).tolist() == [False] * 3
    assert iban_valid(pa.array(IBANS)).tolist() == [True] * 3
    assert (
        iban_valid(pa.array(["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001"])).tolist()
        == [False] * 2
    )


def test_mask_text() -> None:
    assert mask_text("jane.doe@example.com") == "j" + "*" * 18 + "m"
    assert mask_text("Ann") == "***" and mask_text(None) is None


@pytest.fixture(scope="module")
def planted():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    cards = [_luhn_fixed(f"4{n:014d}") for n in rng.integers(0, 10**14, N)]
    notes = ["called back", "left a message", "ok"] * 14
    notes = notes[:N]
    notes[6] = "card 4111 1111 1111 1111"  # not the whole value: stays unflagged
    notes[11] = "4111111111111111"  # a card number typed into the notes: row 12
    table = table_of(
        {
            "email": [f"user{i}@example.com" for i in range(N)],
            "phone": [f"+1 212-555-{n:04d}" for n in rng.integers(0, 9999, N)],
            "first_name": [["Ann", "Bob", "José", "Zoë", "Mary Ann"][i % 5] for i in range(N)],
            "card": cards,
            "iban": (IBANS * N)[:N],
            "ssn": [f"{100 + i:03d}-{10 + i:02d}-{1000 + i:04d}" for i in range(N)],
            "notes": notes,
            "order_number": [f"{n:016d}" for n in rng.integers(10**15, 10**16 - 1, N)],
            "city": [["Oslo", "Lima"][i % 2] for i in range(N)],
        }
    )
    context = context_of(table)
    return context, SensitiveAgent().run(context)


def test_personal_data_columns_are_flagged(planted) -> None:  # type: ignore[no-untyped-def]
    _, result = planted
    kinds = {name: facts.get("sensitive_kind") for (_, name), facts in result.columns.items()}
    assert kinds == {
        "email": "email",
        "phone": "phone",
        "first_name": "person_name",
        "card": "card_number",
        "iban": "iban",
        "ssn": "national_id",
        "notes": None,
        "order_number": None,  # 16 digits, but only a tenth pass the Luhn check by chance
        "city": None,
    }
    card = alert(result, "SENSITIVE_COLUMN", "card")
    assert card.severity == "high" and card.count == N
    assert all("*" in e for e in card.examples)
    assert result.metrics["sensitive_columns"] == 6


def test_a_card_number_in_a_notes_column_is_listed_with_its_row(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    stray = alert(result, "SENSITIVE_VALUES", "notes")
    assert stray.severity == "high" and stray.count == 1
    assert rows_of(context, result, "SENSITIVE_VALUES", "notes") == {12}
    assert codes_for(result, "city") == set() and codes_for(result, "order_number") == set()


def test_the_report_masks_the_flagged_columns_samples(planted) -> None:  # type: ignore[no-untyped-def]
    context, result = planted
    results = {"statistics": StatisticsAgent().run(context), "sensitive": result}
    report = build_report(
        task_id="t",
        tool_id="profile-my-data",
        started=datetime.now(UTC),
        tables=context.tables,
        results=results,
        agent_runs={},
        downloads=[],
    )
    columns = {c["name"]: c for c in report["columns"]}
    email_values = [v["value"] for v in columns["email"]["top_values"]]
    assert email_values and all("@" not in v and "*" in v for v in email_values)
    assert columns["email"]["masked"] is True
    assert {v["value"] for v in columns["city"]["top_values"]} == {"Oslo", "Lima"}
    assert "masked" not in columns["city"]
    for finding in report["alerts"]:
        if finding["column"] in ("email", "card", "ssn"):
            assert all("*" in e for e in finding["examples"]), finding


def test_missing_markers_quoted_for_a_masked_column_stay_readable() -> None:
    def finding(code: str, examples: list[str]) -> dict[str, object]:
        return {"file_key": "primary", "column": "phone", "agent": "x", "code": code, "examples": examples}

    report = {
        "columns": [{"file_key": "primary", "name": "phone", "sensitive": True, "top_values": []}],
        "alerts": [finding("DISGUISED_MISSING", ["NULL", "n/a"]), finding("INVALID_PHONE", ["555-0100x"])],
        "issues": [],
    }
    mask_sensitive(report)
    examples = {f["code"]: f["examples"] for f in report["alerts"]}
    assert examples["DISGUISED_MISSING"] == ["NULL", "n/a"]  # markers, not personal data
    assert examples["INVALID_PHONE"] == [mask_text("555-0100x")] and "*" in examples["INVALID_PHONE"][0]
