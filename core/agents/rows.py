"""Row references: the rows behind every finding, and the one place they become `issue_rows.csv`.

An alert says "412 invalid emails"; a business user then needs to know *which* 412. Agents
keep the inline examples short (a handful in `Finding.examples`) and hand the complete list
here as positions, never copies of the data, so a finding about a million rows costs eight
bytes a row until the report is written. `issue_rows_frame` is the only function that turns
them into the table users download: one line per affected cell (or row), uncapped.

Row numbers are 1-based data row numbers: row 1 is the first row after the header, which is
what a user sees when they open the file in a spreadsheet and subtract the header line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # base.py imports this module for the AgentResult field
    from core.agents.base import AgentResult, LoadedTable

ISSUE_ROWS_FILE = "issue_rows.csv"
ISSUE_ROWS_COLUMNS = ("row", "column", "value", "reason", "agent", "code")
ROW_NUMBER_NOTE = "row = data row number, 1 = first row after the header"


@dataclass
class RowRefs:
    """The rows one finding is about.

    `rows` are 0-based positions in the table's frame (sorted or not; they are sorted when
    merged). `values` overrides the cell text shown for each row (for findings about whole
    rows, such as "duplicate of row 12"); when None the value is read from `column`.
    `reasons` may likewise give one reason per row instead of the shared `reason`.
    """

    file_key: str
    column: str | None
    agent: str
    code: str
    reason: str
    rows: np.ndarray
    values: Any = None  # sequence aligned with rows, or None
    reasons: Any = None  # sequence aligned with rows, or None

    def __len__(self) -> int:
        return len(self.rows)


def refs(
    file_key: str,
    column: str | None,
    agent: str,
    code: str,
    reason: str,
    mask_or_rows: np.ndarray,
    *,
    values: Any = None,
    reasons: Any = None,
) -> RowRefs:
    """A `RowRefs` from a boolean mask over the table's rows or an array of positions."""
    rows = np.asarray(mask_or_rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    return RowRefs(file_key, column, agent, code, reason, rows.astype(np.int64, copy=False), values, reasons)


def examples_at(text: pd.Series, rows: np.ndarray, limit: int = 5) -> list[str]:
    """The first few distinct cell texts at `rows`, for a finding's inline examples."""
    seen: list[str] = []
    for value in text.iloc[rows[: limit * 20]].tolist():
        if value not in seen:
            seen.append(value)
            if len(seen) == limit:
                break
    return seen


def _text_array(values: Any, n: int) -> pa.Array:
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = pc.cast(array, pa.large_string())
    assert len(array) == n, "values must be aligned with rows"
    return array


def _column_text(table: LoadedTable, column: str, cache: dict[str, pa.Array]) -> pa.Array:
    """The column's cells as Arrow text, without copying them (the loader's arrays)."""
    if column not in cache:
        cache[column] = pa.array(table.frame[column])
    return cache[column]


def _repeated(text: str, n: int) -> pa.DictionaryArray:
    """One text on `n` rows as a dictionary column: four bytes a row, not a copy per row (the
    list of a million-row file's blanks would otherwise hold "no value" a million times)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([text], pa.large_string())
    )


def issue_rows_table(tables: Mapping[str, LoadedTable], results: Iterable[AgentResult]) -> pa.Table | None:
    """Every row reference of every agent as one table (row, column, value, reason, agent,
    code, and file when several files were read), sorted by file, row, column, agent and
    code so that all that is wrong with one row sits together. None when nothing was found."""
    parts: list[pa.Table] = []
    keys: list[tuple[int, np.ndarray, str, str]] = []  # file order, rows, column, code: for sorting
    texts: dict[str, dict[str, pa.Array]] = {}
    file_order = {key: i for i, key in enumerate(tables)}
    for result in results:
        for ref in result.row_refs:
            table = tables.get(ref.file_key)
            if table is None or len(ref.rows) == 0:
                continue
            rows = np.asarray(ref.rows, dtype=np.int64)
            if ref.values is not None:
                value = _text_array(ref.values, len(rows))
            elif ref.column is not None:
                taken = _column_text(table, ref.column, texts.setdefault(ref.file_key, {})).take(rows)
                value = _text_array(taken, len(rows))
            else:
                value = pa.nulls(len(rows), pa.large_string())
            n = len(rows)
            reason = (
                pc.dictionary_encode(_text_array(ref.reasons, n))
                if ref.reasons is not None
                else _repeated(ref.reason, n)
            )
            parts.append(
                pa.table(
                    {
                        "file": _repeated(table.filename, n),
                        "row": pa.array(rows + 1),
                        "column": _repeated(ref.column or "", n),
                        "value": value,
                        "reason": reason,
                        "agent": _repeated(ref.agent, n),
                        "code": _repeated(ref.code, n),
                    }
                )
            )
            keys.append((file_order[ref.file_key], rows, ref.column or "", ref.code))
    if not parts:
        return None
    merged = pa.concat_tables(parts)
    # sorted on integers (file, row, column rank, code rank): sorting the text columns of a
    # million-line list directly costs a second
    column_rank = {name: i for i, name in enumerate(sorted({k[2] for k in keys}))}
    code_rank = {code: i for i, code in enumerate(sorted({k[3] for k in keys}))}
    order = np.lexsort(
        (
            np.concatenate([np.full(len(k[1]), code_rank[k[3]], np.int32) for k in keys]),
            np.concatenate([np.full(len(k[1]), column_rank[k[2]], np.int32) for k in keys]),
            np.concatenate([k[1] for k in keys]),
            np.concatenate([np.full(len(k[1]), k[0], np.int32) for k in keys]),
        )
    )
    merged = merged.take(pa.array(order))
    if len({t.filename for t in tables.values()}) <= 1:
        merged = merged.drop_columns(["file"])
    return merged


def issue_rows_frame(
    tables: Mapping[str, LoadedTable], results: Iterable[AgentResult]
) -> pd.DataFrame | None:
    """`issue_rows_table` as the pandas frame the runner writes as `issue_rows.csv`."""
    merged = issue_rows_table(tables, results)
    return None if merged is None else merged.to_pandas(types_mapper=pd.ArrowDtype)


def count_rows(results: Iterable[AgentResult]) -> int:
    """How many (row, finding) lines the issue rows table will hold."""
    return sum(len(ref.rows) for result in results for ref in result.row_refs)


def join_text(*parts: Any) -> pa.Array:
    """Element-wise concatenation of arrays and plain strings, as one large_string array (for
    per-row reasons such as "same as row 12" built without a Python loop)."""
    arrays = [p for p in parts if isinstance(p, pa.Array | pa.ChunkedArray)]
    n = len(arrays[0]) if arrays else 1
    cast = [
        pc.cast(p, pa.large_string())
        if isinstance(p, pa.Array | pa.ChunkedArray)
        else pa.scalar(str(p), pa.large_string())
        for p in parts
    ]
    joined = pc.binary_join_element_wise(*cast, pa.scalar("", pa.large_string()))
    if isinstance(joined, pa.Scalar):
        return pa.repeat(joined, n)
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
