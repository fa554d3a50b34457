"""Large tables into `report.xlsx` sheets, fast: the sheet XML built by Arrow, not cell by cell.

xlsxwriter writes about a million cells in ten seconds from Python; the full list of affected
rows of a million-row file holds several million. So `core.reports` lets xlsxwriter write the
styled header of such a sheet, and this module splices the data rows into that sheet's XML
afterwards: each row's XML is assembled column-wise with Arrow kernels, chunk by chunk, and
streamed into the zip, so memory stays flat whatever the row count.

Text goes in as shared strings (never formulas): each distinct text once in
`xl/sharedStrings.xml`, each cell a short index. A long list repeats a few texts (column,
reason, agent, code) millions of times, so this keeps the sheet XML at less than half the size
of inline strings, which is what the deflate time follows. Numbers go in as numbers. Each
chunk's XML is built and deflated in worker threads (Arrow and zlib release the GIL), a few
chunks ahead, while the writer only checksums and stores the finished ones in order.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib

CHUNK_ROWS = 25_000  # rows per piece of XML: a few MB, so the pieces in flight stay small
# ISA-L's deflate (python-isal): at its level 1 three times faster than zlib's fastest level on
# sheet XML, and the file a little smaller; the pieces are ordinary deflate, read by any unzip
DEFLATE_LEVEL = 1
DEFLATE_THREADS = 2
MAX_GROUP_CELLS = 1 << 17  # neighbouring text columns share one lookup while their combinations are few
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


def _one_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one array: its only chunk as it is (`combine_chunks` would copy it)."""
    if isinstance(column, pa.Array):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _codes(indices: pa.Array, missing: int) -> np.ndarray:
    """Dictionary indices as int32 numbers, `missing` for a missing value; without a copy when
    none is missing and they are int32 already."""
    if indices.null_count:
        indices = pc.fill_null(indices, missing)
    return indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


@dataclass
class _TextGroup:
    """Neighbouring text columns as one lookup: for each combination of their values the XML of
    the cells (shared-string indices, `<c/>` for a missing value), and per row its combination.
    The reason, agent and code of a list of affected rows thus cost one copy per row, not three."""

    codes: np.ndarray  # per row, the index into `cells` (int32)
    cells: pa.Array  # large_string: the cells' XML per combination (the last: all missing)

    @classmethod
    def of(cls, column: pa.ChunkedArray | pa.Array, strings: SharedStrings) -> _TextGroup:
        encoded = _one_array(column)
        if not pa.types.is_dictionary(encoded.type):
            encoded = pc.dictionary_encode(pc.cast(encoded, _TEXT))
        size = len(encoded.dictionary)
        first = strings.add(encoded.dictionary, len(encoded) - encoded.null_count)
        numbers = pc.cast(pa.array(np.arange(first, first + size, dtype=np.int64)), _TEXT)
        shared = _join('<c t="s"><v>', numbers, "</v></c>")
        texts = pc.if_else(pc.is_valid(encoded.dictionary), shared, "<c/>")
        cells = pa.concat_arrays([texts, pa.array(["<c/>"], _TEXT)])
        return cls(_codes(encoded.indices, size), cells)

    def fits(self, other: _TextGroup) -> bool:
        return len(self.cells) * len(other.cells) <= MAX_GROUP_CELLS

    def merged(self, other: _TextGroup) -> _TextGroup:
        """One group for both, every combination of their cells in order."""
        left = np.repeat(np.arange(len(self.cells)), len(other.cells))
        right = np.tile(np.arange(len(other.cells)), len(self.cells))
        cells = _join(self.cells.take(pa.array(left)), other.cells.take(pa.array(right)))
        return _TextGroup(self.codes * np.int32(len(other.cells)) + other.codes, cells)

    def framed(self, before: str, after: str) -> _TextGroup:
        """The group with literal XML folded into each of its cells (one piece fewer to join)."""
        return _TextGroup(self.codes, _join(before, self.cells, after))

    def rows(self, start: int, stop: int) -> pa.Array:
        return self.cells.take(pa.array(self.codes[start:stop]))


@dataclass
class _Numbers:
    """A numeric column: bare digits between literal cell tags when no value is missing, else
    whole cells with `<c/>` for the missing (and the not finite) ones."""

    values: pa.Array

    def rows(self, start: int, stop: int) -> pa.Array:
        text = pc.cast(self.values.slice(start, stop - start), _TEXT)
        if self.values.null_count == 0:
            return text
        return pc.fill_null(_join("<c><v>", text, "</v></c>"), "<c/>")

    def parts(self) -> list[str | _Numbers]:
        return ["<c><v>", self, "</v></c>"] if self.values.null_count == 0 else [self]


def _numbers(column: pa.ChunkedArray) -> _Numbers | None:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    values = _one_array(column)
    if pa.types.is_dictionary(values.type):
        values = pc.cast(values, kind)
    if pa.types.is_floating(kind):  # NaN and infinity are no spreadsheet numbers
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, kind))
    return _Numbers(values)


