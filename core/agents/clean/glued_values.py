"""Values glued onto a neighbour: `Boulder CO` in the city column while the state cell of
the same row is empty. Used by `dependency_repair` before it votes on rules.

The tail is split off only when it is, word for word, a frequent value of another column
that is empty in that very row, and what stays is a value the first column already holds
elsewhere. Then both cells are known: the first loses the tail, the empty one receives it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.clean.state import CleaningState
from core.agents.profile.inference import bool_mask

GLUED_CONFIDENCE = 0.9
MIN_TOKEN_ROWS = 3
MAX_TOKEN_VALUES = 500


def split_glued(state: CleaningState, file_key: str, agent: str) -> int:
    """Propose the splits of one table; returns how many cells were repaired."""
    frame = state.frames[file_key]
    live = state.live_rows(file_key)
    repaired = 0
    tokens: dict[str, set[str]] = {}
    for column in frame.columns:
        # the column's distinct values and their rows, from the cleaning state's profile of it
        encoded = state.profile(file_key, str(column)).encoded
        if _digits_only(encoded.values):
            continue  # tokens are words: a column of numbers offers none
        frequent = (encoded.counts >= MIN_TOKEN_ROWS) & bool_mask(pc.not_equal(encoded.values, ""))
        if 0 < int(frequent.sum()) <= MAX_TOKEN_VALUES:
            texts = encoded.values.filter(pa.array(frequent)).to_pylist()
            values = {v for v in texts if " " not in v and not v.isdigit()}
            if values:
                tokens[str(column)] = values
    for target, token_set in tokens.items():
        empty = ((frame[target] == "") & live).to_numpy()
        if not empty.any():
            continue
        for source in frame.columns:
            if source == target:
                continue
            rows, remainders, tails = _candidates(frame[source], empty, token_set)
            if rows:
                a, _ = state.propose(
                    file_key, source, rows, remainders, agent, "glued_value", GLUED_CONFIDENCE
                )
                b, _ = state.propose(file_key, target, rows, tails, agent, "glued_value", GLUED_CONFIDENCE)
                repaired += a + b
                empty = ((frame[target] == "") & live).to_numpy()
    return repaired


def _digits_only(values: pa.Array) -> bool:
    """True when every value is empty or ASCII digits (one Arrow pass over the distinct
    values; a wide file's numeric columns then cost no more)."""
    return bool(pc.all(pc.match_substring_regex(values, "^[0-9]*$")).as_py())


def _candidates(
    text: pd.Series, empty: np.ndarray, tokens: set[str]
) -> tuple[list[int], list[str], list[str]]:
    """Rows (ascending) whose value, in a row where the target is `empty`, splits into a head
    the column holds in a row where the target is filled and a tail from `tokens`, with both
    parts. Whether a head is held is asked only of the heads with a token tail, all at once."""
    rows: list[int] = []
    remainders: list[str] = []
    tails: list[str] = []
    positions = np.flatnonzero(empty & text.str.contains(" ", regex=False).to_numpy(dtype=bool))
    if len(positions) == 0:
        return rows, remainders, tails
    values = text.to_numpy()[positions]
    splits: dict[str, tuple[str, str]] = {}
    for value in set(values.tolist()):
        head, _, tail = value.rstrip().rpartition(" ")
        head = head.rstrip(" ,")
        if head and tail in tokens:
            splits[value] = (head, tail)
    if not splits:
        return rows, remainders, tails
    heads = pd.Series(sorted({head for head, _ in splits.values()}), dtype="str")
    known = set(heads[heads.isin(text[~empty]).to_numpy()].tolist())
    for row, value in zip(positions.tolist(), values.tolist(), strict=True):
        split = splits.get(value)
        if split is not None and split[0] in known:
            rows.append(row)
            remainders.append(split[0])
            tails.append(split[1])
    return rows, remainders, tails
