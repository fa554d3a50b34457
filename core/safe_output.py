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
import pyarrow as pa
import pyarrow.compute as pc

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


_TRIGGER_PATTERN = r"^[=+\-@\t\r]"


def neutralise_table(table: pa.Table) -> pa.Table:
    """`neutralise_frame` for an Arrow table, column at a time in Arrow compute (a million-row
    issue list is checked in milliseconds instead of a Python loop over its cells)."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):  # neutralise each distinct text once
            chunks = [
                pa.DictionaryArray.from_arrays(
                    chunk.indices,
                    neutralise_table(pa.table({"d": chunk.dictionary})).column(0).combine_chunks(),
                )
                for chunk in column.chunks
            ]
            column = pa.chunked_array(chunks, type=column.type) if chunks else column
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(
                pc.fill_null(pc.match_substring_regex(column, _TRIGGER_PATTERN), False),
                pc.invert(pc.fill_null(pc.match_substring_regex(column, _NUMBER.pattern), False)),
            )
            if pc.any(risky).as_py():
                prefixed = pc.binary_join_element_wise(
                    pa.scalar("'", column.type), column, pa.scalar("", column.type)
                )
                column = pc.if_else(risky, prefixed, column)
        columns.append(column)
    names = [neutralise(str(name)) for name in table.column_names]
    return pa.table(columns, names=names)
