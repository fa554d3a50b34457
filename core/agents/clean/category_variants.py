"""The `category_variants` clean agent: one spelling per category.

Two OpenRefine-style clusterings over a column's distinct values:

- *fingerprint*: values whose matching key (the profile's `matching_keys`: case, accents,
  punctuation and spacing removed) is the same are one category; rare spellings merge into
  the cluster's dominant one when it is clearly the usual spelling (3x more rows).
- *near spelling*: a rare value (one or two rows) one edit away (two for long values) from a
  value at least 20 times more frequent, found through shared character bigrams. Values
  with digits are left out: `ami-1` and `ami-2` are different codes, not typos. Two edits,
  or a different first letter (`Cortland` is a town, not a typo of `Portland`), make it a
  suggestion.

Only category-like columns qualify (values repeat: at most one distinct value per five
rows), so names and free text are never "corrected" towards a more common neighbour.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pyarrow as pa

from core.agents.base import AgentContext, AgentResult
from core.agents.clean.common import Rewrite, rewrite_values
from core.agents.clean.state import CleaningState, agent_result, cleaning_state
from core.agents.profile.inference import matching_keys

AGENT_ID = "category_variants"
ROWS_PER_VALUE = 5
DOMINANCE = 3  # the dominant spelling of a fingerprint cluster has this many times more rows
FINGERPRINT_CONFIDENCE = 0.9
FINGERPRINT_UNSURE = 0.6
CASE_ONLY_CONFIDENCE = 0.75
RARITY = 20
RARE_MAX_ROWS = 2
MIN_LENGTH = 5
LONG_LENGTH = 10
NEAR_CONFIDENCE = 0.85
NEAR_FAR_CONFIDENCE = 0.75  # two edits away: offered, not applied by default


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _counts(state: CleaningState, file_key: str, column: str) -> pd.Series | None:
    """Rows per filled value, most common first: what `filled_values(text).value_counts()`
    gives (the same first-appearance order sorted the same way), read off the column's
    profile; None for a column with too few rows per value to hold categories."""
    profile = state.profile(file_key, column)
    encoded, filled = profile.encoded, ~profile.missing_codes
    distinct, rows = int(filled.sum()), int(encoded.counts[filled].sum())
    if distinct < 2 or distinct * ROWS_PER_VALUE > rows:
        return None
    values = pd.Index(encoded.values.filter(pa.array(filled)).to_pylist(), dtype="str")
    counts = pd.Series(encoded.counts[filled], index=values, name="count")
    return counts.sort_values(ascending=False, kind="stable")  # ties keep their first appearance


def _fingerprint(counts: pd.Series) -> dict[str, tuple[str, float]]:
    values = [str(v) for v in counts.index]
    keys = matching_keys(pa.array(values)).to_pylist()
    clusters: dict[str, list[str]] = defaultdict(list)
    for value, key in zip(values, keys, strict=True):
        if key:
            clusters[key].append(value)
    targets: dict[str, tuple[str, float]] = {}
    for members in clusters.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda v: -int(counts[v]))
        top, runner = int(counts[members[0]]), int(counts[members[1]])
        confidence = FINGERPRINT_CONFIDENCE if top >= DOMINANCE * runner else FINGERPRINT_UNSURE
        for member in members[1:]:
            # spellings that differ only in case are tidy_text's call (offered, not applied)
            same_letters = member.lower() == members[0].lower()
            targets[member] = (
                members[0],
                min(confidence, CASE_ONLY_CONFIDENCE) if same_letters else confidence,
            )
    return targets


def _near(counts: pd.Series, taken: dict[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
    frequent = [
        (str(v), int(c))
        for v, c in counts.items()
        if int(c) >= RARITY and not any(ch.isdigit() for ch in str(v))
    ]
    if not frequent:
        return {}
    index: dict[str, list[int]] = defaultdict(list)
    for position, (value, _) in enumerate(frequent):
        for gram in _bigrams(value.lower()):
            index[gram].append(position)
    targets: dict[str, tuple[str, float]] = {}
    for value, count in counts.items():
        value, count = str(value), int(count)
        if (
            count > RARE_MAX_ROWS
            or value in taken
            or len(value) < MIN_LENGTH
            or any(ch.isdigit() for ch in value)
        ):
            continue
        limit = 2 if len(value) >= LONG_LENGTH else 1
        grams = _bigrams(value.lower())
        hits: dict[int, int] = defaultdict(int)
        for gram in grams:
            for position in index.get(gram, ()):
                hits[position] += 1
        best: list[tuple[int, str]] = []
        for position, shared in hits.items():
            candidate, frequency = frequent[position]
            if frequency < RARITY * count or shared < len(grams) - 2 * limit:
                continue
            distance = edit_distance(value, candidate, limit)
            if distance <= limit:
                best.append((distance, candidate))
        if not best:
            continue
        best.sort()
        if len(best) > 1 and best[1][0] == best[0][0]:
            continue  # two equally close categories: which one was meant is unknown
        distance, candidate = best[0]
        # names that differ in their first letter are often two names (Cortland, Portland)
        same_start = value[:1].lower() == candidate[:1].lower()
        sure = distance == 1 and same_start
        targets[value] = (candidate, NEAR_CONFIDENCE if sure else NEAR_FAR_CONFIDENCE)
    return targets


class CategoryVariantsAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        columns = [(k, c) for k, f in state.frames.items() for c in f.columns]
        for done, (file_key, column) in enumerate(columns, start=1):
            counts = _counts(state, file_key, column)
            if counts is not None:
                fingerprint = _fingerprint(counts)
                near = _near(counts, fingerprint)
                targets = {**fingerprint, **near}
                rules = {v: "fingerprint" for v in fingerprint} | {v: "near_spelling" for v in near}

                def rewrite(value: str, _targets=targets, _rules=rules) -> Rewrite:
                    if value not in _targets:
                        return None
                    target, confidence = _targets[value]
                    return target, _rules[value], confidence

                if targets:
                    rewrite_values(state, file_key, column, AGENT_ID, rewrite)
            context.progress(done / max(len(columns), 1), column)
        return agent_result(state, AGENT_ID)
