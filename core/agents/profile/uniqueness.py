"""The `uniqueness` agent: distinct values, candidate keys, duplicate and near-duplicate rows.

Rows are compared through the per-column codes of the shared cache (one integer per cell)
folded into a 64-bit hash per row, so a million rows of twenty columns are compared in a few
hash passes instead of by their text; every duplicate the hash finds is then checked column
by column against the row it repeats, so a hash collision can never report a false one.

"Near duplicates" are rows that become identical once case, accents, punctuation and spacing
are ignored (`inference.matching_keys`): the same customer typed twice, once as "ACME Inc."
and once as "acme inc".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable, Recommendation
from core.agents.profile.inference import (
    _ID_NAME,
    ColumnProfile,
    column_profile,
    factorize_text,
    matching_keys,
    per_table,
    prefetch,
    warm,
)
from core.agents.rows import join_text, refs

AGENT_ID = "uniqueness"
CACHE_KEY = "profile.uniqueness"
FIX_AGENT = "duplicates"
KEY_SAMPLE = 20_000  # rows a key candidate is first tried on; a repeat there rules it out exactly
MAX_KEY_COLUMNS = 8  # columns combined in pairs when looking for two-column keys
MAX_KEYS_REPORTED = 5
EXPECTED_UNIQUE_RATIO = 0.95
_PRIME = np.uint64(1_000_003)
_SALT = np.uint64(0x9E3779B97F4A7C15)
_BLOCK = 1 << 16  # rows hashed at a time by `_fold_blocks`
_MIX = np.uint64(0xBF58476D1CE4E5B9)  # odd, so multiplying by it maps hashes one to one
HELD_KEY_CELLS = 4_000_000  # near-duplicate keys held at once rather than made twice
MANY_VALUES = 10  # a column with more distinct values than a tenth of the rows is costly to key


@dataclass
class TableUniqueness:
    """What one table's rows and columns say about uniqueness (cached for the quality score)."""

    rows: int
    exact_duplicates: np.ndarray  # later copies of an earlier identical row (0-based)
    exact_first: np.ndarray  # for each of them, the row it repeats
    near_duplicates: np.ndarray  # equal to an earlier row once normalised, not an exact copy
    near_first: np.ndarray
    single_keys: list[str] = field(default_factory=list)
    pair_keys: list[tuple[str, str]] = field(default_factory=list)
    keys_after_dedup: bool = False
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicate_value_rows: dict[str, np.ndarray] = field(default_factory=dict)


def _fold(codes_per_column: Iterable[np.ndarray], n: int) -> np.ndarray:
    """One 64-bit hash per row from its codes; the salted codes go through one reused buffer,
    so a column costs no fresh memory."""
    hashed = np.zeros(n, dtype=np.uint64)
    salted = np.empty(n, dtype=np.uint64)
    for codes in codes_per_column:
        hashed *= _PRIME
        np.add(codes, _SALT, out=salted, dtype=np.uint64, casting="unsafe")  # = astype + salt
        hashed ^= salted
    return hashed


def _fold_blocks(columns: Sequence[tuple[np.ndarray | None, np.ndarray]], n: int) -> np.ndarray:
    """A `_fold` of `keys[codes]` per column (of `codes` where `keys` is None), a block of rows
    at a time: the block's temporaries stay in the processor's cache, and no column of keys
    is ever gathered whole."""
    hashed = np.zeros(n, dtype=np.uint64)
    salted = np.empty(min(n, _BLOCK), dtype=np.uint64)
    gathered = np.empty(min(n, _BLOCK), dtype=np.int32)
    for start in range(0, n, _BLOCK):
        block = hashed[start : start + _BLOCK]
        size = len(block)
        for keys, codes in columns:
            block *= _PRIME
            part = codes[start : start + size]
            if keys is not None:
                part = np.take(keys, part, out=gathered[:size])
            np.add(part, _SALT, out=salted[:size], dtype=np.uint64, casting="unsafe")
            block ^= salted[:size]
    return hashed


