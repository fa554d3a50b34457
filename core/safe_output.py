"""Output values that are safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@` (or a tab/carriage return) is run as a formula by
Excel and LibreOffice when a CSV is opened: a hostile value in a user's data could then reach
outside the sheet. Such text gets a leading apostrophe; plain numbers such as `-5` are left as
they are.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot run as formulas."""
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            mask = series.astype("string").str.match(r"^[=+\-@\t\r]", na=False)
            if mask.any():
                out.loc[mask, column] = series[mask].map(neutralise)
    return out
