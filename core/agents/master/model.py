"""The Splink model, built from the fields' match kinds and trained without labels.

Each kind gets the comparison that suits it (names: exact, one edit, Jaro-Winkler levels;
dates: exact, one character, same year; identifiers: exact, one edit; free text: token
overlap). The u probabilities come from random sampling (pairs of random records are almost
never the same entity), the m probabilities from expectation maximisation on blocked pairs,
so no labelled examples are needed. DuckDB runs it with its memory capped at a quarter of
the machine's, spilling to disk beyond that.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.internals.exceptions import SplinkException

from core.agents.master.blocking import BlockingRule
from core.agents.master.fields import MatchField

log = logging.getLogger(__name__)

U_SAMPLE_PAIRS = 50_000
EM_MAX_PAIRS = 100_000
EM_ROUNDS = 2
SEED = 20240501
KEPT_PROBABILITY = 0.01  # pairs scoring below this are counted in the histogram, not listed


def _token_overlap(key: str, share: float) -> cll.CustomLevel:
    left, right = f"str_split({key}_l, ' ')", f"str_split({key}_r, ' ')"
    sql = (
        f"len(list_intersect({left}, {right})) >= "
        f"{share} * greatest(len(list_distinct({left})), len(list_distinct({right})))"
    )
    return cll.CustomLevel(sql, label_for_charts="tokens")


def _one_edit(key: str) -> cll.CustomLevel:
    """Damerau-Levenshtein distance 1 (one letter added, dropped, changed or two swapped).
    DuckDB's Damerau-Levenshtein is ten times slower than its Levenshtein, so it only runs on
    the few pairs plain Levenshtein already puts within two edits."""
    sql = f"levenshtein({key}_l, {key}_r) <= 2 AND damerau_levenshtein({key}_l, {key}_r) <= 1"
    return cll.CustomLevel(sql, label_for_charts="one_edit")


def _levels(item: MatchField) -> list[Any]:
    key, kind = item.key, item.kind
    null = cll.NullLevel(key)
    exact = cll.ExactMatchLevel(key).configure(label_for_charts="exact")
    one_edit = _one_edit(key)
    other = cll.ElseLevel().configure(label_for_charts="else")
    if kind == "name":
        return [
            null,
            exact,
            one_edit,
            cll.JaroWinklerLevel(key, 0.92).configure(label_for_charts="close"),
            cll.JaroWinklerLevel(key, 0.8).configure(label_for_charts="similar"),
            other,
        ]
    if kind == "date":
        year = cll.CustomLevel(f"substr({key}_l, 1, 4) = substr({key}_r, 1, 4)", label_for_charts="same_year")
        return [null, exact, one_edit, year, other]
    if kind in ("identifier", "postcode"):
        return [null, exact, one_edit, other]
    if kind == "email":
        user = cll.CustomLevel(
            f"split_part({key}_l, '@', 1) = split_part({key}_r, '@', 1)", label_for_charts="same_user"
        )
        return [
            null,
            exact,
            user,
            cll.JaroWinklerLevel(key, 0.88).configure(label_for_charts="similar"),
            other,
        ]
    if kind == "phone":
        last = cll.CustomLevel(f"right({key}_l, 7) = right({key}_r, 7)", label_for_charts="last_digits")
        return [null, exact, last, one_edit, other]
    if kind == "address":
        return [
            null,
            exact,
            one_edit,
            _token_overlap(key, 0.6),
            cll.JaroWinklerLevel(key, 0.88).configure(label_for_charts="similar"),
            other,
        ]
    if kind == "text":
        return [
            null,
            exact,
            one_edit,
            cll.JaroWinklerLevel(key, 0.88).configure(label_for_charts="similar"),
            other,
        ]
    return [null, exact, other]  # category, number


def comparisons(fields: list[MatchField]) -> list[cl.CustomComparison]:
    return [
        cl.CustomComparison(_levels(f), output_column_name=f.key, comparison_description=f.name)
        for f in fields
        if f.used
    ]


def connection(workdir: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB capped at a quarter of the machine's memory, spilling to `workdir`."""
    con = duckdb.connect(":memory:")
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    con.execute(f"SET memory_limit='{max(total // 4 // 2**20, 512)}MB'")
    con.execute(f"SET temp_directory='{workdir}'")
    con.execute("SET preserve_insertion_order=false")
    return con


@dataclass
class TrainedModel:
    linker: Linker
    con: duckdb.DuckDBPyConnection
    workdir: tempfile.TemporaryDirectory
    training_rules: list[list[str]] = field(default_factory=list)
    skipped_rules: list[list[str]] = field(default_factory=list)

    def close(self) -> None:
        self.con.close()
        self.workdir.cleanup()


def train(
    records: pd.DataFrame,
    fields: list[MatchField],
    rules: list[BlockingRule],
    log_level: int = logging.WARNING,
) -> TrainedModel:
    """A linker over `records` (unique_id plus match keys), with u from random sampling and m
    from EM on the cheapest blocking rules, chosen so every comparison is estimated at least
    once (EM cannot estimate a field from pairs blocked on that field)."""
    workdir = tempfile.TemporaryDirectory(prefix="dq-splink-")
    con = connection(workdir.name)
    db_api = DuckDBAPI(con)
    table = db_api.register(records, dataset_display_name="records")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(fields),
        blocking_rules_to_generate_predictions=[r.sql() for r in rules],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )
    linker = Linker(table, settings, log_level=log_level)
    model = TrainedModel(linker, con, workdir)
    deterministic = [r.sql() for r in rules if len(r.keys) > 1] or [r.sql() for r in rules]
    linker.training.estimate_probability_two_random_records_match(deterministic[:3], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED, num_chunks=1)
    _expectation_maximisation(model, rules)
    return model


def _expectation_maximisation(model: TrainedModel, rules: list[BlockingRule]) -> None:
    """m by EM, in up to three rounds blocked on disjoint fields, most pairs first (EM wants
    matches and non-matches in the mix), so each field is estimated by a round that does not
    fix it. A round that fails (on small or very clean files EM can drive a level's m to zero,
    which Splink refuses) is skipped and the next rule tried."""
    linker = model.linker
    used: set[str] = set()
    for rule in sorted(rules, key=lambda r: -r.pairs):
        if len(model.training_rules) == EM_ROUNDS:
            return
        if not used.isdisjoint(rule.keys):
            continue
        saved = copy.deepcopy(linker._settings_obj.core_model_settings)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule.sql(), max_pairs=EM_MAX_PAIRS, estimate_without_term_frequencies=True
            )
        except (ValueError, SplinkException) as error:
            log.warning("EM blocked on %s skipped: %s", rule.names, error)
            linker._settings_obj.core_model_settings = saved  # a failed round leaves it half-edited
            model.skipped_rules.append(list(rule.names))
            continue
        model.training_rules.append(list(rule.names))
        used.update(rule.keys)
