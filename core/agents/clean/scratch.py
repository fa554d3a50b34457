"""A throwaway agent context over the cleaning state's working tables, so the clean agents can
reuse the profile agents' computations (duplicates, outliers, quality) on the values as they
are now, without touching the run's own cache of the original columns."""

from __future__ import annotations

from core.agents.base import AgentContext
from core.agents.clean.state import CleaningState


def working_context(state: CleaningState, file_key: str) -> AgentContext:
    return AgentContext(tables={file_key: state.working_table(file_key)}, parameters={})
