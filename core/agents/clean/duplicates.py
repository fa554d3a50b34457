"""The `duplicates` clean agent: repeated rows removed (or only flagged), each one listed.

It reuses the profile's `uniqueness` computations on the working values: exact repeats of
an earlier row (every cell the same) and near repeats (every cell the same once case,
accents, punctuation and spacing are set aside). The first occurrence stays; every later
one is listed in removed_rows.csv with the row it repeats, so nothing is lost. An id column
that differs makes two rows different records, which is why they are never merged here.
"""

from __future__ import annotations

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.clean.scratch import working_context
from core.agents.clean.state import agent_result, clean_parameter, cleaning_state
from core.agents.profile.inference import column_profile
from core.agents.profile.uniqueness import duplicate_rows, near_duplicate_rows, rows_that_may_repeat

AGENT_ID = "duplicates"
EXACT_CONFIDENCE = 1.0
NEAR_CONFIDENCE = 0.9


class DuplicatesAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        remove = str(clean_parameter(context, "duplicates")) == "remove"
        notes: list[Finding] = []
        for file_key in state.frames:
            scratch = working_context(state, file_key)
            table = scratch.tables[file_key]
            n = len(table.frame)
            profiles = [column_profile(scratch, table, c) for c in table.frame.columns]
            codes = [p.encoded.codes for p in profiles]
            later, first = duplicate_rows(codes, n, rows_that_may_repeat(profiles, n))
            exact = dict(zip(later.tolist(), first.tolist(), strict=True))
            near_later, near_first = near_duplicate_rows(scratch, profiles, n)
            near = {
                r: f for r, f in zip(near_later.tolist(), near_first.tolist(), strict=True) if r not in exact
            }
            counts = {"exact": 0, "near": 0}
            for kind, pairs, confidence in (
                ("exact", exact, EXACT_CONFIDENCE),
                ("near", near, NEAR_CONFIDENCE),
            ):
                for row, original in sorted(pairs.items()):
                    same = "same as" if kind == "exact" else "same (ignoring case and spacing) as"
                    reason = f"{same} row {original + 1}"
                    effective = confidence if remove else 0.0
                    state.remove_row(file_key, row, AGENT_ID, f"{kind}_duplicate", reason, effective)
                    counts[kind] += 1
            total = counts["exact"] + counts["near"]
            if total:
                action = "removed from the cleaned file" if remove else "flagged (not removed)"
                notes.append(
                    Finding(
                        severity="medium",
                        agent=AGENT_ID,
                        code="DUPLICATE_ROWS_REMOVED" if remove else "DUPLICATE_ROWS_FLAGGED",
                        message=f"{counts['exact']:,} exact and {counts['near']:,} near-duplicate row(s) "
                        f"were {action}; each is listed in removed_rows.csv with the row it repeats.",
                        file_key=file_key,
                        count=total,
                    )
                )
        return agent_result(state, AGENT_ID, notes)
