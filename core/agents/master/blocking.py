"""Blocking rules read off the data, so that no block explodes.

Comparing every record with every other is out of reach past a few thousand records, so the
model only scores pairs that share something: the same surname, the same date of birth...
Which "something" works depends on the data: a surname shared by 30,000 people of a million
makes 450 million pairs on its own. Each candidate rule (one field, then two fields together)
is costed exactly from the key counts before anything runs, and only rules within the pair
budget are used, preferring the ones that add fields the chosen rules do not cover yet, so a
typo in one field is rescued by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from core.agents.master.fields import MatchField

MIN_RULE_BUDGET = 50_000  # pairs one rule may make, at least
PAIRS_PER_RECORD = 10  # ... or this many per record on large files
MIN_TOTAL_BUDGET = 400_000  # pairs all rules together may make, at least
TOTAL_PAIRS_PER_RECORD = 25  # ... or this many per record on large files
MAX_RULES = 10
USELESS_DISTINCT = 3  # a key with so few values blocks nothing

# Kinds that say little on their own: only used as a second field of a rule.
WEAK_KINDS = ("category", "number")


@dataclass(frozen=True)
class BlockingRule:
    keys: tuple[str, ...]  # match-key columns that must be equal
    names: tuple[str, ...]  # the fields, for people
    pairs: int  # pairs it makes, counted exactly
    largest_block: int

    def sql(self) -> str:
        return " AND ".join(f'l."{k}" = r."{k}"' for k in self.keys)

    def to_dict(self) -> dict[str, object]:
        return {"fields": list(self.names), "pairs": self.pairs, "largest_block": self.largest_block}


def _codes(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64)


def _pair_count(codes: np.ndarray) -> tuple[int, int]:
    """Pairs sharing a key (n choose 2 per key) and the largest group; `codes` are dense
    (factorised), -1 where the key is missing, so one bincount does it."""
    present = codes[codes >= 0]
    if len(present) == 0:
        return 0, 0
    counts = np.bincount(present).astype(np.int64)
    return int((counts * (counts - 1) // 2).sum()), int(counts.max())


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a >= 0) & (b >= 0)
    combined = np.where(both, a * (int(b.max()) + 1) + b, -1)
    codes, _ = pd.factorize(combined)
    uniques_missing = combined < 0
    codes = codes.astype(np.int64)
    codes[uniques_missing] = -1
    return codes


def rule_budget(records: int) -> int:
    return max(MIN_RULE_BUDGET, PAIRS_PER_RECORD * records)


def total_budget(records: int) -> int:
    return max(MIN_TOTAL_BUDGET, TOTAL_PAIRS_PER_RECORD * records)


def choose_rules(keys: pd.DataFrame, fields: list[MatchField]) -> tuple[list[BlockingRule], list[dict]]:
    """The blocking rules for `keys` (one match-key column per used field) within the pair
    budget, and every rule considered with its cost (for the report)."""
    budget = rule_budget(len(keys))
    used = [f for f in fields if f.used and f.key in keys]
    codes = {f.key: _codes(keys[f.key]) for f in used}
    useful = [f for f in used if codes[f.key].max() + 1 >= USELESS_DISTINCT]
    considered: list[BlockingRule] = []
    for item in useful:
        if item.kind in WEAK_KINDS:
            continue
        pairs, largest = _pair_count(codes[item.key])
        considered.append(BlockingRule((item.key,), (item.name,), pairs, largest))
    within = [r for r in considered if r.pairs <= budget]
    too_big = {r.keys[0] for r in considered if r.pairs > budget}
    combos: list[BlockingRule] = []
    if too_big or len(within) < 3:
        for a, b in combinations(useful, 2):
            if a.kind in WEAK_KINDS and b.kind in WEAK_KINDS:
                continue
            if a.key not in too_big and b.key not in too_big and len(within) >= 3:
                continue
            pairs, largest = _pair_count(_combine(codes[a.key], codes[b.key]))
            combos.append(BlockingRule((a.key, b.key), (a.name, b.name), pairs, largest))
    considered.extend(combos)
    chosen = _greedy(within, [r for r in combos if r.pairs <= budget], total_budget(len(keys)))
    table = [{**r.to_dict(), "within_budget": r.pairs <= budget, "chosen": r in chosen} for r in considered]
    return chosen, table


def _greedy(singles: list[BlockingRule], combos: list[BlockingRule], total: int) -> list[BlockingRule]:
    """Single-field rules within budget, cheapest first (each rescues pairs whose other fields
    differ), then two-field rules for fields no chosen rule covers yet, then the cheapest
    other two-field rules, all within `total` pairs (Splink scores a pair found by several
    rules once, so this bounds the work)."""
    chosen: list[BlockingRule] = []
    spent = 0
    for rule in sorted(singles, key=lambda r: r.pairs):
        if len(chosen) < MAX_RULES and spent + rule.pairs <= total:
            chosen.append(rule)
            spent += rule.pairs
    covered = {k for r in chosen for k in r.keys}
    singled = set(covered)  # a two-field rule with a chosen single field finds nothing new
    remaining = [
        r for r in sorted(combos, key=lambda r: r.pairs) if r.pairs <= total and singled.isdisjoint(r.keys)
    ]
    while len(chosen) < MAX_RULES:
        fresh = [r for r in remaining if any(k not in covered for k in r.keys) and spent + r.pairs <= total]
        if not fresh:
            break
        best = max(fresh, key=lambda r: (sum(k not in covered for k in r.keys), -r.pairs))
        chosen.append(best)
        spent += best.pairs
        covered.update(best.keys)
        remaining.remove(best)
    for rule in remaining:  # then the cheapest others: more ways for a damaged pair to meet
        if len(chosen) >= MAX_RULES:
            break
        if rule not in chosen and spent + rule.pairs <= total:
            chosen.append(rule)
            spent += rule.pairs
    return chosen
