"""Large tables into `report.xlsx` sheets, fast: the sheet XML built by Arrow, not cell by cell.

xlsxwriter writes about a million cells in ten seconds from Python; the full list of affected
rows of a million-row file holds several million. So `core.reports` lets xlsxwriter write the
styled header of such a sheet, and this module splices the data rows into that sheet's XML
afterwards: each row's XML is assembled column-wise with Arrow kernels, chunk by chunk, and
streamed into the zip, so memory stays flat whatever the row count.

Text goes in as shared strings (never formulas): each distinct text once in
`xl/sharedStrings.xml`, each cell a short index. A long list repeats a few texts (column,
reason, agent, code) millions of times, so this keeps the sheet XML at less than half the size
of inline strings, which is what the deflate time follows. Numbers go in as numbers. The
deflate runs in worker threads (zlib releases the GIL) while the next chunk's XML is built.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 50_000
DEFLATE_LEVEL = 1  # zlib's fastest: three times faster than the default, the file a little larger
DEFLATE_THREADS = 2
_ILLEGAL_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
_TEXT = pa.large_string()
_SHARED_STRINGS = "xl/sharedStrings.xml"


@dataclass(frozen=True)
class LongTable:
    """A table whose rows fill the sheets `sheets` (1-based sheet numbers, each with its header
    row written) in turn, `per_sheet` rows each: a list longer than Excel's row limit goes on
    over several sheets."""

    table: pa.Table
    sheets: list[int]
    per_sheet: int


def _escaped(column: pa.Array) -> pa.Array:
    text = pc.cast(column, _TEXT)
    if pc.any(pc.match_substring_regex(text, r"[&<>\x00-\x08\x0B\x0C\x0E-\x1F]")).as_py():
        text = pc.replace_substring(text, "&", "&amp;")
        text = pc.replace_substring(text, "<", "&lt;")
        text = pc.replace_substring(text, ">", "&gt;")
        text = pc.replace_substring_regex(text, _ILLEGAL_XML, "")
    return text


def _join(*parts: str | pa.Array) -> pa.Array:
    """Element-wise concatenation of large_string arrays and literal text."""
    scalars = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*scalars, pa.scalar("", _TEXT))


def _bytes_of(strings: pa.Array) -> memoryview:
    """The concatenated bytes of a large_string array, without copying them."""
    _, offsets, data = strings.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(bounds[strings.offset]) : int(bounds[strings.offset + len(strings)])]


@dataclass
class SharedStrings:
    """The workbook's shared string table, extended by the texts of the long tables."""

    xml: str  # xlsxwriter's sharedStrings.xml
    known: int = 0  # its entries
    added: list[pa.Array] = field(default_factory=list)  # escaped texts appended, in order
    added_count: int = 0
    cells: int = 0  # string cells added

    def __post_init__(self) -> None:
        found = re.search(r'uniqueCount="(\d+)"', self.xml)
        self.known = int(found.group(1)) if found else self.xml.count("<si>")

    def add(self, texts: pa.Array, cells: int) -> int:
        """Append `texts` (one entry each, in order), referred to by `cells` cells; the index of
        the first."""
        first = self.known + self.added_count
        self.added.append(_escaped(texts))
        self.added_count += len(texts)
        self.cells += cells
        return first

    def chunks(self) -> Iterator[bytes | memoryview]:
        """The extended sharedStrings.xml, in pieces."""
        head, tail = self.xml.rsplit("</sst>", 1)
        count = re.search(r'\bcount="(\d+)"', head)
        total = (int(count.group(1)) if count else 0) + self.cells
        head = re.sub(r'\bcount="\d+"', f'count="{total}"', head, count=1)
        head = re.sub(r'uniqueCount="\d+"', f'uniqueCount="{self.known + self.added_count}"', head, count=1)
        yield head.encode("utf-8")
        for texts in self.added:
            for start in range(0, len(texts), CHUNK_ROWS):
                part = pc.fill_null(texts.slice(start, CHUNK_ROWS), "")
                yield _bytes_of(_join('<si><t xml:space="preserve">', part, "</t></si>"))
        yield ("</sst>" + tail).encode("utf-8")


