"""The `relationships` agent: numeric correlations, categorical associations (Cramér's V) and
functional dependencies `A → B` that hold on at least 99% of rows, with the rows that break them.

A dependency such as "zip decides city" that holds on 99.8% of rows is a rule the data means
to follow: the 0.2% that break it are almost always typing mistakes, and they are listed row
by row. Exact counts use the per-column codes of the shared cache (a pair of columns is one
`bincount`); correlations, which do not need every row to be right to two decimals, are
computed on an evenly spread sample, and the report says so.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.profile.checks import Check, emit
from core.agents.profile.inference import ColumnProfile, column_profile, per_table, prefetch, warm
from core.agents.rows import join_text

AGENT_ID = "relationships"
CACHE_KEY = "profile.relationships"
FIX_AGENT = "dependency_repair"
FD_MIN_SHARE = 0.99
FD_MIN_ROWS_PER_VALUE = 5  # on average; below this "A decides B" is true of almost any column
FD_MAX_VALUES = 100_000
FD_SCREEN_ROWS = 50_000  # pairs are screened on this many rows before the exact count
FD_SCREEN_SHARE = 0.97
FD_SCREEN_STEP = 10  # a pair is first tried on every tenth sample row (`_Screen`)
CORRELATION_SAMPLE = 200_000
STRONG_CORRELATION = 0.9
ASSOCIATION_MAX_VALUES = 100
JOINT_CELLS = 1 << 16  # values of columns counted together, so the counts stay in cache
NUMERIC_MEANINGS = ("numeric", "currency", "percentage")
# Pairs grow with the square of the columns: a 5,000-column export would mean 12.5 million
# pairs to test. The first columns of the file are compared, and the report says so.
MAX_COMPARED_COLUMNS = 100
MAX_CORRELATION_ALERTS = 50  # the rest are in correlations.csv


@dataclass
class Dependency:
    determinant: str
    dependent: str
    share: float
    rows_checked: int
    violations: np.ndarray  # 0-based rows whose dependent differs from the usual one
    expected: np.ndarray  # the usual dependent value's code for each violating row


@dataclass
class TableRelationships:
    correlations: list[dict[str, Any]] = field(default_factory=list)
    associations: list[dict[str, Any]] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)
    correlation_rows: int = 0
    checks: list[Check] = field(default_factory=list)
    columns_compared: int = 0
    columns_total: int = 0


def table_relationships(context: AgentContext, table: LoadedTable) -> TableRelationships:
    """The cached relationships of one table."""
    return per_table(context, CACHE_KEY, table, lambda current: _compute(current, table))


def prefetch_relationships(context: AgentContext, table: LoadedTable) -> None:
    """Start `table_relationships` in the background (see `inference.prefetch`)."""
    prefetch(context, CACHE_KEY, table, lambda current: _compute(current, table))


def _compute(context: AgentContext, table: LoadedTable) -> TableRelationships:
    warm(context, ("encoded", "missing_codes", "column_type"))
    every = [column_profile(context, table, c) for c in table.frame.columns]
    profiles = every[:MAX_COMPARED_COLUMNS]
    if len(_numeric(profiles)) >= 2:  # typed values of the columns correlated, and no others
        warm(context, ("typed",), columns=_numeric(profiles))
    found = TableRelationships(columns_compared=len(profiles), columns_total=len(every))
    # correlations (sorts and pandas' correlation loop, which let go of the interpreter) on
    # the other core while this thread counts pairs of values
    with ThreadPoolExecutor(1, thread_name_prefix="correlations") as pool:
        correlations = pool.submit(_correlations, profiles, len(table.frame))
        pairs = _PairCounts()
        found.associations = _associations(profiles, pairs)
        found.dependencies = _dependencies(profiles, len(table.frame), pairs)
        found.correlations, found.correlation_rows = correlations.result()
    found.checks = [_violation_check(table, d, context) for d in found.dependencies if len(d.violations)]
    return found


def _sample_rows(n: int, size: int) -> np.ndarray:
    return np.linspace(0, n - 1, min(n, size)).astype(np.int64) if n else np.empty(0, np.int64)


def _numeric(profiles: list[ColumnProfile]) -> list[ColumnProfile]:
    """The columns correlated: numbers that mean quantities."""
    return [
        p
        for p in profiles
        if p.column_type.inferred_type in ("integer", "float")
        and p.column_type.semantic_type in NUMERIC_MEANINGS
    ]


def _correlations(profiles: list[ColumnProfile], n: int) -> tuple[list[dict[str, Any]], int]:
    numeric = _numeric(profiles)
    if len(numeric) < 2:
        return [], 0
    rows = _sample_rows(n, CORRELATION_SAMPLE)
    frame = pd.DataFrame(
        {p.name: p.typed.array.take(rows).to_numpy(dtype="float64", na_value=np.nan) for p in numeric}
    )
    frame = frame.where(np.isfinite(frame))
    pearson = frame.corr(method="pearson", min_periods=10)
    ranks = pd.DataFrame({name: _average_ranks(frame[name].to_numpy()) for name in frame.columns})
    spearman = ranks.corr(method="pearson", min_periods=10)
    pairs = []
    for a, b in combinations(frame.columns, 2):
        r, rho = pearson.loc[a, b], spearman.loc[a, b]
        if pd.notna(r):
            pairs.append({"column_a": a, "column_b": b, "pearson": float(r), "spearman": float(rho)})
    pairs.sort(key=lambda p: -abs(p["pearson"]))
    return pairs, len(rows)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """pandas' `rank()` (ties share the average of their ranks, NaN stays NaN) by one sort:
    the same numbers, exactly, since each average is a whole or half number."""
    ranks = np.full(len(values), np.nan)
    present = np.flatnonzero(~np.isnan(values))
    order = np.argsort(values[present])
    ordered = values[present][order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(ordered))
    ranks[present[order]] = np.repeat((starts + 1 + ends) / 2, ends - starts)
    return ranks


def _both_filled(a: ColumnProfile, b: ColumnProfile) -> np.ndarray | None:
    """Rows where both columns are filled; None when that is every row (most pairs), which
    spares a million-row mask and copy per pair."""
    if not (a.missing_codes.any() or b.missing_codes.any()):
        return None
    return ~(a.missing.to_numpy() | b.missing.to_numpy())


def _rows(codes: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return codes if mask is None else codes[mask]


def _cramers_v(a: np.ndarray, b: np.ndarray, card_a: int, card_b: int) -> float:
    table = np.bincount(a * card_b + b, minlength=card_a * card_b).reshape(card_a, card_b)
    return _cramers_v_of(table)


def _cramers_v_of(counts: np.ndarray) -> float:
    """Cramér's V of a table of pair counts (values no row holds are left out)."""
    table = counts.astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    total = table.sum()
    if total == 0 or min(table.shape) < 2:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / total / (min(table.shape) - 1)))


