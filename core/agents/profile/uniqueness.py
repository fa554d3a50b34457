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
    matching_keys,
    per_table,
    prefetch,
    warm,
)
from core.agents.rows import examples_at, join_text, refs

AGENT_ID = "uniqueness"
CACHE_KEY = "profile.uniqueness"
FIX_AGENT = "duplicates"
KEY_SAMPLE = 20_000  # rows a key candidate is first tried on; a repeat there rules it out exactly
MAX_KEY_COLUMNS = 8  # columns combined in pairs when looking for two-column keys
MAX_KEYS_REPORTED = 5
EXPECTED_UNIQUE_RATIO = 0.95
_PRIME = np.uint64(1_000_003)
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
    hashed = np.zeros(n, dtype=np.uint64)
    for codes in codes_per_column:
        hashed *= _PRIME
        hashed ^= codes.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    return hashed


def _repeats(hashed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose hash appeared before (ascending), and the first row with that hash.

    By sorting, not hashing again: equal hashes end up side by side, and the first row of each
    run of equal hashes is its smallest row number (a vectorised sort beats a hash table on a
    million 64-bit values several times over)."""
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
    """Rows (ascending) whose hash is shared with at least one other row."""
    order = np.argsort(hashed)
    ordered = hashed[order]
    same_as_next = ordered[1:] == ordered[:-1]
    shared = np.zeros(len(hashed), dtype=bool)
    shared[:-1] |= same_as_next
    shared[1:] |= same_as_next
    return np.sort(order[shared])


def _has_repeats(values: np.ndarray) -> bool:
    """True when some value occurs twice (a sort and one comparison of neighbours)."""
    ordered = np.sort(values)
    return bool((ordered[1:] == ordered[:-1]).any())


def _duplicates(
    columns: Sequence[np.ndarray] | Callable[[], Iterator[np.ndarray]], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact repeats of earlier rows over per-row code arrays, collision-checked. `columns`
    may be a function yielding the arrays, so they are made one at a time (twice) instead of
    all held at once."""
    arrays: Callable[[], Iterable[np.ndarray]] = columns if callable(columns) else (lambda: columns)
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
        first_index = frame.reset_index().groupby(list(range(len(columns))))["index"].transform("min")
        first = first_index.to_numpy()[later]
    return later, first


def _near_duplicates(
    context: AgentContext, profiles: list[ColumnProfile], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows equal to an earlier row once every cell is reduced to its matching key.

    Keys of columns with many distinct values (ids, emails, timestamps) are costly, and only
    rows that already agree on every other column can be near duplicates. So the rows are
    first grouped on the keys of the columns with few distinct values; the costly columns'
    keys are then computed for the values of the rows that share a group (usually a few
    thousand), and only those rows are compared in full.
    """
    costly = [p for p in profiles if len(p.encoded.values) * MANY_VALUES > n]
    cheap = [p for p in profiles if len(p.encoded.values) * MANY_VALUES <= n]
    warm(context, ("matching",), columns=cheap)
    if not costly:
        return _duplicates(lambda: (p.matching[0][p.encoded.codes] for p in cheap), n)
    if cheap:
        partial = _fold((p.matching[0][p.encoded.codes] for p in cheap), n)
        candidates = _in_repeated_runs(partial)
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
            key_codes, _ = pd.factorize(pd.Series(keys.to_pandas(), dtype="str"))
            yield np.where(p.missing_codes[used], -1, key_codes)[local]

    later, first = _duplicates(subset_keys, len(candidates))
    return candidates[later], candidates[first]


def table_uniqueness(context: AgentContext, table: LoadedTable) -> TableUniqueness:
    """The uniqueness facts of one table, computed once per run and shared."""
    return per_table(context, CACHE_KEY, table, lambda: _compute(context, table))


def prefetch_uniqueness(context: AgentContext, table: LoadedTable) -> None:
    """Start `table_uniqueness` in the background (see `inference.prefetch`)."""
    prefetch(context, CACHE_KEY, table, lambda: _compute(context, table))


def _compute(context: AgentContext, table: LoadedTable) -> TableUniqueness:
    n = len(table.frame)
    warm(context, ("encoded", "missing_codes", "column_type"))
    profiles = [column_profile(context, table, c) for c in table.frame.columns]
    exact, exact_first = _duplicates([p.encoded.codes for p in profiles], n)
    near, near_first = _near_duplicates(context, profiles, n)
    is_exact = np.zeros(n, dtype=bool)
    is_exact[exact] = True
    near_only = ~is_exact[near]
    facts = TableUniqueness(n, exact, exact_first, near[near_only], near_first[near_only])
    kept = ~is_exact
    kept_rows = int(kept.sum())
    facts.keys_after_dedup = len(exact) > 0
    for profile in profiles:
        facts.columns[profile.name] = _column_facts(profile, kept, kept_rows, facts)
    facts.single_keys = [name for name, f in facts.columns.items() if f["is_candidate_key"]]
    facts.pair_keys = _pair_keys(profiles, facts, kept, kept_rows)
    for profile in profiles:
        repeated = _duplicate_values(profile, facts.columns[profile.name])
        if repeated is not None:
            facts.duplicate_value_rows[profile.name] = repeated
    return facts


def _column_facts(
    profile: ColumnProfile, kept: np.ndarray, kept_rows: int, facts: TableUniqueness
) -> dict[str, Any]:
    encoded = profile.encoded
    filled_values = ~profile.missing_codes
    filled = int(encoded.counts[filled_values].sum())
    distinct = int(filled_values.sum())
    repeated_rows = int(encoded.counts[filled_values & (encoded.counts > 1)].sum())
    if len(facts.exact_duplicates):
        counts_kept = np.bincount(encoded.codes[kept], minlength=len(encoded.counts))
    else:
        counts_kept = encoded.counts
    is_key = (
        kept_rows > 1 and not (profile.missing_codes & (counts_kept > 0)).any() and counts_kept.max() <= 1
    )
    return {
        "distinct_values": distinct,
        "distinct_ratio": distinct / filled if filled else 0.0,
        "unique_values": int((filled_values & (encoded.counts == 1)).sum()),
        "repeated_value_rows": repeated_rows,
        "is_candidate_key": bool(is_key),
    }


def _pair_keys(
    profiles: list[ColumnProfile], facts: TableUniqueness, kept: np.ndarray, kept_rows: int
) -> list[tuple[str, str]]:
    """Two columns that together tell every row apart, when neither does alone.

    Each pair is first tried on an evenly spread sample: a repeat there proves the pair is
    not a key, so the full check only runs for the few pairs that survive.
    """
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
    kept_positions = np.flatnonzero(kept)
    sample = kept_positions[np.linspace(0, kept_rows - 1, min(kept_rows, KEY_SAMPLE)).astype(np.int64)]
    keys = []
    for a, b in combinations(usable, 2):
        card_b = len(b.encoded.counts)
        if len(a.encoded.counts) * card_b < kept_rows:
            continue
        for rows in (sample, kept_positions):
            combined = a.encoded.codes[rows].astype(np.int64) * card_b + b.encoded.codes[rows]
            if _has_repeats(combined):
                break
        else:
            keys.append((a.name, b.name))
            if len(keys) == MAX_KEYS_REPORTED:
                break
    return keys


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
                    examples=examples_at(profile.text, rows),
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
