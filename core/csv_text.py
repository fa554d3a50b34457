"""CSV text as Python's `csv` module writes it, built column by column with Arrow.

A cleaned file is handed back in its own dialect: the input's delimiter, minimal quoting, one
line per row. `pandas.DataFrame.to_csv` writes exactly that through the `csv` module, one cell
at a time, which takes seconds per million rows. The rule it follows is short, so it is done
here on whole columns instead, byte for byte the same (tested against pandas): a field is
quoted when it holds the delimiter, a quote or a line feed (the line terminator), a quote
inside it is doubled, fields are joined by the delimiter and rows end with a line feed; a row
of one empty field is written `""`, so that it is not read back as a blank line.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from core.agents.profile.textbytes import text_bytes

QUOTE = '"'
LINE_END = "\n"


def _field(values: pa.Array | pa.ChunkedArray, delimiter: str) -> pa.Array | pa.ChunkedArray:
    """One column's values as CSV fields."""
    needs = pc.or_(
        pc.or_(pc.match_substring(values, delimiter), pc.match_substring(values, QUOTE)),
        pc.match_substring(values, LINE_END),
    )
    if not pc.any(needs).as_py():
        return values
    text_type = values.type
    quote = pa.scalar(QUOTE, text_type)
    doubled = pc.replace_substring(values, QUOTE, QUOTE * 2)
    quoted = pc.binary_join_element_wise(quote, doubled, quote, pa.scalar("", text_type))
    return pc.if_else(needs, quoted, values)


def _lines(columns: list[pa.Array | pa.ChunkedArray], delimiter: str) -> pa.Array | pa.ChunkedArray:
    """One text per row: its fields joined by the delimiter, ended by a line feed."""
    if len(columns) == 1:  # a lone empty field is quoted, or the row would read as a blank line
        (only,) = columns
        columns = [pc.if_else(pc.equal(pc.utf8_length(only), 0), pa.scalar(QUOTE * 2, only.type), only)]
    text_type = columns[0].type
    joined = pc.binary_join_element_wise(*columns, pa.scalar(delimiter, text_type))
    return pc.binary_join_element_wise(joined, pa.scalar(LINE_END, text_type), pa.scalar("", text_type))


def _bytes(lines: pa.Array | pa.ChunkedArray) -> bytes:
    """The texts back to back, read straight off Arrow's buffers."""
    raw = text_bytes(lines)
    if raw is None:  # a null cell: the callers hand text columns with "" for empty cells
        raise ValueError("csv_text needs text columns without nulls")
    return raw.data.tobytes()


def csv_text(table: pa.Table, delimiter: str = ",") -> bytes:
    """`table` (text columns without nulls) as UTF-8 CSV with a header line: what
    `to_csv(index=False, sep=delimiter, lineterminator="\\n")` gives for the same frame."""
    if table.num_columns == 0:
        return b""
    header = [pa.array([name], pa.large_string()) for name in table.column_names]
    body = [pc.cast(column, pa.large_string()) for column in table.columns]
    return b"".join(
        _bytes(_lines([_field(column, delimiter) for column in part], delimiter)) for part in (header, body)
    )
