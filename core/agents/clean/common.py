"""Per-distinct-value rewriting, shared by the clean agents: a rule runs once per distinct
value (a million-row column of 300 cities costs 300 calls) and reaches the rows by codes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.clean.state import CleaningState
from core.agents.profile.inference import is_missing

# (new value, rule, confidence) or None to leave the value alone
Rewrite = tuple[str, str, float] | None


def filled_values(text: pd.Series) -> pd.Series:
    """The cells of a column that hold a value: neither empty nor a missing marker ("N/A",
    "-", spaces), by the profile's own rule (`is_missing`), so the clean rules and the
    profile agree on what is missing."""
    return text[~is_missing(text).to_numpy()]


def rewrite_values(
    state: CleaningState,
    file_key: str,
    column: str,
    agent: str,
    rewrite: Callable[[str], Rewrite],
    rows_mask: np.ndarray | None = None,
    may_change: Callable[[pa.Array], np.ndarray] | None = None,
) -> tuple[int, int]:
    """Apply `rewrite` to each distinct value of a column and propose the results, grouped by
    rule and confidence so the log stays in row order within each rule.

    `may_change`, when given, tells per distinct value (as one Arrow array) whether `rewrite`
    could change it at all; the values it rules out are never handed to `rewrite`. A column of
    a million distinct, already tidy values then costs one vectorised pass instead of a million
    Python calls."""
    encoded = state.profile(file_key, column).encoded  # shared with the agents before and after
    codes, distinct = encoded.codes, pc.cast(encoded.values, pa.large_string())
    candidates = np.arange(len(distinct)) if may_change is None else np.flatnonzero(may_change(distinct))
    verdicts: dict[tuple[str, float], list[tuple[int, str]]] = {}
    for code, value in zip(candidates.tolist(), distinct.take(candidates).to_pylist(), strict=True):
        outcome = rewrite(value)
        if outcome is None or outcome[0] == value:
            continue
        new, rule, confidence = outcome
        verdicts.setdefault((rule, confidence), []).append((code, new))
    applied = suggested = 0
    for (rule, confidence), items in verdicts.items():
        lookup = np.full(len(distinct), -1, dtype=np.int64)
        news = [new for _, new in items]
        for index, (code, _) in enumerate(items):
            lookup[code] = index
        picked = lookup[codes]
        hit = picked >= 0
        if rows_mask is not None:
            hit &= rows_mask
        rows = np.flatnonzero(hit)
        if len(rows) == 0:
            continue
        a, s = state.propose(file_key, column, rows, [news[i] for i in picked[rows]], agent, rule, confidence)
        applied, suggested = applied + a, suggested + s
    return applied, suggested
