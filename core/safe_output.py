"""Output values that are safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@` (or a tab/carriage return) is run as a formula by
Excel and LibreOffice when a CSV is opened: a hostile value in a user's data could then reach
outside the sheet. Such text gets a leading apostrophe; plain numbers such as `-5` are left as
they are.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
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


_TRIGGER_BYTES = np.zeros(256, dtype=bool)
_TRIGGER_BYTES[[ord(t) for t in _TRIGGERS]] = True


def _starts_with_trigger(chunk: pa.Array) -> np.ndarray:
    """Per value of a string array, whether it starts with a trigger, read from the first byte
    of each value in Arrow's buffers (the triggers are ASCII, so the first byte is the first
    character): no regular expression runs over the million values that cannot be formulas."""
    offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    _, offsets_buffer, data_buffer = chunk.buffers()
    if offsets_buffer is None or data_buffer is None or len(chunk) == 0:
        return np.zeros(len(chunk), dtype=bool)
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    starts = offsets[:-1]
    risky = offsets[1:] > starts  # an empty text starts with nothing
    risky[risky] = _TRIGGER_BYTES[data[starts[risky]]]
    if chunk.null_count:
        risky &= chunk.is_valid().to_numpy(zero_copy_only=False)
    return risky


def _formula_mask(column: pa.ChunkedArray) -> np.ndarray | None:
    """Which values of a text column would run as formulas: a trigger first, and not a plain
    number (`-5`); None when there are none. The few values that start with a trigger are
    judged by `neutralise`'s own number pattern, so both functions agree on every value."""
    starts = [_starts_with_trigger(chunk) for chunk in column.chunks]
    risky = np.concatenate(starts) if starts else np.zeros(0, dtype=bool)
    candidates = np.flatnonzero(risky)
    if len(candidates) == 0:
        return None
    texts = column.take(pa.array(candidates)).to_pylist()
    risky[candidates] = [_NUMBER.match(text) is None for text in texts]
    return risky if risky.any() else None


def neutralise_table(table: pa.Table) -> pa.Table:
    """`neutralise_frame` for an Arrow table, column at a time (a million-row issue list is
    checked in milliseconds instead of a Python loop over its cells)."""
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
            risky = _formula_mask(column)
            if risky is not None:
                prefixed = pc.binary_join_element_wise(
                    pa.scalar("'", column.type), column, pa.scalar("", column.type)
                )
                column = pc.if_else(pa.array(risky), prefixed, column)
        columns.append(column)
    names = [neutralise(str(name)) for name in table.column_names]
    return pa.table(columns, names=names)
