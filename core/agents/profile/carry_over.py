"""Column facts carried from one analysis to another analysis of the same values.

The clean tool scores a table twice, before and after cleaning, and most columns come out of
the cleaning exactly as they went in. A column's profile (its distinct values, type and
meaning), its patterns and its outliers depend on its values and its file alone, so where a
column holds the same values in both tables the second analysis takes them from the first
instead of working them out again; on a file of thousands of columns that was most of the
clean tool's time after its agents. Facts that span a table (duplicate rows, keys,
relationships) are always computed anew, and a column whose values differ in any cell, or in
the number of rows, shares nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from core.agents.base import AgentContext
from core.agents.profile import inference, outliers, patterns

# the per-column caches whose entries depend only on the column's values and file key
COLUMN_CACHES = (inference.CACHE_KEY, patterns.CACHE_KEY, outliers.CACHE_KEY)


def same_values(profile: inference.ColumnProfile, column: pd.Series) -> bool:
    """Whether `column` holds, row for row, the text `profile` was computed from."""
    text = inference.as_text(column)
    if len(text) != len(profile.text):
        return False
    ours, theirs = profile.text.array, text.array
    return ours is theirs or bool(ours.equals(theirs))


def reuse_profiles(target: AgentContext, profiles: Iterable[inference.ColumnProfile]) -> int:
    """Hand `target` each profile of `profiles` whose column it holds with the very same values
    (and that it has no profile for yet); how many were taken. The profiles' computed facts
    come along, and what either context computes from then on serves both."""
    cache: dict[tuple[str, str], inference.ColumnProfile] = target.cache.setdefault(inference.CACHE_KEY, {})
    taken = 0
    for profile in profiles:
        key = (profile.file_key, profile.name)
        table = target.tables.get(profile.file_key)
        if key in cache or table is None or profile.name not in table.frame.columns:
            continue
        if same_values(profile, table.frame[profile.name]):
            cache[key] = profile
            taken += 1
    return taken


def carry_over_columns(source: AgentContext, target: AgentContext) -> int:
    """Give `target` what `source` learned about each column both hold with the same values:
    the profile and, when `source` computed them from that profile, the patterns and outliers.
    `source` must be a context whose caches only profile agents filled (so each entry was
    computed from the profile cached beside it). How many columns were carried over."""
    source_profiles: dict[tuple[str, str], inference.ColumnProfile] = source.cache.get(
        inference.CACHE_KEY, {}
    )
    target_profiles = target.cache.setdefault(inference.CACHE_KEY, {})
    carried = 0
    for key, profile in source_profiles.items():
        if key in target_profiles or not reuse_profiles(target, [profile]):
            continue
        for cache_key in COLUMN_CACHES[1:]:
            found = source.cache.get(cache_key, {}).get(key)
            if found is not None:
                target.cache.setdefault(cache_key, {}).setdefault(key, found)
        carried += 1
    return carried
