"""The `types_formats` clean agent: each column's values written one way.

It walks the columns once and, per column, applies the first family of rules that fits its
meaning: numbers stored as text (`numbers.py`), dates and times of day (`dates.py`), then
booleans, phones, emails and countries (`contacts.py`). The column's meaning comes from the
profile's inference on the values as they are now (after `tidy_text` and `missing_values`).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult
from core.agents.clean.common import Rewrite, rewrite_values
from core.agents.clean.contacts import (
    boolean_rewriter,
    country_rewriter,
    email_may_change,
    email_rewrite,
    phone_rewriter,
)
from core.agents.clean.dates import date_rewriter, time_rewriter, time_style
from core.agents.clean.numbers import plan_numbers, unify_number
from core.agents.clean.state import CleaningState, agent_result, clean_parameter, cleaning_state
from core.agents.profile.inference import bool_mask

AGENT_ID = "types_formats"
NUMBER_CONFIDENCE = 0.9


def _numbers(state: CleaningState, file_key: str, column: str) -> bool:
    planned = plan_numbers(state.profile(file_key, column))
    if planned is None:
        return False
    plan, parsed = planned

    def rewrite(value: str) -> Rewrite:
        number = parsed.get(value)
        if number is None:
            return None
        outcome = unify_number(value, number, plan)
        return None if outcome is None else (outcome[0], outcome[1], NUMBER_CONFIDENCE)

    if parsed:
        known = pa.array(list(parsed), pa.large_string())
        rewrite_values(
            state,
            file_key,
            column,
            AGENT_ID,
            rewrite,
            may_change=lambda values: bool_mask(pc.is_in(values, value_set=known)),
        )
    return True


def _format_column(state: CleaningState, file_key: str, column: str, params: dict[str, str]) -> None:
    text = state.column(file_key, column)
    column_type = state.profile(file_key, column).column_type
    if column_type.semantic_type == "phone":  # digits, but not a quantity
        phones = phone_rewriter(text, params["phone_format"], params["phone_region"])
        if phones is not None:
            rewrite_values(state, file_key, column, AGENT_ID, phones)
        return
    if _numbers(state, file_key, column):
        return
    style = time_style(text)
    if style is not None:
        rewrite_values(state, file_key, column, AGENT_ID, time_rewriter(style))
        return
    dated = date_rewriter(text, column_type, params["date_format"])
    if dated is not None:
        rewrite_values(state, file_key, column, AGENT_ID, dated)
        return
    if column_type.inferred_type == "boolean":
        booleans = boolean_rewriter(text)
        if booleans is not None:
            rewrite_values(state, file_key, column, AGENT_ID, booleans)
        return
    if column_type.semantic_type == "email":
        rewrite_values(state, file_key, column, AGENT_ID, email_rewrite, may_change=email_may_change)
        return
    countries = country_rewriter(text, params["country_format"])
    if countries is not None:
        rewrite_values(state, file_key, column, AGENT_ID, countries)


class TypesFormatsAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        params = {
            name: str(clean_parameter(context, name))
            for name in ("date_format", "phone_format", "phone_region", "country_format")
        }
        columns = [(k, c) for k, f in state.frames.items() for c in f.columns]
        for done, (file_key, column) in enumerate(columns, start=1):
            _format_column(state, file_key, column, params)
            context.progress(done / max(len(columns), 1), column)
        return agent_result(state, AGENT_ID)
