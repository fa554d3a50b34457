"""Large tables into `report.xlsx` sheets, fast: the sheet XML built by Arrow, not cell by cell.

xlsxwriter writes about a million cells in ten seconds from Python; the full list of affected
rows of a million-row file holds several million. So `core.reports` lets xlsxwriter write the
styled header of such a sheet, and this module splices the data rows into that sheet's XML
afterwards: each row's XML is assembled column-wise with Arrow string kernels, chunk by
chunk, and streamed into the zip, so memory stays flat whatever the row count. Text goes in
as inline strings (never formulas), numbers as numbers.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 100_000
_ILLEGAL_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def _escaped(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    text = pc.cast(column, pa.large_string())
    if pc.any(pc.match_substring_regex(text, r"[&<>\x00-\x08\x0B\x0C\x0E-\x1F]")).as_py():
        text = pc.replace_substring(text, "&", "&amp;")
        text = pc.replace_substring(text, "<", "&lt;")
        text = pc.replace_substring(text, ">", "&gt;")
        text = pc.replace_substring_regex(text, _ILLEGAL_XML, "")
    return text


def _join(*parts: str | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Element-wise concatenation of large_string arrays and literal text."""
    scalars = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*scalars, pa.scalar("", pa.large_string()))


def _cells(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """One `<c>` element per value; an empty `<c/>` keeps the place of a missing one."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        numbers = pc.cast(column, pa.large_string())
        cells = _join("<c><v>", numbers, "</v></c>")
    else:
        cells = _join('<c t="inlineStr"><is><t xml:space="preserve">', _escaped(column), "</t></is></c>")
    return pc.fill_null(pc.cast(cells, pa.large_string()), "<c/>")


def _row_chunks(table: pa.Table, first_row: int) -> Iterator[memoryview]:
    """The `<row>` elements of `table`, numbered from `first_row` (1-based), in chunks."""
    for start in range(0, table.num_rows, CHUNK_ROWS):
        part = table.slice(start, CHUNK_ROWS)
        numbers = pa.array(range(first_row + start, first_row + start + part.num_rows), pa.int64())
        pieces = ['<row r="', pc.cast(numbers, pa.large_string()), '">']
        pieces.extend(_cells(column) for column in part.columns)
        pieces.append("</row>")
        joined = _join(*pieces)
        if isinstance(joined, pa.ChunkedArray):
            joined = joined.combine_chunks()
        _, offsets, data = joined.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int64)
        yield memoryview(data)[int(bounds[joined.offset]) : int(bounds[joined.offset + len(joined)])]


def _note_row(row: int, text: str) -> bytes:
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<row r="{row}"><c t="inlineStr"><is><t>{safe}</t></is></c></row>'.encode()


def _dimension(xml: str, last_row: int) -> str:
    """The sheet's `<dimension>` widened to the rows spliced in (same last column)."""
    found = re.search(r'<dimension ref="(?:[A-Z]+1:)?([A-Z]+)1"/>', xml)
    last_column = found.group(1) if found else "A"
    return f'<dimension ref="A1:{last_column}{last_row}"/>'


def fill_sheets(workbook: bytes, sheets: dict[int, tuple[pa.Table, str | None]]) -> bytes:
    """`workbook` with the data rows of `sheets` (1-based sheet number -> table and an optional
    closing note row) spliced in after each sheet's header row."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if not match or int(match.group(1)) not in sheets:
                target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
                continue
            table, note = sheets[int(match.group(1))]
            xml = data.decode("utf-8")
            last_row = table.num_rows + 1 + (1 if note else 0)
            xml = re.sub(r'<dimension ref="[^"]*"/>', _dimension(xml, last_row), xml, count=1)
            head, tail = xml.split("</sheetData>", 1)
            with target.open(info.filename, "w", force_zip64=True) as fh:
                fh.write(head.encode("utf-8"))
                for chunk in _row_chunks(table, 2):
                    fh.write(chunk)
                if note:
                    fh.write(_note_row(table.num_rows + 2, note))
                fh.write(b"</sheetData>" + tail.encode("utf-8"))
    return out.getvalue()
