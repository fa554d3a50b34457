"""Functional dependencies on the working values, and their group majorities, for
`dependency_repair`.

The profile's `relationships` agent reports rules that hold on 99% of rows; a table with a
few percent of typos spread over many columns breaks every rule more often than that, so
repair looks for rules holding on 90% of rows, computed with the same group-majority count
(`fd_share`). What a repair may change is decided in `dependency_repair.py`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from core.agents.profile.inference import WORKERS, ColumnProfile
from core.agents.profile.relationships import MAX_COMPARED_COLUMNS, fd_share

FD_REPAIR_SHARE = 0.9
MIN_ROWS_PER_GROUP = 3  # on average, per determinant value
MAX_DISTINCT = 100_000


@dataclass
class Coded:
    """A column as codes (-1 for blanks and missing markers) and its distinct values."""

    name: str
    codes: np.ndarray
    values: np.ndarray

    @property
    def cardinality(self) -> int:
        return len(self.values)


def code_column(profile: ColumnProfile) -> Coded:
    """The column's codes from its profile's distinct values (the cleaning state's profile of
    the column as it is now, so later agents reuse the hashing); blanks and missing markers,
    by the profile's own rule (`missing_codes`), are -1."""
    encoded = profile.encoded
    values = np.asarray(encoded.values.to_pylist(), dtype=object)
    missing = profile.missing_codes
    codes = encoded.codes.astype(np.int64)
    if missing.any():
        remap = np.cumsum(~missing) - 1
        remap[missing] = -1
        codes = np.where(codes >= 0, remap[codes], -1)
        values = values[~missing]
    return Coded(profile.name, codes, values)


@dataclass
class GroupVotes:
    """For a rule A -> B: per A value, its usual B value, how many rows have it, and how many
    rows of that group have B filled."""

    determinant: str
    dependent: str
    share: float
    top: np.ndarray  # per A code: the usual B code (-1 none)
    top_count: np.ndarray
    total: np.ndarray
    pair_count: dict[int, int]  # (a * card_b + b) -> rows


def group_votes(a: Coded, b: Coded, live: np.ndarray, min_share: float = 0.0) -> GroupVotes | None:
    """The votes of rule A -> B; None when it holds on fewer than `min_share` of the rows where
    both are filled (the groups are only counted for a rule that may be used)."""
    both = (a.codes >= 0) & (b.codes >= 0) & live
    aa, bb = a.codes[both], b.codes[both]
    share, _, _ = fd_share(aa, bb, b.cardinality) if len(aa) else (0.0, None, None)
    if share < min_share:
        return None
    key = aa * b.cardinality + bb
    pair_keys, pair_counts = np.unique(key, return_counts=True)
    pair_a, pair_b = pair_keys // b.cardinality, pair_keys % b.cardinality
    order = np.lexsort((-pair_counts, pair_a))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_a[order][1:] != pair_a[order][:-1]
    top = np.full(a.cardinality, -1, dtype=np.int64)
    top_count = np.zeros(a.cardinality, dtype=np.int64)
    top[pair_a[order][first]] = pair_b[order][first]
    top_count[pair_a[order][first]] = pair_counts[order][first]
    total = np.bincount(aa, minlength=a.cardinality)
    return GroupVotes(
        a.name,
        b.name,
        float(share),
        top,
        top_count,
        total,
        dict(zip(pair_keys.tolist(), pair_counts.tolist(), strict=True)),
    )


def find_dependencies(coded: dict[str, Coded], live: np.ndarray) -> list[GroupVotes]:
    """Rules A -> B that hold on at least 90% of the live rows where both are filled, with A
    repeating enough (three rows per value on average) for a majority to mean something.
    The pairs are counted on all cores (numpy and pandas' hashing release the GIL for most of
    the work); the rules come back in the order of the pairs."""
    if not live.any():
        return []
    # pairs grow with the square of the columns: like the profile, compare the first columns only
    usable = [c for c in coded.values() if 2 <= c.cardinality <= MAX_DISTINCT][:MAX_COMPARED_COLUMNS]
    filled = {a.name: int(((a.codes >= 0) & live).sum()) for a in usable}
    pairs = [
        (a, b) for a, b in permutations(usable, 2) if filled[a.name] >= MIN_ROWS_PER_GROUP * a.cardinality
    ]
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="dependencies") as pool:
        votes = pool.map(lambda pair: group_votes(*pair, live, min_share=FD_REPAIR_SHARE), pairs)
        return [v for v in votes if v is not None and v.total.sum() >= MIN_ROWS_PER_GROUP]
