"""The `dependency_repair` clean agent: values that break a rule such as `zip -> city`,
repaired from the majority of their group, and conflicting sources resolved by trust.

**Rules.** For every rule A -> B (see `dependencies.py`) each row gets a vote from its A
group when the group is strong (three or more rows agree, 70% of the group). A cell of B is
changed only when no rule's group supports its current value, every vote agrees on the
new value, and the current value is rare in its group (one or two rows, at most 20%):
a typo, not a second legitimate value. When the current value is the usual value of
another group the error may be in A instead, or the value is not shaped like a typo of the
new one, so the repair is only suggested. Empty cells are filled from groups that agree on
90%, and applied only in columns where blanks are the exception (5%): a column that is
mostly empty is not one the rule should invent values for.

**Sources.** When records of the same thing come from several sources (a column that names
the source, with each entity reported once per source), the sources are not equally
reliable. Each value column is resolved by truth discovery: the value of an entity is the
one with the most trust behind it, a source's trust is how often it agrees with those
values, iterated; sources that copy each other's mistakes count once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.clean.category_variants import edit_distance
from core.agents.clean.dependencies import Coded, GroupVotes, code_column, find_dependencies
from core.agents.clean.glued_values import split_glued
from core.agents.clean.state import CleaningState, agent_result, clean_parameter, cleaning_state

AGENT_ID = "dependency_repair"
STRONG_COUNT = 3
STRONG_SHARE = 0.7
FILL_SHARE = 0.9
RARE_ROWS = 2
RARE_SHARE = 0.2
CONFIDENCE_AGREED = 0.95  # two or more rules agree
CONFIDENCE_ONE = 0.85
CONFIDENCE_FILL = 0.85
FILL_MAX_BLANK_SHARE = 0.05
FILL_NEVER_BLANK_SHARE = 0.5  # a column mostly empty: blank is its normal state, not a gap
CONFIDENCE_DOUBT = 0.7
MIN_CODE_LENGTH = 4
SYSTEMATIC_MIN_ROWS = 3
SYSTEMATIC_SHARE = 0.5  # the current value is the usual value elsewhere: the key may be wrong

_SOURCE_NAME = re.compile(r"^(data[_\s.-]?)?(src|source|sources|origin|feed)([_\s.-]?name)?$", re.I)
SOURCE_MAX = 500
SOURCE_UNIQUE_PAIRS = 0.95
TRUTH_ROUNDS = 20
TRUTH_CONFIDENCE_FLOOR = 0.5
ID_LIKE_SHARE = 0.8  # a column with this many distinct values per filled cell names rows, not facts


@dataclass
class Vote:
    value: int
    determinant: str
    share: float


def _repair_column(
    state: CleaningState, file_key: str, b: Coded, rules: list[GroupVotes], coded: dict[str, Coded]
) -> None:
    live = state.live_rows(file_key)
    n = len(b.codes)
    column_type = state.profile(file_key, b.name).column_type
    # a measured quantity (a price, a weight) may really differ within a group: never sure
    measure = column_type.inferred_type == "float" or column_type.semantic_type in ("currency", "percentage")
    blank_share = float(((b.codes < 0) & live).sum()) / max(int(live.sum()), 1)
    votes: dict[int, list[Vote]] = defaultdict(list)
    supported = np.zeros(n, dtype=bool)
    usual_elsewhere: set[int] = set()
    for rule in rules:
        a = coded[rule.determinant]
        share = np.divide(rule.top_count, np.maximum(rule.total, 1))
        strong = (rule.top_count >= STRONG_COUNT) & (share >= STRONG_SHARE)
        usual_elsewhere.update(int(v) for v in rule.top[strong] if v >= 0)
        has_a = (a.codes >= 0) & live
        row_top = np.where(has_a, rule.top[np.maximum(a.codes, 0)], -1)
        row_strong = has_a & strong[np.maximum(a.codes, 0)]
        supported |= row_strong & (b.codes == row_top) & (b.codes >= 0)
        differs = row_strong & (b.codes >= 0) & (b.codes != row_top)
        differs &= ~_systematic(differs, coded, {rule.determinant, b.name}, live)
        for row in np.flatnonzero(differs).tolist():
            code_a = int(a.codes[row])
            pair = rule.pair_count.get(code_a * b.cardinality + int(b.codes[row]), 0)
            if pair <= RARE_ROWS and pair <= RARE_SHARE * rule.total[code_a]:
                votes[row].append(Vote(int(row_top[row]), rule.determinant, float(share[code_a])))
        fill = has_a & (b.codes < 0) & (rule.top_count[np.maximum(a.codes, 0)] >= STRONG_COUNT)
        fill &= blank_share <= FILL_NEVER_BLANK_SHARE
        fill &= share[np.maximum(a.codes, 0)] >= FILL_SHARE
        for row in np.flatnonzero(fill).tolist():
            votes[row].append(Vote(int(row_top[row]), rule.determinant, float(share[int(a.codes[row])])))
    grouped: dict[tuple[str, float], tuple[list[int], list[str]]] = {}
    for row, row_votes in votes.items():
        if supported[row]:
            continue
        values = {v.value for v in row_votes}
        if len(values) != 1:
            continue
        value = values.pop()
        if b.codes[row] < 0:
            # filling a blank is imputation: sure only where blanks are the exception
            rule_name = "fill_from_dependency"
            confidence = CONFIDENCE_FILL if blank_share <= FILL_MAX_BLANK_SHARE else CONFIDENCE_DOUBT
        else:
            rule_name = "dependency_majority"
            confidence = CONFIDENCE_AGREED if len(row_votes) >= 2 else CONFIDENCE_ONE
            if (
                measure
                or int(b.codes[row]) in usual_elsewhere
                or not looks_like_typo(str(b.values[b.codes[row]]), str(b.values[value]))
            ):
                confidence = CONFIDENCE_DOUBT
        bucket = grouped.setdefault((rule_name, confidence), ([], []))
        bucket[0].append(row)
        bucket[1].append(str(b.values[value]))
    for (rule_name, confidence), (rows, news) in grouped.items():
        order = np.argsort(rows)
        state.propose(
            file_key,
            b.name,
            np.asarray(rows)[order],
            [news[i] for i in order],
            AGENT_ID,
            rule_name,
            confidence,
        )


def looks_like_typo(old: str, new: str) -> bool:
    """True when `old` reads as a mistyped `new`: at most half of its characters changed.
    Numbers and codes keep their length when mistyped (`1xx19` for `10019`), so `8.4` is
    not a typo of `12`, nor `95` of `12`."""
    limit = max(1, len(new) // 2)
    if any(ch.isdigit() for ch in new):
        if len(new) < MIN_CODE_LENGTH:  # `2` for `3`: too short to tell a typo from a value
            return False
        return len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) <= limit
    return edit_distance(old.lower(), new.lower(), limit) <= limit


def _systematic(differs: np.ndarray, coded: dict[str, Coded], skip: set[str], live: np.ndarray) -> np.ndarray:
    """Rows whose break of a rule is shared by most of their group in another column (all
    rows of one hospital carry their own state's code): an exception the data means, not a
    typo. Typos fall at random, so a group rarely holds more than one or two of them."""
    systematic = np.zeros(len(differs), dtype=bool)
    if not differs.any():
        return systematic
    for name, column in coded.items():
        if name in skip or column.cardinality < 2:
            continue
        has = (column.codes >= 0) & live
        codes = np.where(has, column.codes, column.cardinality)
        size = np.bincount(codes, minlength=column.cardinality + 1)
        hits = np.bincount(codes[differs], minlength=column.cardinality + 1)
        group_rate = hits / np.maximum(size, 1)
        bad_group = (hits >= SYSTEMATIC_MIN_ROWS) & (group_rate >= SYSTEMATIC_SHARE)
        bad_group[column.cardinality] = False
        systematic |= differs & bad_group[codes]
    return systematic


# ---- sources: truth discovery --------------------------------------------------------------
def find_source_column(coded: dict[str, Coded], live: np.ndarray, wanted: str) -> str | None:
    """The column naming each record's source: given by the user, or found by its name and
    shape (a few hundred values at most, each repeated)."""
    if wanted not in ("auto", ""):
        return wanted if wanted in coded else None
    if wanted == "":
        return None
    for name, column in coded.items():
        if _SOURCE_NAME.search(name) and 2 <= column.cardinality <= SOURCE_MAX:
            filled = int(((column.codes >= 0) & live).sum())
            if filled >= 5 * column.cardinality:
                return name
    return None


def find_entity_column(coded: dict[str, Coded], source: str, live: np.ndarray) -> str | None:
    """The column naming the thing described: repeated across sources, once per source."""
    src = coded[source]
    best: tuple[float, str] | None = None
    n = int(live.sum())
    for name, column in coded.items():
        if name == source or column.cardinality < 2 or n / column.cardinality < STRONG_COUNT:
            continue
        both = (column.codes >= 0) & (src.codes >= 0) & live
        pairs = column.codes[both] * src.cardinality + src.codes[both]
        if not len(pairs):
            continue
        unique_share = len(np.unique(pairs)) / len(pairs)
        if unique_share < SOURCE_UNIQUE_PAIRS:
            continue
        per_entity = len(pairs) / column.cardinality
        if best is None or per_entity > best[0]:
            best = (per_entity, name)
    return None if best is None else best[1]


@dataclass
class Resolved:
    """One value column after truth discovery: per entity the winning value code (-1 none)
    and its share of the trust; per row the share of the trust behind the row's own value."""

    winner: np.ndarray
    winner_share: np.ndarray
    row_share: np.ndarray


@dataclass
class _Votes:
    rows: np.ndarray
    source: np.ndarray
    value: np.ndarray
    pair: np.ndarray  # per row: its (entity, value) pair
    pair_entity: np.ndarray
    pair_value: np.ndarray


def _votes(entity: np.ndarray, source: np.ndarray, value: np.ndarray) -> _Votes:
    rows = np.flatnonzero((entity >= 0) & (source >= 0) & (value >= 0))
    width = int(value.max()) + 1 if len(value) else 1
    pair, keys = pd.factorize(entity[rows].astype(np.int64) * width + value[rows])
    keys = np.asarray(keys, dtype=np.int64)
    return _Votes(rows, source[rows], value[rows], pair.astype(np.int64), keys // width, keys % width)


def _winners(votes: _Votes, weight: np.ndarray, n_entities: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per entity the value with the most trust (ties: the smaller code) and its share; and
    each pair's share of its entity's trust."""
    pair_score = np.bincount(votes.pair, weights=weight[votes.source], minlength=len(votes.pair_entity))
    total = np.bincount(votes.pair_entity, weights=pair_score, minlength=n_entities)
    order = np.lexsort((votes.pair_value, -pair_score, votes.pair_entity))
    first = np.ones(len(order), dtype=bool)
    first[1:] = votes.pair_entity[order][1:] != votes.pair_entity[order][:-1]
    best = order[first]
    winner = np.full(n_entities, -1, dtype=np.int64)
    winner[votes.pair_entity[best]] = votes.pair_value[best]
    pair_share = pair_score / np.maximum(total[votes.pair_entity], 1e-12)
    share = np.zeros(n_entities)
    share[votes.pair_entity[best]] = pair_share[best]
    return winner, share, pair_share


def discover_truth(
    entity: np.ndarray, source: np.ndarray, values: list[np.ndarray], n_sources: int
) -> tuple[list[Resolved], np.ndarray]:
    """Truth discovery over several value columns at once; and each source's accuracy.

    Per column and entity the value with the most trust behind it wins. A source's trust is
    its accuracy (how often it gives the winning values), measured over all the columns
    together: a source that reports departures badly usually reports arrivals badly too, and
    one column alone can be dominated by sources that repeat each other's values. Trust is the
    log-odds of the accuracy, so sources no better than chance get almost no say. Rows with
    value -1 are not votes. Everything is counted with `bincount`, so a million rows cost a
    few array passes per round.
    """
    n_entities = int(entity.max()) + 1 if len(entity) else 0
    columns = [_votes(entity, source, value) for value in values]
    accuracy = np.full(n_sources, 0.8)
    previous: list[np.ndarray] | None = None
    results: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for _ in range(TRUTH_ROUNDS):
        clipped = np.clip(accuracy, 0.01, 0.99)
        weight = np.maximum(np.log(clipped / (1 - clipped)), 0.01)
        agree = np.zeros(n_sources)
        seen = np.zeros(n_sources)
        results = []
        for votes in columns:
            winner, share, pair_share = _winners(votes, weight, n_entities)
            results.append((winner, share, pair_share))
            right = votes.value == winner[votes.pair_entity[votes.pair]]
            seen += np.bincount(votes.source, minlength=n_sources)
            agree += np.bincount(votes.source[right], minlength=n_sources)
        accuracy = (agree + 1) / (seen + 2)
        current = [r[0] for r in results]
        if previous is not None and all(np.array_equal(a, b) for a, b in zip(previous, current, strict=True)):
            break
        previous = current
    resolved = []
    for votes, (winner, share, pair_share) in zip(columns, results, strict=True):
        row_share = np.zeros(len(entity))
        row_share[votes.rows] = pair_share[votes.pair]
        resolved.append(Resolved(winner, share, row_share))
    return resolved, accuracy


def truth_confidence(winner_share: np.ndarray, current_share: np.ndarray) -> np.ndarray:
    """How sure a source-truth repair is: the winner's share of the trust, less half the share
    behind the value the cell already holds. A contested value is not replaced with the
    certainty of a blank or a lone outlier: on the flights benchmark this keeps the
    repairs' precision while sparing the cells where reliable sources disagree."""
    return np.clip(winner_share - current_share / 2, TRUTH_CONFIDENCE_FLOOR, 0.99)


def _resolve_sources(state: CleaningState, file_key: str, coded: dict[str, Coded], wanted: str) -> list[str]:
    live = state.live_rows(file_key)
    source_name = find_source_column(coded, live, wanted)
    if source_name is None:
        return []
    entity_name = find_entity_column(coded, source_name, live)
    if entity_name is None:
        return []
    src, ent = coded[source_name], coded[entity_name]
    entity = np.where(live, ent.codes, -1)
    names, values = [], []
    for name, column in coded.items():
        if name in (source_name, entity_name) or column.cardinality < 2:
            continue
        # value columns describe the entity: repeated within it, not a per-row id
        filled = (column.codes >= 0) & (entity >= 0)
        if filled.sum() == 0 or column.cardinality > ID_LIKE_SHARE * filled.sum():
            continue
        names.append(name)
        values.append(np.where(filled, column.codes, -1))
    if not names:
        return []
    resolutions, _ = discover_truth(entity, src.codes, values, src.cardinality)
    resolved = []
    for name, found in zip(names, resolutions, strict=True):
        column = coded[name]
        target = np.where(entity >= 0, found.winner[np.maximum(entity, 0)], -1)
        rows = np.flatnonzero((target >= 0) & (column.codes != target))
        if len(rows) == 0:
            continue
        confidence = truth_confidence(found.winner_share[entity[rows]], found.row_share[rows])
        news = [str(v) for v in column.values[target[rows]]]
        state.propose(file_key, name, rows, news, AGENT_ID, "source_truth", confidence)
        resolved.append(name)
    return resolved


class DependencyRepairAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        wanted = str(clean_parameter(context, "source_column")).strip()
        notes: list[Finding] = []
        for file_key, frame in state.frames.items():
            split_glued(state, file_key, AGENT_ID)
            coded = {str(c): code_column(state.profile(file_key, str(c))) for c in frame.columns}
            resolved = _resolve_sources(state, file_key, coded, wanted)
            if resolved:
                notes.append(
                    Finding(
                        severity="info",
                        agent=AGENT_ID,
                        code="SOURCES_RESOLVED",
                        message="Records come from several sources; the values of "
                        + ", ".join(f"'{c}'" for c in resolved)
                        + " were resolved by how often each source agrees with the others.",
                        file_key=file_key,
                    )
                )
                coded = {str(c): code_column(state.profile(file_key, str(c))) for c in frame.columns}
            context.progress(0.3, "looking for rules between columns")
            rules = find_dependencies(coded, state.live_rows(file_key))
            by_dependent: dict[str, list[GroupVotes]] = defaultdict(list)
            for rule in rules:
                by_dependent[rule.dependent].append(rule)
            for done, (dependent, its_rules) in enumerate(by_dependent.items(), start=1):
                _repair_column(state, file_key, coded[dependent], its_rules, coded)
                context.progress(0.3 + 0.7 * done / len(by_dependent), dependent)
        return agent_result(state, AGENT_ID, notes)