def _categorical(profile: ColumnProfile, limit: int) -> bool:
    filled = int((~profile.missing_codes).sum())
    return profile.column_type.inferred_type in ("string", "boolean") and 2 <= filled <= limit


def _associations(profiles: list[ColumnProfile], pairs: _PairCounts) -> list[dict[str, Any]]:
    """Cramér's V between columns of few categories, on every row where both are filled."""
    chosen = [p for p in profiles if _categorical(p, ASSOCIATION_MAX_VALUES)]
    pairs.count_all_pairs(chosen)
    found = []
    for a, b in combinations(chosen, 2):
        table = _both_filled_counts(a, b, pairs.table(a, b))
        if (a.missing_codes.any() or b.missing_codes.any()) and table.sum() < 2:
            continue
        found.append({"column_a": a.name, "column_b": b.name, "cramers_v": _cramers_v_of(table)})
    found.sort(key=lambda p: -p["cramers_v"])
    return found


def _both_filled_counts(a: ColumnProfile, b: ColumnProfile, counts: np.ndarray) -> np.ndarray:
    """A copy of a table of pair counts over every row without the rows where either column
    is missing: their values' rows and columns of the table are zeroed, which spares
    taking those rows out of both columns."""
    table = counts.copy()
    table[a.missing_codes, :] = 0
    table[:, b.missing_codes] = 0
    return table


