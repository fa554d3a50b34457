"""The `missing_values` clean agent: disguised blanks made real, optional imputation.

A marker such as `N/A` or `-` is only a blank where the column treats it as one. The same
text can be a real value: `NA` is Namibia in a column of two-letter country codes, and
`none` is an answer in a column of categories (`none`, `some`, `many`). So a marker survives
when it has the shape most of the column's values have, or when it is a frequent word (5% of
the rows) in a column of text categories. Imputation is off by
default and, when asked for, every imputed cell is logged like any other change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from core.agents.base import AgentContext, AgentResult
from core.agents.clean.common import filled_values
from core.agents.clean.state import CleaningState, agent_result, clean_parameter, cleaning_state
from core.agents.profile.inference import as_text, infer_column, is_missing, typed_values
from core.agents.profile.patterns import shapes

AGENT_ID = "missing_values"
TYPED_CONFIDENCE = 0.95  # a marker in a column of numbers or dates cannot be a value
TEXT_CONFIDENCE = 0.9
SHAPE_SHARE = 0.5  # a marker shaped like this share of the other values is one of them
CATEGORY_WORD_SHARE = 0.05
IMPUTE_CONFIDENCE = 0.9


def _marker_values(text: pd.Series) -> list[str]:
    """The distinct non-empty values of a column that read as missing markers."""
    distinct = pd.Series(text.unique(), dtype="str")
    distinct = distinct[distinct != ""]
    if distinct.empty:
        return []
    return distinct[is_missing(distinct).to_numpy()].tolist()


def marker_is_real(text: pd.Series, marker: str, typed: bool) -> bool:
    """True when the column uses `marker` as a value of its own, not as a blank: it has the
    shape most of the column's values have, or it is a frequent word in a column of text
    categories (in a column of numbers or dates a word cannot be a value)."""
    others = filled_values(text)
    if others.empty:
        return False
    other_shapes = pd.Series(shapes(pa.array(others.str.strip().tolist())).to_pylist())
    marker_shape = shapes(pa.array([marker.strip()])).to_pylist()[0]
    if (other_shapes == marker_shape).mean() >= SHAPE_SHARE:
        return True
    if typed:
        return False
    is_word = marker.strip().isalpha()
    share = float((text == marker).mean())
    few_values = others.nunique() <= max(20, len(others) // 20)
    return is_word and few_values and share >= CATEGORY_WORD_SHARE


def _disguised(state: CleaningState, file_key: str, column: str, replacement: str) -> None:
    text = state.column(file_key, column)
    candidates = _marker_values(text)
    if not candidates:
        return
    others = filled_values(text)
    typed = infer_column(others).inferred_type not in ("string", "empty") if len(others) else False
    markers = [m for m in candidates if not marker_is_real(text, m, typed)]
    if not markers:
        return
    confidence = TYPED_CONFIDENCE if typed else TEXT_CONFIDENCE
    rows = np.flatnonzero(text.isin(markers).to_numpy())
    state.propose(
        file_key, column, rows, [replacement] * len(rows), AGENT_ID, "disguised_missing", confidence
    )


def _impute(state: CleaningState, file_key: str, column: str, how: str, constant: str) -> None:
    text = state.column(file_key, column)
    blank = (text == "").to_numpy()
    if not blank.any() or blank.all():
        return
    rows = np.flatnonzero(blank)
    if how == "constant":
        value = constant
    elif how == "mode":
        value = str(text[~blank].value_counts().index[0])
    else:  # median: numeric columns only
        column_type = infer_column(text)
        if column_type.inferred_type not in ("integer", "float"):
            return
        numbers = pd.to_numeric(typed_values(as_text(text), column_type), errors="coerce").dropna()
        if numbers.empty:
            return
        median = float(numbers.median())
        value = str(int(median)) if median.is_integer() else f"{median:.6g}"
    state.propose(file_key, column, rows, [value] * len(rows), AGENT_ID, f"impute_{how}", IMPUTE_CONFIDENCE)


class MissingValuesAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        state = cleaning_state(context)
        replacement = str(clean_parameter(context, "missing_marker"))
        how = str(clean_parameter(context, "impute"))
        constant = str(clean_parameter(context, "impute_value"))
        columns = [(k, c) for k, f in state.frames.items() for c in f.columns]
        for done, (file_key, column) in enumerate(columns, start=1):
            _disguised(state, file_key, column, replacement)
            if how != "none":
                _impute(state, file_key, column, how, constant)
            context.progress(done / max(len(columns), 1), column)
        return agent_result(state, AGENT_ID)
