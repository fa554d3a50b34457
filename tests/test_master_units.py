"""The master-my-data building blocks with known answers: match keys, field kinds, column
alignment, blocking costs, connected components and stable ids, survivorship, explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.agents.master.blocking import choose_rules
from core.agents.master.cluster import connected_components, entity_ids
from core.agents.master.explain import explain_pair
from core.agents.master.fields import align_fields, match_kind, parse_mapping
from core.agents.master.keys import address_keys, column_keys, name_keys, phone_keys
from core.agents.master.survivorship import default_rule, parse_overrides, pick
from tests.master_helpers import context, table


def texts(values: list[str]) -> pa.Array:
    return pa.array(values, type=pa.large_string())


def test_name_keys_drop_case_accents_punctuation_and_titles() -> None:
    keys = name_keys(texts(["Dr. José  O'Neil", "jose oneil", "MR JOHN SMITH-JONES", "Ann"]))
    assert keys.to_pylist() == ["jose oneil", "jose oneil", "john smith jones", "ann"]


def test_phone_keys_are_e164_whatever_the_writing() -> None:
    keys = phone_keys(texts(["+44 20 7946 0958", "020 7946 0958", "020-7946-0958", ""]))
    assert keys.to_pylist() == ["+442079460958", "+442079460958", "+442079460958", ""]


def test_address_keys_shorten_street_words() -> None:
    assert address_keys(texts(["12 Main Street", "12 main st."])).to_pylist() == ["12 main st", "12 main st"]


def test_date_keys_are_iso_for_typed_and_eight_digit_dates() -> None:
    frame = pd.DataFrame(
        {
            "dob": ["19560409", "19991231", "", "19560409"],
            "signed": ["09/04/1956", "31/12/1999", "", "01/02/2000"],
        }
    )
    loaded = table(frame, "primary")
    ctx = context(loaded)
    assert match_kind(ctx, loaded, "dob") == "date"
    assert match_kind(ctx, loaded, "signed") == "date"
    dob = column_keys(ctx, loaded, "dob", "date")
    assert dob.fillna("<missing>").tolist() == ["1956-04-09", "1999-12-31", "<missing>", "1956-04-09"]
    assert column_keys(ctx, loaded, "signed", "date").tolist()[:2] == ["1956-04-09", "1999-12-31"]


def test_match_kinds_come_from_type_inference_and_headers() -> None:
    rows = 40
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{n:05d}" for n in range(rows)],
            "first_name": ["Ann", "Bob", "Cid", "Dan"] * (rows // 4),
            "email": [f"user{n}@example.com" for n in range(rows)],
            "phone": [f"+1 202 555 {1000 + n}" for n in range(rows)],
            "street": [f"{n} Main Street" for n in range(rows)],
            "state": ["CA", "NY"] * (rows // 2),
        }
    )
    loaded = table(frame, "primary")
    ctx = context(loaded)
    kinds = {c: match_kind(ctx, loaded, c) for c in frame.columns}
    assert kinds == {
        "customer_id": "identifier",
        "first_name": "name",
        "email": "email",
        "phone": "phone",
        "street": "address",
        "state": "category",
    }


def test_columns_align_by_header_and_content_and_row_keys_are_not_compared() -> None:
    first = table(
        pd.DataFrame(
            {"id": ["1", "2", "3"], "first_name": ["Ann", "Bob", "Cid"], "city": ["Oslo", "Rome", "Oslo"]}
        ),
        "primary",
    )
    second = table(
        pd.DataFrame({"FirstName": ["Ann", "Dan"], "town": ["Oslo", "Rome"], "ref": ["x9", "y8"]}),
        "secondary",
    )
    fields, problems = align_fields(context(first, second))
    by_name = {f.name: f for f in fields}
    assert problems == []
    assert by_name["first_name"].columns == {"primary": "first_name", "secondary": "FirstName"}
    assert by_name["city"].columns == {"primary": "city", "secondary": "town"}
    assert not by_name["id"].used  # unique on every row of the only file that has it
    assert "ref (secondary)" in by_name


def test_column_mapping_overrides_and_reports_bad_entries() -> None:
    first = table(pd.DataFrame({"given": ["Ann", "Bob"], "city": ["Oslo", "Rome"]}), "primary")
    second = table(pd.DataFrame({"c1": ["Oslo", "Rome"], "c2": ["Ann", "Bob"]}), "secondary")
    mapping = parse_mapping(
        "secondary.c2=given; secondary.c1=city; secondary.nope=city; secondary.c1=missing"
    )
    fields, problems = align_fields(context(first, second), mapping)
    by_name = {f.name: f for f in fields}
    assert by_name["given"].columns["secondary"] == "c2"
    assert by_name["city"].columns["secondary"] == "c1"
    assert len(problems) == 2 and "nope" in problems[0] and "missing" in problems[1]
    with pytest.raises(ValueError, match="not a mapping"):
        parse_mapping("secondary c1 -> given")


def test_blocking_counts_pairs_exactly_and_skips_rules_over_budget() -> None:
    rows = 30_000
    rng = np.random.default_rng(1)
    keys = pd.DataFrame(
        {
            "f0": pd.Series(rng.integers(0, 10_000, rows).astype(str), dtype="str"),  # ~45k pairs
            "f1": pd.Series(rng.integers(0, 3, rows).astype(str), dtype="str"),  # ~150M pairs
            "f2": pd.Series(rng.integers(0, 20_000, rows).astype(str), dtype="str"),
        }
    )
    from core.agents.master.fields import MatchField

    fields = [
        MatchField("f0", "surname", "name"),
        MatchField("f1", "state", "name"),
        MatchField("f2", "dob", "date"),
    ]
    rules, considered = choose_rules(keys, fields)
    counts = keys["f0"].value_counts()
    expected = int((counts * (counts - 1) // 2).sum())
    surname = next(r for r in considered if r["fields"] == ["surname"])
    assert surname["pairs"] == expected and surname["chosen"]
    state = next(r for r in considered if r["fields"] == ["state"])
    assert not state["within_budget"] and not state["chosen"]
    assert all(r.pairs <= 300_000 for r in rules)
    # state + surname would only find pairs the surname rule already finds: not used
    assert [r.names for r in rules] == [("dob",), ("surname",)]


def test_connected_components_and_entity_ids_survive_reordering() -> None:
    components = connected_components(6, np.array([0, 1, 4]), np.array([1, 2, 5]))
    assert components.tolist() == [0, 0, 0, 3, 4, 4]
    hashes = np.array([50, 40, 60, 10, 30, 20], dtype=np.uint64)
    ids = entity_ids(components, hashes)
    assert ids.tolist() == ["E-0000000000000028"] * 3 + ["E-000000000000000a"] + ["E-0000000000000014"] * 2
    order = np.array([5, 3, 1, 0, 4, 2])  # the same records in another order, same matches
    position = {old: new for new, old in enumerate(order)}
    left = np.array([position[0], position[1], position[4]])
    right = np.array([position[1], position[2], position[5]])
    again = entity_ids(connected_components(6, left, right), hashes[order])
    assert again.tolist() == ids[order].tolist()


def test_identical_records_in_separate_entities_get_distinct_ids() -> None:
    ids = entity_ids(np.array([0, 1]), np.array([7, 7], dtype=np.uint64))
    assert ids.tolist() == ["E-0000000000000007", "E-0000000000000007-2"]


def test_survivorship_rules_pick_the_expected_record() -> None:
    entity = np.array(["a", "a", "a", "b"])
    values = np.array(["Jon", "John", "John ", ""], dtype=object)
    keys = np.array(["jon", "john", "john", ""], dtype=object)
    complete = np.array([3, 1, 2, 0])
    source = np.array([0, 1, 1, 0])
    recency = np.array([3.0, 1.0, 2.0, np.nan])
    assert pick("most_frequent", entity, values, keys, complete, source, None).to_dict() == {"a": 2}
    assert pick("most_recent", entity, values, keys, complete, source, recency).to_dict() == {"a": 0}
    assert pick("most_complete", entity, values, keys, complete, source, None).to_dict() == {"a": 0}
    assert pick("longest", entity, values, keys, complete, source, None).to_dict() == {"a": 2}
    assert pick("source_priority", entity, values, keys, complete, source, None).to_dict() == {"a": 0}
    assert default_rule("address", False) == "most_frequent" and default_rule("text", False) == "longest"
    assert default_rule("email", True) == "most_recent"
    rules, problems = parse_overrides("city=source_priority; email = most_recent; x=best")
    assert rules == {"city": "source_priority", "email": "most_recent"} and "x=best" in problems[0]


def test_explanations_name_agreeing_and_differing_fields() -> None:
    sentence = explain_pair(
        {"date of birth": "exact", "postcode": "exact", "surname": "one_edit", "email": None},
        {"date of birth": 9.0, "postcode": 7.0, "surname": 4.0, "email": 0.0},
        0.9999,
        0.95,
    )
    assert sentence == "same date of birth and postcode, surname differs by one letter: strong match"
    weak = explain_pair({"surname": "else"}, {"surname": -6.0}, 0.2, 0.95)
    assert weak == "surname differs: not a match"
