"""The `outliers` clean agent: unusual values flagged, and capped or blanked only when asked.

An unusual number is as often a real extreme as a mistake, so by default nothing changes:
the profile's outlier rules (3×IQR fences and robust z, both, on the working values) list
the cells in issue_rows.csv. With `outlier_action=cap` they are winsorised to the column's
usual range, with `blank` emptied; each such change is logged like any other.
"""

from __future__ import annotations

import numpy as np

from core.agents.base import AgentContext, AgentResult
from core.agents.clean.scratch import working_context
from core.agents.clean.state import agent_result, clean_parameter, cleaning_state
from core.agents.profile.checks import emit
from core.agents.profile.inference import column_profile
from core.agents.profile.outliers import column_outliers

AGENT_ID = "outliers"
ASKED_CONFIDENCE = 0.9


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


class OutliersAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        action = str(clean_parameter(context, "outlier_action"))
        checks = []
        for file_key in state.frames:
            scratch = working_context(state, file_key)
            table = scratch.tables[file_key]
            live = state.live_rows(file_key)
            for column in table.frame.columns:
                profile = column_profile(scratch, table, column)
                found = column_outliers(scratch, table, profile)
                for check in found.checks:
                    check.keep_rows(live[check.rows])  # rows removed as duplicates are not outliers
                    check.dimension = "none"
                    checks.append(check)
                    if action == "flag" or check.code != "OUTLIERS" or "usual_low" not in found.facts:
                        continue
                    rows = check.rows
                    if action == "blank":
                        news = [""] * len(rows)
                    else:
                        low, high = float(found.facts["usual_low"]), float(found.facts["usual_high"])
                        typed = profile.typed.to_numpy(dtype="float64", na_value=np.nan)[rows]
                        news = [_number_text(low if v < low else high) for v in typed]
                    state.propose(
                        file_key, column, rows, news, AGENT_ID, f"outlier_{action}", ASKED_CONFIDENCE
                    )
        result = agent_result(state, AGENT_ID)
        emit(result, AGENT_ID, checks)
        return result
