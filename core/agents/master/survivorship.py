"""Survivorship: which record's value becomes the golden value of a field.

Each field gets a rule, by default from its kind (names and identifiers: the value most
records agree on; addresses and free text: the most complete, i.e. longest; contact details:
the most recent when a recency column is given), overridable per column with the
`survivorship` parameter. Every rule picks a real value of a real record, so each golden
value can say which file and row it came from.

The rules run as one sort per field over all records (no loop over entities), so a million
records cost a few sorts.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

RULES = ("most_frequent", "most_recent", "most_complete", "longest", "source_priority")
RECENT_KINDS = ("email", "phone", "address", "postcode")
LONGEST_KINDS = ("address", "text")
_ENTRY = re.compile(r"^\s*(?P<column>[^=]+?)\s*=\s*(?P<rule>[a-z_]+)\s*$")


def default_rule(kind: str, has_recency: bool) -> str:
    if has_recency and kind in RECENT_KINDS:
        return "most_recent"
    if kind in LONGEST_KINDS:
        return "longest"
    return "most_frequent"


def parse_overrides(text: str) -> tuple[dict[str, str], list[str]]:
    """`survivorship` entries "email=most_recent; city=source_priority" and the problems found."""
    rules: dict[str, str] = {}
    problems: list[str] = []
    for part in re.split(r"[;\n]", text or ""):
        if not part.strip():
            continue
        found = _ENTRY.match(part)
        if not found or found["rule"] not in RULES:
            problems.append(
                f"'{part.strip()}' is not a survivorship rule; write column=rule with a rule among "
                f"{', '.join(RULES)}."
            )
            continue
        rules[found["column"]] = found["rule"]
    return rules, problems


def pick(
    rule: str,
    entity: np.ndarray,
    values: np.ndarray,
    keys: np.ndarray,
    completeness: np.ndarray,
    source_rank: np.ndarray,
    recency: np.ndarray | None,
) -> pd.Series:
    """Per entity, the position (record) whose value survives under `rule`, among the records
    with a value; ties go to the more complete record, then the preferred source, then the
    earlier record."""
    positions = np.arange(len(values))
    present = (pd.Series(values, dtype="str").fillna("").str.strip() != "").to_numpy() & (keys != "")
    frame = pd.DataFrame(
        {
            "entity": entity[present],
            "position": positions[present],
            "complete": -completeness[present],
            "source": source_rank[present],
        }
    )
    primary: list[str] = []
    if rule == "most_frequent":
        key_series = pd.Series(keys[present])
        frame["count"] = -key_series.groupby([frame["entity"].to_numpy(), key_series.to_numpy()]).transform(
            "size"
        )
        primary = ["count"]
    elif rule == "most_recent" and recency is not None:
        frame["recent"] = -np.nan_to_num(recency[present].astype(float), nan=-np.inf)
        primary = ["recent"]
    elif rule == "longest":
        frame["length"] = -pd.Series(values[present]).astype("str").str.len().to_numpy()
        primary = ["length"]
    elif rule == "source_priority":
        primary = ["source"]
    order = ["entity", *primary, "complete", "source", "position"]
    chosen = frame.sort_values(order, kind="stable").drop_duplicates("entity")
    return chosen.set_index("entity")["position"]
