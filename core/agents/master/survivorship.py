"""Survivorship: which record's value becomes the golden value of a field.

Each field gets a rule, by default from its kind (names, identifiers, addresses: the value most
records agree on, the longest of equally frequent ones, so a typo in one copy never wins; free
text: the longest; contact details: the most recent when a recency column is given),
overridable per column with the `survivorship` parameter. Every rule picks a real value of a
real record, so each golden value can say which file and row it came from.

The rules run as one sort per field over all records (no loop over entities), so a million
records cost a few sorts.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

RULES = ("most_frequent", "most_recent", "most_complete", "longest", "source_priority")
RECENT_KINDS = ("email", "phone", "address", "postcode")
LONGEST_KINDS = ("text",)
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
    """Per entity (index), the position (record) whose value survives under `rule`, among the
    records with a value; ties go to the more complete record, then the preferred source, then
    the earlier record. Integer sorts only: text is factorised once (hashing, no sorting)."""
    text = pd.Series(values, dtype="str").fillna("").str.strip()
    present = (text != "").to_numpy() & (keys != "")
    positions = np.flatnonzero(present)
    owner, labels = pd.factorize(np.asarray(entity)[positions])
    owner = owner.astype(np.int64)
    if rule == "most_frequent":
        key_codes = pd.factorize(keys[positions])[0].astype(np.int64)
        pair_codes = pd.factorize(owner.astype(np.int64) * (int(key_codes.max(initial=0)) + 1) + key_codes)[0]
        # the value most records agree on (by match key); among equally frequent ones, the longest
        first = -np.bincount(pair_codes)[pair_codes] * 1e6 - text.str.len().to_numpy()[positions]
    elif rule == "most_recent" and recency is not None:
        first = -np.nan_to_num(recency[positions].astype(float), nan=-np.inf)
    elif rule == "longest":
        first = -text.str.len().to_numpy()[positions].astype(float)
    elif rule == "source_priority":
        first = source_rank[positions].astype(float)
    else:  # most_complete: the tie-breakers alone
        first = np.zeros(len(positions))
    order = np.lexsort((positions, source_rank[positions], -completeness[positions], first, owner))
    sorted_owner = owner[order]
    leaders = (
        np.concatenate(([True], sorted_owner[1:] != sorted_owner[:-1])) if len(order) else order.astype(bool)
    )
    return pd.Series(positions[order][leaders], index=np.asarray(labels)[sorted_owner[leaders]])
