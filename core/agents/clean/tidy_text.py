"""The `tidy_text` clean agent: spaces, invisible characters, unicode forms and case.

These are the repairs nobody disputes (a trailing space or a zero-width joiner is never the
data), so they are applied with high confidence, except case: a column written mostly in
one case gets its odd values offered in that case as *suggestions*, because `ENG` among
`eng` may be a convention of its own. Text damaged by a wrong encoding (`�`) cannot be
repaired from the cell alone, so those cells are flagged, never guessed at.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.clean.common import Rewrite, rewrite_values
from core.agents.clean.state import CleaningState, agent_result, cleaning_state
from core.agents.profile.inference import bool_mask
from core.agents.rows import refs

AGENT_ID = "tidy_text"
TIDY_CONFIDENCE = 0.99
CASE_CONFIDENCE = 0.75  # below the default threshold: offered, not applied
CASE_MAJORITY = 0.9  # share of a column's cased values written one way before the odd ones are offered
CASE_MIN_VALUES = 20
CASE_MAX_DISTINCT = 1000
PREFIX_ROWS = 20 * CASE_MAX_DISTINCT  # rows whose distinct values may rule a column out at once

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]")
_INNER_SPACES = re.compile(" {2,}")
_DAMAGE = re.compile("\ufffd|Ã[\u0080-\u00bf]|â€|[\u0080-\u009f]")


def damaged_mask(text: pd.Series) -> np.ndarray:
    """Per cell, True when `_DAMAGE` finds broken characters in it. The pattern is literal
    characters and code-point ranges, which RE2 reads as Python does, so Arrow's engine
    runs it (pandas would run Python's, value by value, for a compiled pattern)."""
    found = pc.match_substring_regex(pa.array(text), _DAMAGE.pattern)
    return bool_mask(found)


def tidy(value: str) -> tuple[str, list[str]]:
    """The value with invisible characters removed, odd spaces made plain, NFC form, inner
    runs of spaces collapsed and the ends trimmed; and the names of the rules that fired."""
    rules = []
    text = value
    cleaned = _INVISIBLE.sub("", text)
    if cleaned != text:
        rules.append("invisible_characters")
        text = cleaned
    normal = unicodedata.normalize("NFC", text)
    if normal != text:
        rules.append("unicode_nfc")
        text = normal
    spaced = _ODD_SPACES.sub(" ", text)
    collapsed = _INNER_SPACES.sub(" ", spaced)
    if collapsed != text:
        rules.append("collapse_spaces")
        text = collapsed
    trimmed = text.strip()
    if trimmed != text:
        rules.append("trim")
        text = trimmed
    return text, rules


# A value can only need tidying if it holds a character outside printable ASCII (a control
# character, a tab, a line break, or anything beyond ASCII, where invisible characters, odd
# spaces, other forms and broken text live), a run of spaces, or a space at either end: for
# printable ASCII, `tidy` changes nothing else (such text is already NFC, and every other
# character `str.strip` removes is a control character).
_MAY_NEED_TIDYING = r"[^\x20-\x7e]|  |^ | $"


def may_need_tidying(values: pa.Array) -> np.ndarray:
    """Per value, False where `_tidy_rewrite` certainly leaves it alone (see above)."""
    found = pc.match_substring_regex(values, _MAY_NEED_TIDYING)
    return bool_mask(found)


def _tidy_rewrite(value: str) -> Rewrite:
    if _DAMAGE.search(value):
        return None  # broken by a wrong encoding: flagged as it is, not half-repaired
    new, rules = tidy(value)
    if not rules:
        return None
    return new, "+".join(rules), TIDY_CONFIDENCE


def case_style(value: str) -> str | None:
    """'lower', 'upper', 'title' or 'mixed' for text with letters; None without letters."""
    if not any(ch.isalpha() for ch in value):
        return None
    if value == value.lower():
        return "lower"
    if value == value.upper():
        return "upper"
    if value == value.title():
        return "title"
    return "mixed"


def _to_style(value: str, style: str) -> str:
    return {"lower": value.lower(), "upper": value.upper(), "title": value.title()}[style]


def _many_values(text: pd.Series, limit: int) -> bool:
    """True when the first rows alone hold more than `limit` distinct filled values: then the
    column does, without counting all of it."""
    head = pa.array(text.iloc[:PREFIX_ROWS])
    return pc.count_distinct(pc.filter(head, pc.not_equal(head, ""))).as_py() > limit


def _case(state: CleaningState, file_key: str, column: str) -> None:
    text = state.column(file_key, column)
    if _many_values(text, CASE_MAX_DISTINCT):
        return
    counts = text[text != ""].value_counts()
    if len(counts) > CASE_MAX_DISTINCT or counts.sum() < CASE_MIN_VALUES:
        return
    styles: dict[str, int] = {}
    for value, count in counts.items():
        style = case_style(str(value))
        if style is not None:
            styles[style] = styles.get(style, 0) + int(count)
    total = sum(styles.values())
    if not total:
        return
    majority, share = max(styles.items(), key=lambda kv: kv[1])
    if majority == "mixed" or share / total < CASE_MAJORITY or share == total:
        return
    known = set(counts.index)

    def rewrite(value: str) -> Rewrite:
        style = case_style(value)
        if style is None or style == majority:
            return None
        new = _to_style(value, majority)
        if new not in known:
            return None  # only towards a spelling the column already uses ("CA" is not "Ca")
        return new, f"case_{majority}", CASE_CONFIDENCE

    rewrite_values(state, file_key, column, AGENT_ID, rewrite)


def _damaged(state: CleaningState, file_key: str, column: str) -> tuple[Finding, object] | None:
    text = state.column(file_key, column)
    mask = damaged_mask(text)
    if not mask.any():
        return None
    rows = np.flatnonzero(mask)
    finding = Finding(
        severity="medium",
        agent=AGENT_ID,
        code="DAMAGED_TEXT",
        message=f"{len(rows):,} value(s) of '{column}' hold characters broken by a wrong text encoding "
        "(such as '�'); the original letters cannot be recovered from the file, so they are listed "
        "in issue_rows.csv for a person to fix.",
        column=column,
        file_key=file_key,
        count=len(rows),
        examples=text.iloc[rows[:5]].tolist(),
    )
    row_refs = refs(file_key, column, AGENT_ID, "DAMAGED_TEXT", "characters broken by a wrong encoding", rows)
    return finding, row_refs


class TidyTextAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        notes: list[Finding] = []
        row_refs = []
        total = max(sum(len(f.columns) for f in state.frames.values()), 1)
        done = 0
        for file_key, frame in state.frames.items():
            for column in frame.columns:
                rewrite_values(state, file_key, column, AGENT_ID, _tidy_rewrite, may_change=may_need_tidying)
                _case(state, file_key, column)
                damaged = _damaged(state, file_key, column)
                if damaged is not None:
                    notes.append(damaged[0])
                    row_refs.append(damaged[1])
                done += 1
                context.progress(done / total, f"{column}")
        result = agent_result(state, AGENT_ID, notes)
        result.row_refs.extend(row_refs)  # type: ignore[arg-type]
        return result