def _cell_table(column: pa.ChunkedArray, strings: SharedStrings) -> pa.Array | None:
    """For a text column: its values as a dictionary array whose dictionary holds the XML of
    each distinct value's shared-string cell. None for a numeric column."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return None
    encoded = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(encoded.type):
        encoded = pc.dictionary_encode(pc.cast(encoded, _TEXT))
    first = strings.add(encoded.dictionary, len(encoded) - encoded.null_count)
    numbers = pa.array(np.arange(first, first + len(encoded.dictionary), dtype=np.int64))
    cells = _join('<c t="s"><v>', pc.cast(numbers, _TEXT), "</v></c>")
    cells = pc.if_else(pc.is_valid(encoded.dictionary), cells, pa.scalar(None, _TEXT))
    return pa.DictionaryArray.from_arrays(encoded.indices, cells)


def _numeric_cells(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_floating(column.type):  # NaN and infinity are no spreadsheet numbers
        column = pc.if_else(pc.is_finite(column), column, pa.scalar(None, column.type))
    return _join("<c><v>", pc.cast(column, _TEXT), "</v></c>")


@dataclass
class _EncodedTable:
    """A long table ready for the sheets: text columns as shared-string cells, numbers as is."""

    columns: list[pa.Array]  # a DictionaryArray of cell XML per text column, else the numbers
    text: list[bool]

    @classmethod
    def of(cls, table: pa.Table, strings: SharedStrings) -> _EncodedTable:
        columns, text = [], []
        for column in table.columns:
            cells = _cell_table(column, strings)
            text.append(cells is not None)
            columns.append(cells if cells is not None else column.combine_chunks())
        return cls(columns, text)

    def rows_xml(self, start: int, stop: int, first_row: int) -> memoryview:
        """The `<row>` elements of rows [start, stop), numbered from `first_row` (1-based)."""
        numbers = pa.array(np.arange(first_row, first_row + stop - start, dtype=np.int64))
        pieces: list[str | pa.Array] = ['<row r="', pc.cast(numbers, _TEXT), '">']
        for column, is_text in zip(self.columns, self.text, strict=True):
            part = column.slice(start, stop - start)
            if is_text:
                cells = part.dictionary.take(part.indices)
            else:
                cells = _numeric_cells(part)
            pieces.append(pc.fill_null(cells, "<c/>"))
        pieces.append("</row>")
        return _bytes_of(_join(*pieces))

    def row_chunks(self, start: int, stop: int, first_row: int) -> Iterator[memoryview]:
        for at in range(start, stop, CHUNK_ROWS):
            end = min(at + CHUNK_ROWS, stop)
            yield self.rows_xml(at, end, first_row + at - start)


class _ParallelDeflate:
    """A stand-in for zlib's compressor inside zipfile's member writer that deflates each chunk
    in a worker thread: every chunk is a raw deflate stream ended by a sync flush, so their
    concatenation (closed by one final empty block) is one valid deflate stream, as pigz does.
    `compress` hands back the chunks that are done, in order, keeping a few in flight."""

    def __init__(self, pool: ThreadPoolExecutor, level: int) -> None:
        self.pool = pool
        self.level = level
        self.pending: deque[Future[bytes]] = deque()

    def _deflate(self, data: bytes | memoryview) -> bytes:
        engine = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        return engine.compress(data) + engine.flush(zlib.Z_SYNC_FLUSH)

    def compress(self, data: bytes | memoryview) -> bytes:
        self.pending.append(self.pool.submit(self._deflate, data))
        done = []
        while self.pending and (len(self.pending) > 2 * DEFLATE_THREADS or self.pending[0].done()):
            done.append(self.pending.popleft().result())
        return b"".join(done)

    def flush(self) -> bytes:
        done = [future.result() for future in self.pending]
        self.pending.clear()
        final = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        return b"".join(done) + final.flush(zlib.Z_FINISH)


def _write_member(
    target: zipfile.ZipFile, info: zipfile.ZipInfo, pieces: Iterator[bytes | memoryview], pool: ThreadPoolExecutor
) -> None:
    """Stream `pieces` into the member `info`, deflated in `pool`. zipfile computes the CRC and
    the sizes; only its compressor is swapped (when its writer still has one to swap)."""
    member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    member.compress_type = zipfile.ZIP_DEFLATED
    with target.open(member, "w", force_zip64=True) as fh:
        if getattr(fh, "_compressor", None) is not None:
            fh._compressor = _ParallelDeflate(pool, DEFLATE_LEVEL)  # type: ignore[attr-defined]
        for piece in pieces:
            fh.write(piece)


def _dimension(xml: str, last_row: int) -> str:
    """The sheet's `<dimension>` widened to the rows spliced in (same last column)."""
    found = re.search(r'<dimension ref="(?:[A-Z]+1:)?([A-Z]+)1"/>', xml)
    last_column = found.group(1) if found else "A"
    return f'<dimension ref="A1:{last_column}{last_row}"/>'


def _sheet_pieces(xml: str, table: _EncodedTable, start: int, stop: int) -> Iterator[bytes | memoryview]:
    xml = re.sub(r'<dimension ref="[^"]*"/>', _dimension(xml, stop - start + 1), xml, count=1)
    head, tail = xml.split("</sheetData>", 1)
    yield head.encode("utf-8")
    yield from table.row_chunks(start, stop, 2)
    yield ("</sheetData>" + tail).encode("utf-8")


def fill_sheets(workbook: bytes, tables: list[LongTable]) -> bytes:
    """`workbook` with the data rows of `tables` spliced in after their sheets' header rows."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    if _SHARED_STRINGS not in source.namelist():
        raise ValueError("the workbook has no shared strings to extend (no sheet has a text header)")
    strings = SharedStrings(source.read(_SHARED_STRINGS).decode("utf-8"))
    parts: dict[int, tuple[_EncodedTable, int, int]] = {}
    for long in tables:
        encoded = _EncodedTable.of(long.table, strings)
        for i, sheet in enumerate(long.sheets):
            start = i * long.per_sheet
            parts[sheet] = (encoded, start, min(start + long.per_sheet, long.table.num_rows))
    out = io.BytesIO()
    with (
        ThreadPoolExecutor(DEFLATE_THREADS, thread_name_prefix="xlsx-deflate") as pool,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            if match and int(match.group(1)) in parts:
                encoded, start, stop = parts[int(match.group(1))]
                xml = source.read(info.filename).decode("utf-8")
                _write_member(target, info, _sheet_pieces(xml, encoded, start, stop), pool)
            elif info.filename == _SHARED_STRINGS:
                _write_member(target, info, strings.chunks(), pool)
            else:
                target.writestr(info, source.read(info.filename), zipfile.ZIP_DEFLATED, 6)
    return out.getvalue()