def _same_rows_as_keys(profile: ColumnProfile) -> tuple[np.ndarray | None, np.ndarray]:
    """What to hash for a column's matching keys: the keys through the codes, or the codes
    alone when no two values share a key (equal codes then mean equal keys and back)."""
    keys = profile.matching[0]
    one_to_one = len(np.unique(keys)) == len(keys)
    return (None if one_to_one else keys.astype(np.int32, copy=False)), profile.encoded.codes


def _repeats(hashed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose hash appeared before (ascending), and the first row with that hash.

    Only the rows whose hash is shared (`_in_repeated_runs`, usually a few thousand) are
    sorted with their row numbers: equal hashes end up side by side, and the first row of
    each run of equal hashes is its smallest row number."""
    shared = _in_repeated_runs(hashed)
    if len(shared) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    later, first = _repeats_among(hashed[shared])
    return shared[later], shared[first]


def _repeats_among(hashed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_repeats` by sorting every row's hash with its row number."""
    n = len(hashed)
    order = np.argsort(hashed)
    ordered = hashed[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    if len(starts) == n:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    sizes = np.diff(np.append(starts, n))
    first_in_run = np.repeat(np.minimum.reduceat(order, starts), sizes)
    later_at = order != first_in_run
    later, first = order[later_at], first_in_run[later_at]
    ascending = np.argsort(later)
    return later[ascending].astype(np.int64), first[ascending].astype(np.int64)


def _in_repeated_runs(hashed: np.ndarray) -> np.ndarray:
    """Rows (ascending) whose hash is shared with at least one other row, and perhaps a rare
    few more (callers compare the rows themselves).

    A plain sort is several times faster than an argsort, so the row number is carried in
    the low bits of the value sorted. That value is the hash times an odd constant (one to
    one, and it mixes every bit of the hash into the high bits that are kept). Two hashes
    whose mixed values differ only in the dropped bits look shared; with a million rows
    that happens about once in thirty runs."""
    n = len(hashed)
    if n < 2:
        return np.empty(0, dtype=np.int64)
    low = np.uint64((1 << max(int(n - 1).bit_length(), 1)) - 1)
    keyed = hashed * _MIX
    keyed &= ~low
    numbers = np.arange(min(n, _BLOCK), dtype=np.uint64)
    for start in range(0, n, _BLOCK):  # row numbers a block at a time (no million-row arange)
        block = keyed[start : start + _BLOCK]
        block |= numbers[: len(block)] + np.uint64(start)
    keyed.sort()
    same_as_next = (keyed[1:] ^ keyed[:-1]) <= low
    shared = np.zeros(n, dtype=bool)
    shared[:-1] |= same_as_next
    shared[1:] |= same_as_next
    rows = (keyed[shared] & low).astype(np.int64)
    rows.sort()
    return rows


def _has_repeats(values: np.ndarray) -> bool:
    """True when some value occurs twice (a sort and one comparison of neighbours)."""
    ordered = np.sort(values)
    return bool((ordered[1:] == ordered[:-1]).any())


def duplicate_rows(
    columns: Sequence[np.ndarray] | Callable[[], Iterator[np.ndarray]],
    n: int,
    within: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact repeats of earlier rows over per-row code arrays, collision-checked. `columns`
    may be a function yielding the arrays, so they are made one at a time (twice) instead of
    all held at once. `within` (ascending rows) limits the search to the rows that can
    repeat at all (`rows_that_may_repeat`)."""
    arrays: Callable[[], Iterable[np.ndarray]] = columns if callable(columns) else (lambda: columns)
    if within is not None:
        later, first = duplicate_rows(lambda: (codes[within] for codes in arrays()), len(within))
        return within[later], within[first]
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    later, first = _repeats(_fold(arrays(), n))
    same = np.ones(len(later), dtype=bool)
    for codes in arrays():
        same &= codes[later] == codes[first]
    if not same.all():  # a 64-bit collision: settle those rows exactly
        frame = pd.DataFrame({i: c for i, c in enumerate(arrays())})
        exact = frame.duplicated(keep="first").to_numpy()
        later = np.flatnonzero(exact)
        first_index = frame.reset_index().groupby(list(frame.columns))["index"].transform("min")
        first = first_index.to_numpy()[later]
    return later, first


def rows_that_may_repeat(profiles: Sequence[ColumnProfile], n: int) -> np.ndarray | None:
    """Rows whose value repeats in the column of most distinct values: only they can be
    copies of another row. None when that is most rows anyway."""
    if not profiles:
        return None
    most = max(profiles, key=lambda p: len(p.encoded.counts))  # so, often, the fewest repeat
    repeats = most.encoded.counts > 1
    if int(most.encoded.counts[repeats].sum()) * 2 > n:
        return None
    return np.flatnonzero(repeats[most.encoded.codes])


def near_duplicate_rows(
    context: AgentContext, profiles: list[ColumnProfile], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows equal to an earlier row once every cell is reduced to its matching key.

    Keys of columns with many distinct values (ids, emails, timestamps) are costly, and only
    rows that already agree on every other column can be near duplicates. So the rows are
    first grouped on the keys of the columns with few distinct values; the costly columns'
    keys are then computed for the values of the rows that share a group (usually a few
    thousand), and only those rows are compared in full.
    """
    cheap = _cheap_to_key(profiles, n)
    costly = [p for p in profiles if p not in cheap]
    warm(context, ("matching",), columns=cheap)
    if cheap:
        candidates = _in_repeated_runs(_fold_blocks([_same_rows_as_keys(p) for p in cheap], n))
    else:
        candidates = np.arange(n)
    if len(candidates) < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)

    def subset_keys() -> Iterator[np.ndarray]:
        for p in cheap:
            yield p.matching[0][p.encoded.codes[candidates]]
        for p in costly:
            codes = p.encoded.codes[candidates]
            used, local = np.unique(codes, return_inverse=True)
            keys = matching_keys(p.encoded.values.take(pa.array(used)))
            key_codes, _ = factorize_text(keys)
            yield np.where(p.missing_codes[used], -1, key_codes)[local]

    small = len(candidates) * len(profiles) <= HELD_KEY_CELLS  # then made once, not twice
    later, first = duplicate_rows(list(subset_keys()) if small else subset_keys, len(candidates))
    return candidates[later], candidates[first]


def _cheap_to_key(profiles: Sequence[ColumnProfile], n: int) -> list[ColumnProfile]:
    """The columns whose matching keys are computed for every distinct value (few values)."""
    return [p for p in profiles if len(p.encoded.values) * MANY_VALUES <= n]


def table_uniqueness(context: AgentContext, table: LoadedTable) -> TableUniqueness:
    """The uniqueness facts of one table, computed once per run and shared."""
    return per_table(context, CACHE_KEY, table, lambda current: _compute(current, table))


def prefetch_uniqueness(context: AgentContext, table: LoadedTable) -> None:
    """Start `table_uniqueness` in the background (see `inference.prefetch`)."""
    prefetch(context, CACHE_KEY, table, lambda current: _compute(current, table))


def _compute(context: AgentContext, table: LoadedTable) -> TableUniqueness:
    n = len(table.frame)
    warm(context, ("encoded", "missing_codes", "column_type"))
    profiles = [column_profile(context, table, c) for c in table.frame.columns]
    warm(context, ("matching",), columns=_cheap_to_key(profiles, n))  # here: it reports progress
    # near duplicates (hashing and sorting, which let go of the interpreter) on the other core
    # while this thread looks for exact ones and keys
    with ThreadPoolExecutor(1, thread_name_prefix="near-duplicates") as pool:
        near_rows = pool.submit(near_duplicate_rows, context, profiles, n)
        codes = [p.encoded.codes for p in profiles]
        exact, exact_first = duplicate_rows(codes, n, rows_that_may_repeat(profiles, n))
        is_exact = np.zeros(n, dtype=bool)
        is_exact[exact] = True
        facts = TableUniqueness(n, exact, exact_first, *_empty_pair())
        kept_rows = n - len(exact)
        facts.keys_after_dedup = len(exact) > 0
        dropped = {p.name: _Dropped.of(p, exact) for p in profiles}
        for profile in profiles:
            is_key = kept_rows > 1 and dropped[profile.name].leaves_a_key(profile)
            facts.columns[profile.name] = _column_facts(profile, is_key)
        facts.single_keys = [name for name, f in facts.columns.items() if f["is_candidate_key"]]
        facts.pair_keys = _pair_keys(profiles, facts, ~is_exact, dropped)
        near, near_first = near_rows.result()
    near_only = ~is_exact[near]
    facts.near_duplicates, facts.near_first = near[near_only], near_first[near_only]
    for profile in profiles:
        repeated = _duplicate_values(profile, facts.columns[profile.name])
        if repeated is not None:
            facts.duplicate_value_rows[profile.name] = repeated
    return facts


def _empty_pair() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)


@dataclass
class _Dropped:
    """The values of a column's exact duplicate rows, and how many rows of each those take
    away: the counts once duplicates are set aside differ from the full counts at these few
    values only, so they are read at the values asked about instead of copied whole."""

    values: np.ndarray  # ascending codes
    rows: np.ndarray

    @classmethod
    def of(cls, profile: ColumnProfile, exact: np.ndarray) -> _Dropped:
        values, rows = np.unique(profile.encoded.codes[exact], return_counts=True)
        return cls(values, rows)

    def kept_counts(self, profile: ColumnProfile, values: np.ndarray) -> np.ndarray:
        """Rows of each of `values` (codes) once the duplicate rows are set aside."""
        kept = profile.encoded.counts[values]  # a copy (indexed by an array)
        if len(self.values):
            at = np.minimum(np.searchsorted(self.values, values), len(self.values) - 1)
            hit = self.values[at] == values
            kept[hit] -= self.rows[at[hit]]
        return kept

    def leaves_a_key(self, profile: ColumnProfile) -> bool:
        """No missing cell and no value twice among the kept rows. Only values seen twice
        in all rows can be seen twice in the kept ones, and each must lose a row to be once."""
        if (self.kept_counts(profile, np.flatnonzero(profile.missing_codes)) > 0).any():
            return False
        repeated = np.flatnonzero(profile.encoded.counts > 1)
        return len(repeated) <= len(self.values) and bool((self.kept_counts(profile, repeated) <= 1).all())

    def still_repeated(self, profile: ColumnProfile) -> np.ndarray:
        """Per value: True when it occurs more than once among the kept rows."""
        repeats = profile.encoded.counts > 1
        repeats[self.values] = self.kept_counts(profile, self.values) > 1
        return repeats


def _column_facts(profile: ColumnProfile, is_key: bool) -> dict[str, Any]:
    """A column's distinct, unique and repeated values. Every count is over all values less
    the few missing markers, which spares a mask as long as the column per fact."""
    counts, missing = profile.encoded.counts, profile.missing_codes
    missing_counts = counts[missing]
    filled = int(counts.sum() - missing_counts.sum())
    distinct = len(counts) - int(np.count_nonzero(missing))
    single = counts == 1
    unique = int(np.count_nonzero(single)) - int(np.count_nonzero(missing_counts == 1))
    repeated_rows = filled - unique  # a filled value's rows are repeats unless it occurs once
    return {
        "distinct_values": distinct,
        "distinct_ratio": distinct / filled if filled else 0.0,
        "unique_values": unique,
        "repeated_value_rows": repeated_rows,
        "is_candidate_key": bool(is_key),
    }


def _pair_keys(
    profiles: list[ColumnProfile],
    facts: TableUniqueness,
    kept: np.ndarray,
    dropped: dict[str, _Dropped],
) -> list[tuple[str, str]]:
    """Two columns that together tell every row apart, when neither does alone.

    Each pair is first tried on an evenly spread sample: a repeat there proves the pair is
    not a key, so the full check only runs for the few pairs that survive, and only on the
    rows whose values repeat in both columns (two rows can only agree on both if each of
    their values occurs twice), usually a small share of the rows.
    """
    kept_rows = int(kept.sum())
    if kept_rows < 2:
        return []
    usable = [
        p
        for p in profiles
        if not facts.columns[p.name]["is_candidate_key"]
        and not p.missing_codes.any()
        and facts.columns[p.name]["distinct_values"] >= 2
    ]
    usable.sort(key=lambda p: -facts.columns[p.name]["distinct_values"])
    usable = usable[:MAX_KEY_COLUMNS]
    sample = _kept_positions(
        facts.exact_duplicates, np.linspace(0, kept_rows - 1, min(kept_rows, KEY_SAMPLE)).astype(np.int64)
    )
    sampled = {p.name: p.encoded.codes[sample].astype(np.int64) for p in usable}
    repeats = {p.name: dropped[p.name].still_repeated(p) for p in usable}
    repeated_rows = {p.name: int(p.encoded.counts[repeats[p.name]].sum()) for p in usable}  # about
    repeating: dict[str, np.ndarray] = {}  # per column, kept rows whose value repeats (on demand)

    def repeating_rows(p: ColumnProfile) -> np.ndarray:
        if p.name not in repeating:
            repeating[p.name] = np.flatnonzero(repeats[p.name][p.encoded.codes] & kept)
        return repeating[p.name]

    keys = []
    for a, b in combinations(usable, 2):
        card_b = len(b.encoded.counts)
        if len(a.encoded.counts) * card_b < kept_rows:
            continue
        if _has_repeats(sampled[a.name] * card_b + sampled[b.name]):
            continue
        # from the rows repeating in the column where fewer do, those repeating in the other
        fewer, other = sorted((a, b), key=lambda p: repeated_rows[p.name])
        rows = repeating_rows(fewer)
        rows = rows[repeats[other.name][other.encoded.codes[rows]]]
        if _has_repeats(a.encoded.codes[rows].astype(np.int64) * card_b + b.encoded.codes[rows]):
            continue
        keys.append((a.name, b.name))
        if len(keys) == MAX_KEYS_REPORTED:
            break
    return keys


def _kept_positions(dropped: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """The row positions of the `nth` rows left once `dropped` rows are set aside, from the
    few dropped rows alone: the k-th kept row lies k rows plus the dropped rows before it in."""
    dropped = np.sort(dropped)
    shifted = dropped - np.arange(len(dropped))  # dropped row j has this many kept rows before it
    return nth + np.searchsorted(shifted, nth, side="right")


def _examples(profile: ColumnProfile, rows: np.ndarray, limit: int = 5) -> list[str]:
    """`rows.examples_at` read through the column's distinct values (the same texts, without
    indexing the million-row text column)."""
    seen: list[str] = []
    codes = profile.encoded.codes[rows[: limit * 20]]
    for value in profile.encoded.values.take(pa.array(codes)).to_pylist():
        if value not in seen:
            seen.append(value)
            if len(seen) == limit:
                break
    return seen


def _duplicate_values(profile: ColumnProfile, column_facts: dict[str, Any]) -> np.ndarray | None:
    """Rows sharing a value in a column that should be unique (ids, emails): every row of
    each repeated value, so both the original and its copies can be checked."""
    expected = profile.column_type.semantic_type in ("identifier", "email") or bool(
        _ID_NAME.search(profile.name)
    )
    ratio = column_facts["distinct_ratio"]
    if not expected or ratio < EXPECTED_UNIQUE_RATIO or column_facts["repeated_value_rows"] == 0:
        return None
    flagged = ~profile.missing_codes & (profile.encoded.counts > 1)
    return profile.encoded.rows_where(flagged)


class UniquenessAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        totals = {"rows": 0, "exact_duplicate_rows": 0, "near_duplicate_rows": 0}
        keys: dict[str, Any] = {}
        tables = list(context.tables.values())
        for index, table in enumerate(tables):
            context.progress(index / max(len(tables), 1), f"{table.filename}: comparing rows")
            facts = table_uniqueness(context, table)
            totals["rows"] += facts.rows
            totals["exact_duplicate_rows"] += len(facts.exact_duplicates)
            totals["near_duplicate_rows"] += len(facts.near_duplicates)
            keys[table.file_key] = {
                "single_column_keys": facts.single_keys,
                "column_pair_keys": [list(pair) for pair in facts.pair_keys],
                "keys_checked_without_duplicate_rows": facts.keys_after_dedup,
            }
            for name, column_facts in facts.columns.items():
                result.columns[(table.file_key, name)] = {
                    **column_facts,
                    "duplicate_value_rows": len(facts.duplicate_value_rows.get(name, ())),
                }
            self._row_findings(result, table, facts)
            self._value_findings(context, result, table, facts)
        context.progress(1.0, None)
        result.metrics = {**totals, "candidate_keys": keys}
        return result

    @staticmethod
    def _row_findings(result: AgentResult, table: LoadedTable, facts: TableUniqueness) -> None:
        for code, rows, firsts, what, severity in (
            ("DUPLICATE_ROWS", facts.exact_duplicates, facts.exact_first, "exact copies of", "high"),
            (
                "NEAR_DUPLICATE_ROWS",
                facts.near_duplicates,
                facts.near_first,
                "the same as (ignoring case, accents, spaces and punctuation)",
                "medium",
            ),
        ):
            if len(rows) == 0:
                continue
            order = np.argsort(rows, kind="stable")
            rows, firsts = rows[order], firsts[order]
            values = join_text("same as row ", pa.array(firsts + 1))
            result.row_refs.append(
                refs(
                    table.file_key, None, AGENT_ID, code, f"row is {what} an earlier row", rows, values=values
                )
            )
            examples = [f"row {r + 1} = row {f + 1}" for r, f in zip(rows[:5], firsts[:5], strict=True)]
            result.alerts.append(
                Finding(
                    severity=severity,
                    agent=AGENT_ID,
                    code=code,
                    message=f"{len(rows):,} row(s) of {table.filename} are {what} an earlier row.",
                    file_key=table.file_key,
                    count=len(rows),
                    examples=examples,
                )
            )
            result.recommendations.append(
                Recommendation(
                    agent=AGENT_ID,
                    code=f"REMOVE_{code}",
                    message=f"Remove the {len(rows):,} repeated row(s) of {table.filename}, keeping the "
                    "first of each; see issue_rows.csv for which rows repeat which.",
                    file_key=table.file_key,
                    rows_affected=len(rows),
                    fix_agent=FIX_AGENT,
                )
            )

    @staticmethod
    def _value_findings(
        context: AgentContext, result: AgentResult, table: LoadedTable, facts: TableUniqueness
    ) -> None:
        for name, rows in facts.duplicate_value_rows.items():
            profile = column_profile(context, table, name)
            repeated_values = int((~profile.missing_codes & (profile.encoded.counts > 1)).sum())
            result.row_refs.append(
                refs(
                    table.file_key,
                    name,
                    AGENT_ID,
                    "DUPLICATE_VALUES",
                    "value appears in more than one row",
                    rows,
                )
            )
            result.alerts.append(
                Finding(
                    severity="medium",
                    agent=AGENT_ID,
                    code="DUPLICATE_VALUES",
                    message=f"Column '{name}' looks like it should identify each row, but "
                    f"{repeated_values:,} value(s) appear more than once ({len(rows):,} rows).",
                    column=name,
                    file_key=table.file_key,
                    count=len(rows),
                    examples=_examples(profile, rows),
                )
            )
            result.recommendations.append(
                Recommendation(
                    agent=AGENT_ID,
                    code="RESOLVE_DUPLICATE_VALUES",
                    message=f"Check the rows that share a value in '{name}': merge them if they are the "
                    "same record, or correct the value.",
                    column=name,
                    file_key=table.file_key,
                    rows_affected=len(rows),
                    fix_agent=FIX_AGENT,
                )
            )
