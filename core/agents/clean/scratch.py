"""A throwaway agent context over the cleaning state's working tables, so the clean agents can
reuse the profile agents' computations (duplicates, outliers, quality) on the values as they
are now, without touching the run's own cache of the original columns.

The context starts with the state's own profiles of the columns as they are now (checked value
for value, `carry_over.reuse_profiles`), so what an earlier clean agent learned about a column
it left alone (its distinct values, its type) is not worked out again."""

from __future__ import annotations

from core.agents.base import AgentContext
from core.agents.clean.state import CleaningState
from core.agents.profile.carry_over import reuse_profiles


def working_context(state: CleaningState, file_key: str) -> AgentContext:
    context = AgentContext(tables={file_key: state.working_table(file_key)}, parameters={})
    reuse_profiles(context, state.profiles())
    return context