@dataclass
class _EncodedTable:
    """A long table ready for the sheets: numbers as they are, runs of text columns as groups
    of shared-string cells, and the literal XML between them folded into the groups."""

    parts: list[str | _Numbers | _TextGroup]

    @classmethod
    def of(cls, table: pa.Table, strings: SharedStrings) -> _EncodedTable:
        parts: list[str | _Numbers | _TextGroup] = []
        for column in table.columns:
            numbers = _numbers(column)
            if numbers is not None:
                parts.extend(numbers.parts())
                continue
            group = _TextGroup.of(column, strings)
            if parts and isinstance(parts[-1], _TextGroup) and parts[-1].fits(group):
                parts[-1] = parts[-1].merged(group)
            else:
                parts.append(group)
        return cls(cls._folded(parts))

    @staticmethod
    def _folded(parts: list[str | _Numbers | _TextGroup]) -> list[str | _Numbers | _TextGroup]:
        """The literal XML just before a text group (a number's closing tags) and the row's
        closing tag after a last one folded into the group's cells."""
        parts = list(parts)
        if parts and isinstance(parts[-1], _TextGroup):
            parts[-1] = parts[-1].framed("", "</row>")
        else:
            parts.append("</row>")
        folded: list[str | _Numbers | _TextGroup] = []
        for part in parts:
            if isinstance(part, _TextGroup) and folded and isinstance(folded[-1], str):
                part = part.framed(str(folded.pop()), "")
            folded.append(part)
        return folded

    def rows_xml(self, start: int, stop: int, first_row: int) -> memoryview:
        """The `<row>` elements of rows [start, stop), numbered from `first_row` (1-based)."""
        numbers = pa.array(np.arange(first_row, first_row + stop - start, dtype=np.int64))
        pieces: list[str | pa.Array] = ['<row r="', pc.cast(numbers, _TEXT), '">']
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                pieces.append(part.rows(start, stop))
        return _bytes_of(_join(*_merged_literals(pieces)))

    def row_chunks(self, start: int, stop: int, first_row: int) -> Iterator[Callable[[], memoryview]]:
        """Jobs that build the rows' XML piece by piece (run by the deflate workers)."""
        for at in range(start, stop, CHUNK_ROWS):
            end = min(at + CHUNK_ROWS, stop)
            yield partial(self.rows_xml, at, end, first_row + at - start)


def _merged_literals(pieces: list[str | pa.Array]) -> list[str | pa.Array]:
    merged: list[str | pa.Array] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


Piece = bytes | memoryview | Callable[[], bytes | memoryview]  # literal XML, or a job that builds it


def _deflated(data: bytes | memoryview) -> bytes:
    """`data` as a raw deflate stream ended by a sync flush: such pieces concatenated (closed by
    one final empty block) are one valid deflate stream, as pigz does."""
    engine = isal_zlib.compressobj(DEFLATE_LEVEL, isal_zlib.DEFLATED, -15)
    return engine.compress(data) + engine.flush(isal_zlib.Z_SYNC_FLUSH)


def _built(piece: Piece, deflate: bool) -> tuple[bytes | memoryview, bytes]:
    """A piece's XML and, when asked, its deflated bytes: run in a worker thread, so the XML of
    several pieces is built (Arrow releases the GIL) and deflated at once."""
    data = piece() if callable(piece) else piece
    return data, _deflated(data) if deflate else b""


def _in_order(
    pieces: Iterator[Piece], pool: ThreadPoolExecutor, deflate: bool
) -> Iterator[tuple[bytes | memoryview, bytes]]:
    """`_built` of each piece, in order, a few pieces ahead in `pool` (so memory stays flat)."""
    pending: deque[Future[tuple[bytes | memoryview, bytes]]] = deque()
    for piece in pieces:
        pending.append(pool.submit(_built, piece, deflate))
        while len(pending) > 2 * DEFLATE_THREADS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _Predeflated:
    """A stand-in for zlib's compressor inside zipfile's member writer that hands back the
    piece deflated in a worker: zipfile still computes the CRC and the sizes from the XML."""

    def __init__(self) -> None:
        self.ready = b""

    def compress(self, data: bytes | memoryview) -> bytes:
        ready, self.ready = self.ready, b""
        return ready

    def flush(self) -> bytes:
        return zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def _write_member(
    target: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    pieces: Iterator[Piece],
    pool: ThreadPoolExecutor,
) -> None:
    """Stream `pieces` into the member `info`, each built and deflated in `pool`. zipfile
    computes the CRC and the sizes; only its compressor is swapped (when its writer still has
    one to swap; else zipfile deflates)."""
    member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    member.compress_type = zipfile.ZIP_DEFLATED
    with target.open(member, "w", force_zip64=True) as fh:
        swapped = getattr(fh, "_compressor", None) is not None
        compressor = _Predeflated()
        if swapped:
            fh._compressor = compressor  # type: ignore[attr-defined]
        for data, deflated in _in_order(pieces, pool, swapped):
            compressor.ready = deflated
            fh.write(data)


def _dimension(xml: str, last_row: int) -> str:
    """The sheet's `<dimension>` widened to the rows spliced in (same last column)."""
    found = re.search(r'<dimension ref="(?:[A-Z]+1:)?([A-Z]+)1"/>', xml)
    last_column = found.group(1) if found else "A"
    return f'<dimension ref="A1:{last_column}{last_row}"/>'


def _sheet_pieces(xml: str, table: _EncodedTable, start: int, stop: int) -> Iterator[Piece]:
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