class _PairCounts:
    """Tables of rows per pair of values of two columns, over every row: made once per pair
    of columns and shared by the associations and both directions of a rule."""

    def __init__(self) -> None:
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._keys: dict[tuple[int, int], np.ndarray] = {}

    def table(self, a: ColumnProfile, b: ColumnProfile) -> np.ndarray:
        """Rows per (`a` value, `b` value), shaped (values of `a`, values of `b`)."""
        if (id(b), id(a)) in self._tables:
            return self._tables[(id(b), id(a))].T
        if (id(a), id(b)) not in self._tables:
            cells = len(a.encoded.counts) * len(b.encoded.counts)
            counts = np.bincount(self._key(a, b), minlength=cells)
            self._tables[(id(a), id(b))] = counts.reshape(len(a.encoded.counts), len(b.encoded.counts))
        return self._tables[(id(a), id(b))]

    def count_all_pairs(self, profiles: list[ColumnProfile]) -> None:
        """Make the table of every pair of `profiles` (columns of few values) with a few
        counts of several columns at once rather than one count of a million rows per pair:
        columns are counted together while their table stays small (`JOINT_CELLS`), and
        each pair's table is that table summed over the other columns (the same counts)."""
        cards = [len(p.encoded.counts) for p in profiles]
        by_size = sorted(range(len(profiles)), key=lambda i: cards[i])
        uncovered = set(combinations(range(len(profiles)), 2))
        for first, second in combinations(range(len(profiles)), 2):
            if (first, second) not in uncovered:
                continue
            group, cells = [first, second], cards[first] * cards[second]
            for k in by_size:
                adds_a_pair = any((min(k, g), max(k, g)) in uncovered for g in group)
                if k not in group and adds_a_pair and cells * cards[k] <= JOINT_CELLS:
                    group.append(k)
                    cells *= cards[k]
            group.sort()
            joint = self._joint([profiles[g] for g in group])
            for x, y in combinations(range(len(group)), 2):
                if (group[x], group[y]) in uncovered:
                    others = tuple(axis for axis in range(len(group)) if axis not in (x, y))
                    pair = (id(profiles[group[x]]), id(profiles[group[y]]))
                    self._tables[pair] = joint.sum(axis=others) if others else joint
                    uncovered.discard((group[x], group[y]))

    @staticmethod
    def _joint(profiles: list[ColumnProfile]) -> np.ndarray:
        """Rows per combination of the columns' values, one axis per column."""
        cards = [len(p.encoded.counts) for p in profiles]
        key = profiles[0].encoded.codes.astype(np.intp)
        for profile, card in zip(profiles[1:], cards[1:], strict=True):
            key *= card
            key += profile.encoded.codes
        return np.bincount(key, minlength=int(np.prod(cards))).reshape(cards)

    def rows_flagged(self, a: ColumnProfile, b: ColumnProfile, flags: np.ndarray) -> np.ndarray:
        """Rows (ascending) whose pair of values is flagged in `flags`, a table shaped like
        `table(a, b)`: one lookup per row in the small table."""
        if (id(b), id(a)) in self._keys:
            key, flags = self._keys[(id(b), id(a))], flags.T
        else:
            key = self._keys.setdefault((id(a), id(b)), self._key(a, b))
        return np.flatnonzero(np.ascontiguousarray(flags).ravel()[key])

    @staticmethod
    def _key(a: ColumnProfile, b: ColumnProfile) -> np.ndarray:
        key = a.encoded.codes.astype(np.intp) * len(b.encoded.counts)
        key += b.encoded.codes
        return key


DENSE_PAIR_CELLS = 2_000_000  # A values x B values up to which pairs are counted in a table


