"""Column facts shared between two analyses of the same values: taken only for a column whose
values are the same row for row, and never changing a score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.agents.base import AgentContext
from core.agents.clean.outputs import quality_scores
from core.agents.clean.scratch import working_context
from core.agents.clean.state import CACHE_KEY as CLEAN_STATE
from core.agents.clean.state import CleaningState
from core.agents.profile import inference, outliers, patterns
from core.agents.profile.carry_over import carry_over_columns, reuse_profiles, same_values
from core.agents.profile.quality import QualityScoreAgent
from core.registry import CLEAN
from tests.profile_helpers import context_of, table_of

AMOUNTS = ["10", "12", "11", "13", "9", "10", "5000", "12", "11", "n/a"]
CITIES = ["Oslo", "oslo ", "Bergen", "Oslo", "Bergen", "Oslo", "Bergen", "Oslo", "Bergen", "Oslo"]
IDS = [str(i) for i in range(1, 11)]


def analysed(columns: dict[str, list[str]]) -> AgentContext:
    """A context whose quality score (and so profiles, patterns and outliers) is computed."""
    context = context_of(table_of(columns))
    QualityScoreAgent().run(context)
    return context


def test_same_values_means_row_for_row() -> None:
    profile = inference.ColumnProfile("primary", "city", pd.Series(CITIES, dtype="str"))
    assert same_values(profile, pd.Series(list(CITIES), dtype="str"))
    assert same_values(profile, pd.Series(CITIES, dtype=object))  # the same text, held otherwise
    assert not same_values(profile, pd.Series([*CITIES[:-1], "Oslo "], dtype="str"))
    assert not same_values(profile, pd.Series(CITIES[:-1], dtype="str"))


def test_a_profile_is_reused_only_for_a_column_with_the_same_values() -> None:
    source = analysed({"id": IDS, "city": CITIES})
    profiles = list(source.cache[inference.CACHE_KEY].values())
    target = context_of(table_of({"id": IDS, "city": [c.strip() for c in CITIES]}))
    assert reuse_profiles(target, profiles) == 1
    taken = target.cache[inference.CACHE_KEY]
    assert taken[("primary", "id")] is source.cache[inference.CACHE_KEY][("primary", "id")]
    assert ("primary", "city") not in taken


def test_a_profile_the_target_has_already_is_kept() -> None:
    source = analysed({"id": IDS})
    target = context_of(table_of({"id": IDS}))
    own = inference.column_profile(target, target.tables["primary"], "id")
    assert reuse_profiles(target, source.cache[inference.CACHE_KEY].values()) == 0
    assert target.cache[inference.CACHE_KEY][("primary", "id")] is own


def test_a_column_another_file_or_a_shorter_table_holds_is_not_carried() -> None:
    source = analysed({"amount": AMOUNTS})
    other_file = context_of(table_of({"amount": AMOUNTS}, file_key="secondary"))
    fewer_rows = context_of(table_of({"amount": AMOUNTS[:-1]}))
    assert carry_over_columns(source, other_file) == 0
    assert carry_over_columns(source, fewer_rows) == 0
    assert not fewer_rows.cache.get(outliers.CACHE_KEY)


def test_patterns_and_outliers_come_along_with_an_unchanged_column() -> None:
    source = analysed({"amount": AMOUNTS, "city": CITIES})
    target = context_of(table_of({"amount": AMOUNTS, "city": [c.strip() for c in CITIES]}))
    assert carry_over_columns(source, target) == 1
    key = ("primary", "amount")
    for cache in (patterns.CACHE_KEY, outliers.CACHE_KEY):
        assert target.cache[cache][key] is source.cache[cache][key]
        assert ("primary", "city") not in target.cache[cache]


def scores_from_scratch(context: AgentContext) -> tuple[float | None, float | None]:
    state = context.cache[CLEAN_STATE]
    cleaned = {
        key: table_of({str(c): state.cleaned_frame(key)[c].tolist() for c in state.frames[key].columns})
        for key in state.tables
    }
    fresh = [AgentContext(tables=t, parameters={}) for t in (state.tables, cleaned)]
    before, after = (QualityScoreAgent().run(c).metrics["quality_score"] for c in fresh)
    return before, after


@pytest.mark.parametrize(
    "columns, rows_kept",
    [
        # text tidied and markers emptied, no row removed: the id and note columns carry over
        ({"id": IDS, "amount": AMOUNTS, "city": CITIES, "note": ["ok"] * 10}, 10),
        # a duplicate row removed: no column holds the same rows any more, nothing carries over
        ({"id": [*IDS[:9], "9"], "amount": [*AMOUNTS[:9], AMOUNTS[8]], "city": [*CITIES[:9], CITIES[8]]}, 9),
    ],
)
def test_the_clean_tools_scores_are_those_computed_from_scratch(
    columns: dict[str, list[str]], rows_kept: int
) -> None:
    context = context_of(table_of(columns))
    for spec in CLEAN.agents:
        spec.load().run(context)
    state = context.cache[CLEAN_STATE]
    cleaned = state.cleaned_frame("primary")
    assert len(cleaned) == rows_kept
    assert cleaned["city"].tolist() != columns["city"][:rows_kept]  # a column the cleaning changed
    assert rows_kept < 10 or cleaned["id"].tolist() == IDS  # and, with every row kept, one it did not
    before, after = quality_scores(state, {"primary": cleaned})
    assert (before, after) == scores_from_scratch(context)
    assert before is not None and after is not None and after >= before


def test_a_clean_agents_scratch_context_starts_with_the_states_profiles_of_unchanged_columns() -> None:
    state = CleaningState({"primary": table_of({"id": IDS, "city": CITIES})})
    id_profile, city_profile = state.profile("primary", "id"), state.profile("primary", "city")
    state.propose("primary", "city", np.array([1]), ["Oslo"], "tidy_text", "trim", 0.99)
    assert state.column("primary", "city").tolist()[1] == "Oslo"
    profiles = working_context(state, "primary").cache[inference.CACHE_KEY]
    assert profiles[("primary", "id")] is id_profile
    assert ("primary", "city") not in profiles or profiles[("primary", "city")] is not city_profile
