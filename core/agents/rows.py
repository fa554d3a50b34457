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


@dataclass
class _Part:
    """One finding's rows on their way into the issue rows table."""

    file: int  # the file's position among the tables read
    table: LoadedTable
    ref: RowRefs
    rows: np.ndarray  # int64 positions


def _sort_order(parts: list[_Part], rows: np.ndarray) -> np.ndarray:
    """The positions of the concatenated parts sorted by file, row, column and code (names in
    text order), ties in the order the agents gave them.

    The four keys are packed into one integer where it fits, so one stable sort does what a
    lexsort of four arrays does at twice the cost."""
    column_rank = {name: i for i, name in enumerate(sorted({p.ref.column or "" for p in parts}))}
    code_rank = {code: i for i, code in enumerate(sorted({p.ref.code for p in parts}))}
    lengths = [len(p.rows) for p in parts]
    columns, codes = len(column_rank), len(code_rank)
    row_span = int(rows.max()) + 1 if rows.min() >= 0 else 0
    files_span = max(p.file for p in parts) + 1
    if row_span and files_span * row_span * columns * codes < 2**63:
        # key = ((file * row_span + row) * columns + column) * codes + code
        constant = [
            ((p.file * row_span) * columns + column_rank[p.ref.column or ""]) * codes + code_rank[p.ref.code]
            for p in parts
        ]
        key = rows * (columns * codes)
        key += np.repeat(np.array(constant, np.int64), lengths)
        return np.argsort(key, kind="stable")

    def per_row(values: list[int]) -> np.ndarray:
        return np.repeat(np.array(values, np.int64), lengths)

    return np.lexsort(
        (
            per_row([code_rank[p.ref.code] for p in parts]),
            per_row([column_rank[p.ref.column or ""] for p in parts]),
            rows,
            per_row([p.file for p in parts]),
        )
    )


def _one_text_per_part(texts: list[str], part_of_row: np.ndarray) -> pa.DictionaryArray:
    """A column that holds one text per part (its file, column, agent, code), as a dictionary
    column: four bytes a row, not a copy of the text per row. `part_of_row` gives each row's part."""
    dictionary = list(dict.fromkeys(texts))
    position = {text: i for i, text in enumerate(dictionary)}
    indices = np.array([position[t] for t in texts], np.int32)[part_of_row]
    return pa.DictionaryArray.from_arrays(pa.array(indices), pa.array(dictionary, pa.large_string()))


def _reasons(parts: list[_Part], order: np.ndarray) -> pa.DictionaryArray:
    """The reason column: a part's shared reason, or its own reason per row, as one dictionary
    column (each distinct reason once, in order of first appearance) in sorted order."""
    dictionaries: list[pa.Array] = []
    indices: list[pa.Array] = []
    for part in parts:
        n = len(part.rows)
        if part.ref.reasons is None:
            dictionaries.append(pa.array([part.ref.reason], pa.large_string()))
            indices.append(pa.array(np.zeros(n, np.int32)))
        else:
            encoded = pc.dictionary_encode(_text_array(part.ref.reasons, n))
            dictionaries.append(encoded.dictionary)
            indices.append(encoded.indices)
    # every part's distinct reasons, one after another: encoded again, they map each part's
    # local index to its place in the one dictionary of the whole column
    unified = pc.dictionary_encode(pa.concat_arrays(dictionaries))
    to_unified = unified.indices.to_numpy()
    offsets = np.cumsum([0, *(len(d) for d in dictionaries[:-1])])
    mapped = [
        pc.take(pa.array(to_unified[offset : offset + len(d)]), local)
        for offset, d, local in zip(offsets, dictionaries, indices, strict=True)
    ]
    merged = pa.concat_arrays(mapped).take(pa.array(order))
    return pa.DictionaryArray.from_arrays(merged, unified.dictionary)


def issue_rows_table(tables: Mapping[str, LoadedTable], results: Iterable[AgentResult]) -> pa.Table | None:
    """Every row reference of every agent as one table (row, column, value, reason, agent,
    code, and file when several files were read), sorted by file, row, column, agent and
    code so that all that is wrong with one row sits together. None when nothing was found.

    The sort order is worked out first and each column is built once in that order (the
    repeated texts as dictionary indices), rather than building a table per finding and
    reordering their concatenation."""
    file_order = {key: i for i, key in enumerate(tables)}
    parts = [
        _Part(file_order[ref.file_key], tables[ref.file_key], ref, np.asarray(ref.rows, dtype=np.int64))
        for result in results
        for ref in result.row_refs
        if ref.file_key in tables and len(ref.rows)
    ]
    if not parts:
        return None
    rows = np.concatenate([p.rows for p in parts])
    order = _sort_order(parts, rows)
    take = pa.array(order)
    part_of_row = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p.rows) for p in parts])[order]
    texts: dict[str, dict[str, pa.Array]] = {}
    values = []
    for part in parts:
        if part.ref.values is not None:
            values.append(_text_array(part.ref.values, len(part.rows)))
        elif part.ref.column is not None:
            column = _column_text(part.table, part.ref.column, texts.setdefault(part.ref.file_key, {}))
            values.append(_text_array(column.take(part.rows), len(part.rows)))
        else:
            values.append(pa.nulls(len(part.rows), pa.large_string()))
    columns: dict[str, pa.Array] = {}
    if len({t.filename for t in tables.values()}) > 1:
        columns["file"] = _one_text_per_part([p.table.filename for p in parts], part_of_row)
    columns["row"] = pa.array(rows[order] + 1)
    columns["column"] = _one_text_per_part([p.ref.column or "" for p in parts], part_of_row)
    columns["value"] = pa.concat_arrays(values).take(take)
    columns["reason"] = _reasons(parts, order)
    columns["agent"] = _one_text_per_part([p.ref.agent for p in parts], part_of_row)
    columns["code"] = _one_text_per_part([p.ref.code for p in parts], part_of_row)
    return pa.table(columns)


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