def fd_share(a: np.ndarray, b: np.ndarray, card_b: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Share of rows whose `b` is the most common `b` of their `a`; that usual `b` per `a`
    value (-1 for an `a` value no row holds), and a mask of the rows that differ from it.
    Among equally common `b` values the pair seen first in the rows is the usual one."""
    card_a = int(a.max()) + 1 if len(a) else 0
    if len(a) and card_a * card_b <= DENSE_PAIR_CELLS:
        best, agree = _usual_b_dense(a, b, card_a, card_b)
    else:
        best, agree = _usual_b_hashed(a, b, card_a, card_b)
    differs = b != best[a]
    return agree / len(a) if len(a) else 1.0, best, differs


def _usual_b_dense(a: np.ndarray, b: np.ndarray, card_a: int, card_b: int) -> tuple[np.ndarray, int]:
    """`fd_share`'s usual `b` from a table of pair counts (one bincount, no hashing)."""
    counts = np.bincount(a.astype(np.int64) * card_b + b, minlength=card_a * card_b).reshape(card_a, card_b)
    top = counts.max(axis=1)
    best = counts.argmax(axis=1).astype(np.int64)
    tied = (top > 0) & ((counts == top[:, None]).sum(axis=1) > 1)
    if tied.any():  # the tie goes to the pair whose first row comes first
        rows = np.flatnonzero(tied[a] & (counts[a, b] == top[a]))
        tied_a, first = np.unique(a[rows], return_index=True)
        best[tied_a] = b[rows[first]]
    best[top == 0] = -1
    return best, int(top.sum())


def _usual_b_hashed(a: np.ndarray, b: np.ndarray, card_a: int, card_b: int) -> tuple[np.ndarray, int]:
    """`fd_share`'s usual `b` for too many value pairs to tabulate: pairs are hashed."""
    pair_codes, pairs = pd.factorize(a.astype(np.int64) * card_b + b)
    pair_counts = np.bincount(pair_codes)
    pair_a, pair_b = pairs // card_b, pairs % card_b
    order = np.lexsort((-pair_counts, pair_a))  # per a, the most common pair first
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_a[order][1:] != pair_a[order][:-1]
    best = np.full(card_a, -1, dtype=np.int64)
    best[pair_a[order][first]] = pair_b[order][first]
    return best, int(pair_counts[order][first].sum())


def _values_covering(profile: ColumnProfile, share: float) -> int:
    """How many of the most common values it takes to cover `share` of the filled rows."""
    counts = np.sort(profile.encoded.counts[~profile.missing_codes])[::-1]
    if len(counts) == 0:
        return 0
    return int(np.searchsorted(np.cumsum(counts), share * counts.sum() - 1e-9) + 1)


def _dependencies(profiles: list[ColumnProfile], n: int, pairs: _PairCounts) -> list[Dependency]:
    """`A → B` rules holding on ≥ 99% of the rows where both are filled.

    Candidates: A with enough rows per value that the rule means something, B with at most as
    many values as A. Each pair is screened on an evenly spread sample, then counted exactly.
    """
    usable = []
    for p in profiles:
        distinct = int((~p.missing_codes).sum())
        if 2 <= distinct <= FD_MAX_VALUES and p.column_type.semantic_type not in ("free_text",):
            usable.append((p, distinct, _values_covering(p, FD_MIN_SHARE)))
    screen = _Screen(_sample_rows(n, FD_SCREEN_ROWS), [p for p, _, _ in usable])
    candidates = []
    for a, card_a, _ in usable:
        # if A decides B on 99% of rows, those rows hold at most as many B values as A has
        if n / card_a >= FD_MIN_ROWS_PER_VALUE:
            dependents = [b for b, _, core_b in usable if b is not a and core_b <= card_a]
            candidates += [(a, b) for b in screen.passing(a, dependents)]
    found = []
    for a, b in candidates:
        if len(a.encoded.counts) * len(b.encoded.counts) <= DENSE_PAIR_CELLS:
            dependency = _dependency_in_table(a, b, pairs)
        else:
            dependency = _dependency_in_rows(a, b)
        if dependency is not None:
            found.append(dependency)
    found.sort(key=lambda d: (-d.share, d.determinant, d.dependent))
    return found


def _dependency_in_rows(a: ColumnProfile, b: ColumnProfile) -> Dependency | None:
    """`A → B` counted exactly with `fd_share` on the rows where both are filled."""
    both = _both_filled(a, b)
    full_a, full_b = _rows(a.encoded.codes, both), _rows(b.encoded.codes, both)
    share, best, differs = fd_share(full_a, full_b, len(b.encoded.counts))
    if share < FD_MIN_SHARE:
        return None
    violations = np.flatnonzero(differs) if both is None else np.flatnonzero(both)[differs]
    return Dependency(a.name, b.name, share, len(full_a), violations, best[full_a[differs]])


def _dependency_in_table(a: ColumnProfile, b: ColumnProfile, pairs: _PairCounts) -> Dependency | None:
    """`_dependency_in_rows` from the table of pair counts: the usual `b` of each `a`, ties
    and all, is read from the table, and the rows breaking the rule are the rows whose pair
    the table flags, so no column is ever copied row by row. Same numbers, same rows."""
    counts = _both_filled_counts(a, b, pairs.table(a, b))
    rows_checked = int(counts.sum())
    top = counts.max(axis=1)
    best = counts.argmax(axis=1).astype(np.int64)
    tied = (top > 0) & ((counts == top[:, None]).sum(axis=1) > 1)
    if tied.any():  # the tie goes to the pair whose first row comes first (as in `fd_share`)
        rows = pairs.rows_flagged(a, b, tied[:, None] & (counts == top[:, None]))
        tied_a, first = np.unique(a.encoded.codes[rows], return_index=True)
        best[tied_a] = b.encoded.codes[rows[first]]
    best[top == 0] = -1
    share = int(top.sum()) / rows_checked if rows_checked else 1.0
    if share < FD_MIN_SHARE:
        return None
    # a pair breaks the rule when both are filled (so its count was kept) and b is not the usual
    breaking = (counts > 0) & (np.arange(counts.shape[1])[None, :] != best[:, None])
    violations = pairs.rows_flagged(a, b, breaking) if breaking.any() else np.empty(0, dtype=np.int64)
    return Dependency(a.name, b.name, share, rows_checked, violations, best[a.encoded.codes[violations]])


class _Screen:
    """The sample rows every pair is screened on, each column's codes there taken once.

    A pair is first tried on every `FD_SCREEN_STEP`-th sample row: rows that break a rule
    on part of the sample still break it on the whole (adding rows never lowers the count
    of rows differing from their group's usual value), so when that part alone holds more
    such rows than the whole sample may, the pair is out without counting the rest."""

    def __init__(self, rows: np.ndarray, profiles: list[ColumnProfile]) -> None:
        self.codes = {id(p): p.encoded.codes[rows].astype(np.int64) for p in profiles}
        self.missing = {id(p): p.missing_codes[self.codes[id(p)]] for p in profiles}

    def passing(self, a: ColumnProfile, dependents: list[ColumnProfile]) -> list[ColumnProfile]:
        """The `dependents` B for which `A → B` holds on at least `FD_SCREEN_SHARE` of the
        sample rows where both are filled (`fd_share` on those rows). The first part of the
        sample is counted for every B at once, in one sort."""
        if not dependents:
            return []
        breaking = self._breaking_in_part(a, dependents)
        passing = []
        for b, part_breaking in zip(dependents, breaking.tolist(), strict=True):
            codes_a, codes_b = self.codes[id(a)], self.codes[id(b)]
            if a.missing_codes.any() or b.missing_codes.any():
                both = ~(self.missing[id(a)] | self.missing[id(b)])
                codes_a, codes_b = codes_a[both], codes_b[both]
            rows = len(codes_a)
            if rows < 2 or (rows - part_breaking) / rows < FD_SCREEN_SHARE:
                continue
            agreeing = _agreeing(codes_a, codes_b, len(a.encoded.counts), len(b.encoded.counts))
            if agreeing / rows >= FD_SCREEN_SHARE:
                passing.append(b)
        return passing

    def _breaking_in_part(self, a: ColumnProfile, dependents: list[ColumnProfile]) -> np.ndarray:
        """Per B, the rows of the sample's first part (every `FD_SCREEN_STEP`-th row, both
        filled) whose B is not the usual B of their A: the pairs (B, A value, B value) of
        every B are sorted together, and each (B, A value) keeps its most common B value."""
        card_a, width = len(a.encoded.counts), max(len(b.encoded.counts) for b in dependents)
        part_a = self.codes[id(a)][::FD_SCREEN_STEP]
        keys = np.empty((len(dependents), len(part_a)), dtype=np.int64)
        filled = np.ones(keys.shape, dtype=bool)
        for j, b in enumerate(dependents):
            np.multiply(part_a + j * card_a, width, out=keys[j])
            keys[j] += self.codes[id(b)][::FD_SCREEN_STEP]
            if a.missing_codes.any() or b.missing_codes.any():
                filled[j] = ~(self.missing[id(a)][::FD_SCREEN_STEP] | self.missing[id(b)][::FD_SCREEN_STEP])
        ordered = np.sort(keys[filled])
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        sizes = np.diff(np.append(starts, len(ordered)))
        group = ordered[starts] // width  # which B and which A value
        group_starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        usual = np.maximum.reduceat(sizes, group_starts) if len(sizes) else sizes
        agreeing = np.bincount(group[group_starts] // card_a, weights=usual, minlength=len(dependents))
        return filled.sum(axis=1) - agreeing.astype(np.int64)


def _agreeing(a: np.ndarray, b: np.ndarray, card_a: int, card_b: int) -> int:
    """Rows whose `b` is the most common `b` of their `a`: `fd_share`'s count, without the
    usual values themselves. Pairs are tabulated when the table is small for the rows, else
    sorted (a table of a million cells for a few thousand rows would cost more than them)."""
    pairs = a * card_b + b
    if card_a * card_b <= max(4 * len(a), 1024):
        return int(np.bincount(pairs, minlength=card_a * card_b).reshape(card_a, card_b).max(axis=1).sum())
    pairs.sort()
    starts = np.flatnonzero(np.concatenate(([True], pairs[1:] != pairs[:-1])))
    sizes = np.diff(np.append(starts, len(pairs)))
    of_a = pairs[starts] // card_b
    groups = np.flatnonzero(np.concatenate(([True], of_a[1:] != of_a[:-1])))
    return int(np.maximum.reduceat(sizes, groups).sum())


def _violation_check(table: LoadedTable, dependency: Dependency, context: AgentContext) -> Check:
    a = column_profile(context, table, dependency.determinant)
    b = column_profile(context, table, dependency.dependent)
    rows = dependency.violations
    expected = b.encoded.values.take(pa.array(dependency.expected))
    given = a.encoded.values.take(pa.array(a.encoded.codes[rows]))
    reasons = join_text(
        f"'{dependency.dependent}' differs from the usual value for this '{dependency.determinant}' (",
        given,
        " → ",
        expected,
        ")",
    )
    examples = [
        f"row {r + 1}: {x} → {y}, usually {z}"
        for r, x, y, z in zip(
            rows[:5],
            given[:5].to_pylist(),
            b.encoded.values.take(pa.array(b.encoded.codes[rows[:5]])).to_pylist(),
            expected[:5].to_pylist(),
            strict=True,
        )
    ]
    return Check(
        code="DEPENDENCY_VIOLATION",
        severity="medium",
        dimension="consistency",
        file_key=table.file_key,
        column=dependency.dependent,
        rows=rows,
        reason=f"breaks the rule {dependency.determinant} → {dependency.dependent}",
        reasons=reasons,
        message=f"'{dependency.determinant}' decides '{dependency.dependent}' in {dependency.share:.2%} of "
        f"rows, but {len(rows):,} row(s) break the rule; they are probably typing mistakes.",
        examples=examples,
        fix_agent=FIX_AGENT,
        fix_message=f"Repair '{dependency.dependent}' in the rows that break "
        f"{dependency.determinant} → {dependency.dependent}.",
    )


class RelationshipsAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        metrics: dict[str, Any] = {"files": {}}
        for index, table in enumerate(context.tables.values()):
            context.progress(index / max(len(context.tables), 1), f"{table.filename}: comparing columns")
            found = table_relationships(context, table)
            self._report(result, table, found, "" if len(context.tables) == 1 else f"_{table.file_key}")
            metrics["files"][table.file_key] = {
                "functional_dependencies": len(found.dependencies),
                "exact_dependencies": sum(1 for d in found.dependencies if len(d.violations) == 0),
                "strong_correlations": sum(
                    1 for c in found.correlations if abs(c["pearson"]) >= STRONG_CORRELATION
                ),
                "correlation_sample_rows": found.correlation_rows,
                "columns_compared": found.columns_compared,
                "columns_total": found.columns_total,
                "correlations_sampled": found.correlation_rows < len(table.frame),
                # every numeric pair, for the correlation heatmap (bounded by the numeric columns)
                "correlation_pairs": [
                    {"a": c["column_a"], "b": c["column_b"], "r": round(c["pearson"], 4)}
                    for c in found.correlations[:1000]
                ],
            }
        context.progress(1.0, None)
        metrics["note"] = (
            f"Correlations use an evenly spread sample of up to {CORRELATION_SAMPLE:,} rows; associations "
            "and dependencies count every row."
        )
        result.metrics = metrics
        return result

    @staticmethod
    def _report(result: AgentResult, table: LoadedTable, found: TableRelationships, suffix: str) -> None:
        emit(result, AGENT_ID, found.checks)
        if found.correlations:
            result.artifacts[f"correlations{suffix}.csv"] = pd.DataFrame(found.correlations)
        if found.associations:
            result.artifacts[f"associations{suffix}.csv"] = pd.DataFrame(found.associations)
        if found.dependencies:
            result.artifacts[f"dependencies{suffix}.csv"] = pd.DataFrame(
                [
                    {
                        "rule": f"{d.determinant} → {d.dependent}",
                        "determinant": d.determinant,
                        "dependent": d.dependent,
                        "share_of_rows": d.share,
                        "rows_checked": d.rows_checked,
                        "rows_breaking_it": len(d.violations),
                    }
                    for d in found.dependencies
                ]
            )
        if found.columns_compared < found.columns_total:
            result.alerts.append(
                Finding(
                    severity="info",
                    agent=AGENT_ID,
                    code="RELATIONSHIPS_LIMITED",
                    message=f"The file has {found.columns_total:,} columns; correlations, associations and "
                    f"rules were looked for among its first {found.columns_compared:,} columns only.",
                    file_key=table.file_key,
                    count=found.columns_total - found.columns_compared,
                    examples=list(table.frame.columns[found.columns_compared :][:5]),
                )
            )
        strong = [p for p in found.correlations if abs(p["pearson"]) >= STRONG_CORRELATION]
        for pair in strong[:MAX_CORRELATION_ALERTS]:
            if abs(pair["pearson"]) >= STRONG_CORRELATION:
                result.alerts.append(
                    Finding(
                        severity="info",
                        agent=AGENT_ID,
                        code="STRONG_CORRELATION",
                        message=f"'{pair['column_a']}' and '{pair['column_b']}' move together "
                        f"(correlation {pair['pearson']:.2f}); one may be derived from the other.",
                        column=pair["column_a"],
                        file_key=table.file_key,
                        count=found.correlation_rows,
                        examples=[f"{pair['column_a']} ~ {pair['column_b']}"],
                    )
                )
        for dependency in found.dependencies:
            result.columns.setdefault((table.file_key, dependency.dependent), {}).setdefault(
                "determined_by", []
            ).append({"column": dependency.determinant, "share": dependency.share})
            result.columns.setdefault((table.file_key, dependency.determinant), {}).setdefault(
                "determines", []
            ).append({"column": dependency.dependent, "share": dependency.share})
