"""What the master agents hand to each other during one run, kept in the run's shared cache.

The runner gives every agent the same `context.cache`; the master agents keep one
`MasterRun` there, so `match` reads the keys `standardise` built and `golden_record` reads the
entities `cluster` found, without any of them touching storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext
from core.agents.master.fields import MatchField
from core.errors import ValidationError

CACHE_KEY = "master_run"


@dataclass
class MasterRun:
    fields: list[MatchField]
    # one row per input record: unique_id, source (file key), row (0-based), then one match-key
    # column per compared field (named by the field's key)
    records: pd.DataFrame
    source_names: dict[str, str]  # file key -> file name
    pairs: pd.DataFrame | None = None  # scored pairs kept by `match`
    threshold: float | None = None
    score_histogram: list[dict[str, Any]] = field(default_factory=list)
    entity_ids: pd.Series | None = None  # per record (aligned with `records`)
    entity_codes: np.ndarray | None = None  # per record: the entity's number, in entity id order
    entity_names: np.ndarray | None = None  # per entity number: its id
    golden: pd.DataFrame | None = None

    @property
    def used_fields(self) -> list[MatchField]:
        return [f for f in self.fields if f.used]


def master_run(context: AgentContext, needed_by: str, step: str = "standardise") -> MasterRun:
    """The run's shared state, or a clear error when the agent that builds it did not run."""
    run = context.cache.get(CACHE_KEY)
    if run is None:
        raise ValidationError(
            f"The '{needed_by}' agent needs the '{step}' agent to run first.", code="AGENT_REQUIRES"
        )
    return run


def requires(context: AgentContext, needed_by: str, step: str, attribute: str) -> MasterRun:
    """The run's shared state when `step` has left its `attribute` there; a clear error otherwise."""
    run = master_run(context, needed_by)
    if getattr(run, attribute) is None:
        raise ValidationError(
            f"The '{needed_by}' agent needs the '{step}' agent to run first.", code="AGENT_REQUIRES"
        )
    return run
