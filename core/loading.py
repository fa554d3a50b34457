"""Reading one input file into a `LoadedTable` of text cells.

Users upload whatever their tools exported: CSV in Latin-1 or UTF-16, semicolon files from
European Excel, XLSX files renamed `.csv`, CSVs named `.txt`, ragged rows. So the format is
decided from the bytes, never from the file name, and every cell is kept as the text the file
holds: deciding what a value *means* is the agents' job, and a premature conversion (`007` to
`7`, `1/2/2024` to a date in the wrong order) would destroy evidence they need.

CSV is parsed by pyarrow, which reads a million rows in well under a second; the slow,
line-by-line Python pass only runs when pyarrow reports malformed rows, to give each one its
line number in the file (pyarrow cannot when quoted fields may hold newlines).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import mmap
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.agents.base import LoadedTable
from core.errors import FileReadError

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
STREAM_CHUNK = 1024 * 1024
DELIMITER_SAMPLE_RECORDS = 50
MALFORMED_TEXT_LIMIT = 200
MAX_MALFORMED_KEPT = 10_000
CSV_BLOCK_SIZE = 4 * 1024 * 1024
MAX_CSV_BLOCK_SIZE = 512 * 1024 * 1024

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
GZIP_MAGIC = b"\x1f\x8b"

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_WORD = re.compile(r"[^\W\d_]+")  # runs of letters

# C0 control characters that never occur in a text table (tab, newlines, form feed and the
# old DOS end-of-file mark are allowed).
_CONTROL_BYTES = bytes(sorted((set(range(0x00, 0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1A}) | {0x7F}))
_CONTROL_CHARS = frozenset(chr(b) for b in _CONTROL_BYTES) | {"\ufffd"}
MAX_CONTROL_SHARE = 0.01


# ---- public entry point ---------------------------------------------------------------------
def load_table(
    path: Path,
    file_key: str,
    filename: str,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    max_bytes: int | None = None,
) -> LoadedTable:
    """Read `path` as a table of text cells, or raise `FileReadError` with a stable code.

    `delimiter` and `encoding` override detection (CSV only); `sheet` picks an Excel sheet
    (the first one when None). The file name is only used in messages.
    """
    path = Path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise FileReadError(
            f"{filename} is {_size_text(size)}, more than the {_size_text(max_bytes)} allowed. "
            "Split it or remove columns you do not need.",
            code="FILE_TOO_LARGE",
            size_bytes=size,
            max_bytes=max_bytes,
        )
    if size == 0:
        raise _empty(filename)
    if detect_format(path, filename) == "xlsx":
        frame, sheet_name = read_xlsx(path, filename, sheet)
        return LoadedTable(file_key, filename, frame, "xlsx", size, sheet=sheet_name)
    enc = encoding or detect_encoding(path, filename)
    if encoding is not None:
        _check_encoding(path, encoding, filename)
    if _is_blank(path, enc):
        raise _empty(filename)
    _reject_binary(path, enc, filename)
    sample = decoded_sample(path, enc)
    _reject_documents(sample, filename)
    sep = delimiter or detect_delimiter(sample)
    frame, malformed = read_csv(path, filename, enc, sep, sample)
    return LoadedTable(
        file_key, filename, frame, "csv", size, encoding=enc, delimiter=sep, malformed_rows=malformed
    )


def _size_text(size: int) -> str:
    if size < 100_000:
        return f"{size:,} bytes"
    return f"{size / 1_000_000:,.1f} MB"


def _empty(filename: str) -> FileReadError:
    return FileReadError(f"{filename} is empty: there is nothing to analyse.", code="EMPTY_FILE")


def _no_rows(filename: str, extra: str = "") -> FileReadError:
    return FileReadError(
        f"{filename} has a header row but no data rows.{extra}",
        code="NO_DATA_ROWS",
    )


def _not_a_table(filename: str) -> FileReadError:
    return FileReadError(
        f"{filename} does not look like a table: it holds binary data, not text. "
        "Upload a CSV or an Excel (.xlsx) file.",
        code="NOT_A_TABLE",
    )


# ---- format ---------------------------------------------------------------------------------
def detect_format(path: Path, filename: str = "") -> str:
    """'xlsx' or 'csv', decided from the first bytes because names lie: Excel exports get
    renamed, and a `.xlsx` that is really CSV must still read."""
    name = filename or path.name
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(OLE2_MAGIC[:4]):
        raise FileReadError(
            f"{name} is a legacy .xls or a password-protected workbook: save it as .xlsx or CSV "
            "(without a password) and upload it again.",
            code="UNSUPPORTED_FORMAT",
        )
    if head.startswith(GZIP_MAGIC):
        raise FileReadError(
            f"{name} is a compressed (gzip) file: decompress it and upload the CSV inside.",
            code="UNSUPPORTED_FORMAT",
        )
    if head.startswith(ZIP_MAGIC):
        return _zip_kind(path, name)
    return "csv"


def _zip_kind(path: Path, name: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise FileReadError(
            f"{name} looks like an Excel workbook or ZIP archive but is damaged; save it again and "
            "re-upload it.",
            code="FILE_UNREADABLE",
        ) from None
    if "xl/workbook.xml" in members:
        _refuse_zip_bomb(path, name)
        return "xlsx"
    if "xl/workbook.bin" in members:
        message = f"{name} is a binary Excel workbook (.xlsb): save it as .xlsx or CSV."
    elif "content.xml" in members:
        message = f"{name} is an OpenDocument spreadsheet: save it as .xlsx or CSV."
    else:
        message = f"{name} is a ZIP archive, not a table: unzip it and upload the CSV or XLSX inside."
    raise FileReadError(message, code="UNSUPPORTED_FORMAT")


MAX_XLSX_EXPANDED_BYTES = 1024**3  # a workbook's parts together, once decompressed
MAX_XLSX_RATIO = 100  # decompressed / compressed, beyond which a large workbook is a bomb
XLSX_RATIO_CHECKED_FROM = 100 * 1024**2


def _refuse_zip_bomb(path: Path, name: str) -> None:
    """Refuse a workbook that would expand far beyond its size when opened (a ZIP bomb): the
    reader would fill the memory of the worker long before it found the end of the sheet.

    The sizes are the ones the archive declares; the zip reader never returns more bytes than
    declared, so they bound what reading can cost."""
    with zipfile.ZipFile(path) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    compressed = max(path.stat().st_size, 1)
    if expanded > MAX_XLSX_EXPANDED_BYTES or (
        expanded > XLSX_RATIO_CHECKED_FROM and expanded / compressed > MAX_XLSX_RATIO
    ):
        raise FileReadError(
            f"{name} would expand to {_size_text(expanded)} when opened, far more than its "
            f"{_size_text(compressed)} suggest, so it cannot be read safely. Save it as a CSV file "
            "and upload that instead.",
            code="FILE_TOO_LARGE",
            expanded_bytes=expanded,
        )


# ---- encoding -------------------------------------------------------------------------------
def detect_encoding(path: Path, filename: str = "") -> str:
    """The text encoding, most reliable evidence first.

    A BOM is certain. UTF-16 without a BOM is recognised by its NUL bytes before the UTF-8
    check, because ASCII text in UTF-16 is also valid UTF-8. UTF-8 is accepted only when the
    whole file decodes (streamed, so a 1 GB file costs one pass, not 1 GB of memory): a
    Latin-1 file is often pure ASCII for its first thousand rows. Anything else is a legacy
    8-bit encoding, guessed by charset-normalizer around the first bytes that are not UTF-8
    and confirmed on the whole file, with Latin-1 (which decodes anything) as the last resort.
    """
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    utf16 = _utf16_by_nul_pattern(head)
    if utf16:
        return utf16
    if _binary_bytes(head):
        raise _not_a_table(filename or path.name)
    bad_offset = _first_invalid_utf8_offset(path)
    if bad_offset is None:
        return "utf-8"
    sample = head
    if bad_offset >= SAMPLE_BYTES:
        with path.open("rb") as handle:
            handle.seek(max(bad_offset - SAMPLE_BYTES // 2, 0))
            sample = head + b"\n" + handle.read(SAMPLE_BYTES)
    for candidate in (_legacy_encoding(sample), "cp1252"):
        if candidate and _decodes_whole_file(path, candidate):
            return candidate
    return "latin-1"


def _utf16_by_nul_pattern(head: bytes) -> str | None:
    """UTF-16 without BOM: mostly-ASCII text puts a NUL in every other byte."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 4:
        return None
    even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nuls >= 0.4 and even_nuls <= 0.05:
        return "utf-16-le"
    if even_nuls >= 0.4 and odd_nuls <= 0.05:
        return "utf-16-be"
    return None


def _first_invalid_utf8_offset(path: Path) -> int | None:
    """The byte offset where UTF-8 decoding fails, or None when the whole file is UTF-8."""
    if _is_utf8(path):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(STREAM_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _is_utf8(path: Path) -> bool:
    """Whether the whole file is valid UTF-8, checked by Arrow's validator over the mapped
    file: the same verdict as Python's strict UTF-8 decoder (no surrogates, no overlong forms,
    nothing past U+10FFFF) in half the time, and without decoding into text that is thrown
    away. False also when the file cannot be mapped: the decoder then has the last word."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return True
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _utf8_buffer_is_valid(data, size)
    except (OSError, ValueError):
        return False


def _utf8_buffer_is_valid(data: mmap.mmap, size: int) -> bool:
    """`data` as one Arrow text value, validated. (A function of its own so that every Arrow
    view of the mapping is gone before the mapping is closed.)"""
    offsets = pa.array([0, size], pa.int64()).buffers()[1]
    value = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        value.view(pa.large_string()).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _decodes_whole_file(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(STREAM_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _legacy_encoding(sample: bytes) -> str | None:
    """Windows-1252 when the sample reads as Western text in it, else charset-normalizer's
    best ASCII-compatible guess.

    cp1252 is what Excel writes on Western systems and by far the most common legacy encoding
    in business CSVs; on short samples charset-normalizer often prefers a look-alike code page
    (cp775, mac_latin2) that turns "Müller" into "M³ller", so it is only asked when cp1252
    gives implausible text (Cyrillic or Greek bytes read as cp1252 give words made only of
    accented letters).
    """
    try:
        if _plausible_western(sample.decode("cp1252")):
            return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    for match in from_bytes(sample):
        if _ascii_compatible(match.encoding):
            return match.encoding
    return None


def _plausible_western(text: str) -> bool:
    """Accented letters sprinkled in mostly-ASCII words, as in French, German or Spanish."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    if not words:
        return True
    accented = sum(sum(1 for ch in w if not ch.isascii()) for w in words)
    letters = sum(len(w) for w in words)
    return accented / letters <= 0.5


def _ascii_compatible(encoding: str) -> bool:
    """Delimiters and digits must mean the same bytes (rules out UTF-16 and EBCDIC guesses)."""
    probe = "a,b;c\t1|2\n"
    try:
        return probe.encode(encoding) == probe.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def _check_encoding(path: Path, encoding: str, filename: str) -> None:
    """A chosen encoding must decode the whole file: a wrong choice is reported, not guessed around."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FileReadError(
            f"'{encoding}' is not a text encoding we know; choose 'auto' to detect the encoding of "
            f"{filename}.",
            code="ENCODING_ERROR",
        ) from None
    if not _decodes_whole_file(path, encoding):
        raise _wrong_encoding(filename, encoding)


def _wrong_encoding(filename: str, encoding: str) -> FileReadError:
    return FileReadError(
        f"{filename} is not written in the '{encoding}' text encoding; choose 'auto' to detect it.",
        code="ENCODING_ERROR",
    )


def _decoded_chunks(path: Path, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as handle:
        while chunk := handle.read(STREAM_CHUNK):
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def _is_blank(path: Path, encoding: str) -> bool:
    """Whitespace only; stops at the first visible character, so real files cost one chunk."""
    return all(not chunk.strip("\ufeff \t\r\n\x0c\x0b") for chunk in _decoded_chunks(path, encoding))


def _reject_binary(path: Path, encoding: str, filename: str) -> None:
    """Refuse binary files before parsing: a PNG renamed `.csv` must not become a table of noise.

    For ASCII-compatible encodings the raw bytes are checked (control bytes never appear in
    text tables, whatever the code page); for UTF-16/32 the decoded text is.
    """
    if _ascii_compatible(encoding):
        with path.open("rb") as handle:
            binary = _binary_bytes(handle.read(SAMPLE_BYTES))
    else:
        text = decoded_sample(path, encoding)
        bad = sum(1 for ch in text if ch in _CONTROL_CHARS)
        binary = bool(text) and bad / len(text) > MAX_CONTROL_SHARE
    if binary:
        raise _not_a_table(filename)


# Text files that are documents, not tables: a web page saved instead of the export behind it,
# or an API's JSON answer. Read as CSV they would "work" and profile nonsense.
_HTML_START = re.compile(r"^\s*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<\?xml\s)", re.IGNORECASE)
_JSON_START = re.compile(r'^\s*(\{\s*("|\}|$)|\[\s*(\{|\[|"|\]|$))')


def _reject_documents(sample: str, filename: str) -> None:
    text = sample.lstrip("\ufeff")
    if _HTML_START.match(text):
        kind = "an XML document" if text.lstrip().startswith("<?xml") else "a web page (HTML)"
    elif _JSON_START.match(text):
        kind = "a JSON document"
    else:
        return
    raise FileReadError(
        f"{filename} is {kind}, not a table. Export the data as CSV or Excel (.xlsx) and upload that.",
        code="NOT_A_TABLE",
    )


def _unclosed_quote(sample: str, delimiter: str) -> bool:
    """True when a quoted field opened in the sample never closes (everything after it would
    read as one value)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _unclosed_quote_error(filename: str) -> FileReadError:
    return FileReadError(
        f"{filename} has a quotation mark near its start that is never closed, so the whole "
        "file reads as one value. Remove or close that quote and upload the file again.",
        code="UNCLOSED_QUOTE",
    )


def _binary_bytes(head: bytes) -> bool:
    """More than 1% control bytes: no text table looks like that, whatever its code page."""
    if not head:
        return False
    bad = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return bad / len(head) > MAX_CONTROL_SHARE


def decoded_sample(path: Path, encoding: str, size: int = SAMPLE_BYTES) -> str:
    """The first `size` bytes as text, cut after the last complete line when there is more."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as handle:
        raw = handle.read(size)
        more = bool(handle.read(1))
    text = decoder.decode(raw, final=not more)
    text = text.removeprefix("\ufeff")
    if more and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


# ---- delimiter ------------------------------------------------------------------------------
def detect_delimiter(sample: str) -> str:
    """The candidate that splits the first records into the most consistent number (> 1) of
    fields, the header agreeing with the usual count; ties go to the order `, ; TAB |`.

    A semicolon file with decimal commas (`1,5`) has consistent semicolon counts and ragged
    comma counts, so it is read as semicolon-delimited. A one-column file gets ','.
    """
    best, best_score = ",", (False, 0.0, 0)
    for candidate in DELIMITERS:
        counts = _field_counts(sample, candidate)
        if not counts:
            continue
        usual = max(set(counts), key=lambda c: (counts.count(c), c))
        if usual < 2:
            continue
        score = (counts[0] == usual, counts.count(usual) / len(counts), usual)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _field_counts(sample: str, delimiter: str) -> list[int]:
    records = _sample_records(sample, delimiter)
    return [len(r) for r in records[:DELIMITER_SAMPLE_RECORDS]]


def _sample_records(sample: str, delimiter: str) -> list[list[str]]:
    """The first non-empty records of the sample (blank lines are not records for pyarrow either)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in reader:
            if record:
                records.append(record)
            if len(records) > DELIMITER_SAMPLE_RECORDS:
                break
    except csv.Error:
        pass
    return records


# ---- CSV ------------------------------------------------------------------------------------
def read_csv(
    path: Path, filename: str, encoding: str, delimiter: str, sample: str | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """All cells as text ("" for empty), plus the malformed lines pyarrow left out."""
    sample = decoded_sample(path, encoding) if sample is None else sample
    records = _sample_records(sample, delimiter)
    header = next(iter(records), [])
    trailing = _trailing_delimiter(records)
    rejected: list[str] = []
    try:
        width = max(len(header), 1) + trailing
        table = _arrow_read(path, filename, encoding, delimiter, width, rejected, header_row=not trailing)
    except FileReadError as error:  # pyarrow calls a file that is one open quote "empty"
        if error.code == "EMPTY_FILE" and _unclosed_quote(sample, delimiter):
            raise _unclosed_quote_error(filename) from None
        raise
    if table.num_rows <= 1 and _unclosed_quote(sample, delimiter):
        raise _unclosed_quote_error(filename)
    if table.num_rows == 0 and not trailing:
        raise _empty(filename)
    if trailing:  # the header came from the sample; the extra, empty last field is dropped
        names = unique_column_names(header)
        body = table.select(range(len(names))) if _last_column_empty(table) else table
        if body.num_columns > len(names):
            names = unique_column_names([*header, ""])
    else:
        names = unique_column_names(table.slice(0, 1).to_pylist()[0].values())
        body = table.slice(1)
    fields = table.num_columns if trailing else len(names)
    malformed = _malformed_lines(path, encoding, delimiter, fields) if rejected else []
    if rejected and len(malformed) != len(rejected):
        log.warning(
            "%s: pyarrow rejected %d rows, the line scan found %d", filename, len(rejected), len(malformed)
        )
    if body.num_rows == 0:
        extra = f" {len(rejected):,} line(s) had the wrong number of fields." if rejected else ""
        raise _no_rows(filename, extra)
    frame = body.to_pandas()
    frame.columns = pd.Index(names, dtype=object)
    return frame, malformed


def _trailing_delimiter(records: list[list[str]]) -> int:
    """1 when the data rows end with a delimiter the header lacks (`a,b` then `1,2,`), else 0.

    Spreadsheet exports often do this; read naively, every data row would look malformed.
    """
    header, rows = (records[0], records[1:]) if records else ([], [])
    if not header or not rows:
        return 0
    extra = sum(1 for r in rows if len(r) == len(header) + 1 and r[-1] == "")
    return 1 if extra >= 0.9 * len(rows) else 0


def _last_column_empty(table: pa.Table) -> bool:
    last = table.column(table.num_columns - 1)
    return pc.all(pc.equal(pc.utf8_length(last), 0)).as_py() in (True, None)


def _arrow_read(
    path: Path,
    filename: str,
    encoding: str,
    delimiter: str,
    n_columns: int,
    rejected: list[str],
    header_row: bool = True,
) -> pa.Table:
    """Every column as string, nothing turned into null; bad rows are skipped and counted.

    Column names are generated (f0, f1, …) and the header is taken from the first row so that
    duplicate or empty names cannot confuse pyarrow. Two retries keep this robust: a row
    longer than a block (a huge quoted field) makes pyarrow ask for bigger blocks, and a
    header wider than the sample (so some columns were not declared as text) is re-read with
    every column declared, so that no value is converted ("007" must stay "007").
    """
    block_size = CSV_BLOCK_SIZE
    while True:
        rejected.clear()
        try:
            table = _arrow_read_once(path, encoding, delimiter, n_columns, block_size, rejected, header_row)
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block_size < MAX_CSV_BLOCK_SIZE:
                block_size *= 4
                continue
            raise _arrow_error(filename, encoding, exc) from None
        except UnicodeDecodeError:
            raise _wrong_encoding(filename, encoding) from None
        if header_row and table.num_columns > n_columns:
            n_columns = table.num_columns
            continue
        return table


def _arrow_read_once(
    path: Path,
    encoding: str,
    delimiter: str,
    n_columns: int,
    block_size: int,
    rejected: list[str],
    header_row: bool = True,
) -> pa.Table:
    def skip(row: Any) -> str:
        rejected.append(row.text)
        return "skip"

    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            # with a header row, names are generated and the header is read as the first row;
            # without one (trailing delimiters), the header line is skipped and names given
            autogenerate_column_names=header_row,
            column_names=None if header_row else [f"f{i}" for i in range(n_columns)],
            skip_rows=0 if header_row else 1,
            encoding=_arrow_encoding(encoding),
            block_size=block_size,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=_has_quotes(path), invalid_row_handler=skip
        ),
        convert_options=pacsv.ConvertOptions(
            # large_string is what pandas' `str` dtype holds: to_pandas then needs no copy
            column_types={f"f{i}": pa.large_string() for i in range(n_columns)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def _arrow_encoding(encoding: str) -> str:
    """pyarrow reads UTF-8 natively only under the name "utf8"; any other name (even "utf-8")
    sends every byte through a Python decoder first, which doubles the read time."""
    return "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding


def _has_quotes(path: Path) -> bool:
    """True when the file holds a quote character anywhere. Only a quoted field can hold a line
    break, and parsing that allows for them cannot split the file as freely, so a file with no
    quote at all (most exports) is read the faster way. One memchr pass over the bytes."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b'"') >= 0


def _arrow_error(filename: str, encoding: str, exc: Exception) -> FileReadError:
    if "Empty CSV file" in str(exc):
        return _empty(filename)
    if "UTF8" in str(exc):
        return _wrong_encoding(filename, encoding)
    log.warning("pyarrow could not parse %s: %s", filename, exc)
    return FileReadError(
        f"{filename} could not be read as a CSV table; check that it is a plain CSV export.",
        code="FILE_UNREADABLE",
    )


def _malformed_lines(path: Path, encoding: str, delimiter: str, expected: int) -> list[dict[str, Any]]:
    """Records whose field count differs from the header's, with their 1-based first line.

    The csv module tracks physical lines through quoted newlines, which pyarrow cannot report
    when values may hold newlines; this pass only runs when pyarrow rejected rows.
    """
    found: list[dict[str, Any]] = []
    with _no_field_size_limit(), path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        lines = _LineRecorder(handle)
        reader = csv.reader(lines, delimiter=delimiter)
        header_seen = False
        start = 1
        for record in _records(reader):
            text = lines.take()
            line = start
            start = reader.line_num + 1
            if not record:
                continue
            if not header_seen:
                header_seen = True
                continue
            if len(record) != expected:
                found.append(
                    {
                        "line": line,
                        "expected_fields": expected,
                        "actual_fields": len(record),
                        "text": text.rstrip("\r\n").removeprefix("\ufeff")[:MALFORMED_TEXT_LIMIT],
                    }
                )
                if len(found) >= MAX_MALFORMED_KEPT:
                    break
    return found


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's records, stopping (not failing) where the csv module gives up, so a
    damaged tail cannot lose the table pyarrow has already read."""
    try:
        yield from reader
    except csv.Error as exc:
        log.warning("line scan stopped at line %s: %s", reader.line_num, exc)


@contextmanager
def _no_field_size_limit() -> Iterator[None]:
    """Lift the csv module's 128 kB field limit for the line scan (pyarrow has already parsed
    every field, so the limit protects nothing here); restored afterwards."""
    previous = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _LineRecorder:
    """Feeds lines to csv.reader and keeps the raw text of the record being read."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._parts: list[str] = []

    def __iter__(self) -> _LineRecorder:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if sum(len(p) for p in self._parts) < MALFORMED_TEXT_LIMIT:
            self._parts.append(line)
        return line

    def take(self) -> str:
        text, self._parts = "".join(self._parts), []
        return text


def unique_column_names(names: Iterable[Any]) -> list[str]:
    """Non-empty, unique names, keeping every column: an empty name becomes `column_<n>`
    (its 1-based position) and a repeated one `name_2`, `name_3`…, skipping names taken."""
    raw = ["" if n is None else str(n).strip().removeprefix("\ufeff").strip() for n in names]
    filled = [name or f"column_{i}" for i, name in enumerate(raw, start=1)]
    taken = {name.casefold() for name in filled}
    seen: set[str] = set()
    result = []
    for name in filled:
        key = name.casefold()
        if key in seen:
            n = 2
            while f"{name}_{n}".casefold() in taken:
                n += 1
            name = f"{name}_{n}"
            key = name.casefold()
            taken.add(key)
        seen.add(key)
        result.append(name)
    return result


# ---- XLSX -----------------------------------------------------------------------------------
def read_xlsx(path: Path, filename: str, sheet: str | None = None) -> tuple[pd.DataFrame, str]:
    """One sheet (the first unless named) as text cells, and the sheet's name."""
    # openpyxl is handed an open file, not the path: given a path it refuses any name not
    # ending in .xlsx, and a workbook renamed .csv must still read.
    with path.open("rb") as handle:
        workbook = _open_workbook(handle, filename)
        try:
            name = _sheet_name(workbook.sheetnames, sheet, filename)
            worksheet = workbook[name]
            if not hasattr(worksheet, "iter_rows"):
                raise FileReadError(
                    f"The sheet '{name}' of {filename} is a chart, not a table.", code="NO_DATA_ROWS"
                )
            rows = _sheet_rows(worksheet.iter_rows(values_only=True))
        finally:
            workbook.close()
    if len(rows) < 2:
        raise FileReadError(
            f"The sheet '{name}' of {filename} has no data rows"
            + (" (it is empty)." if not rows else " under its header."),
            code="NO_DATA_ROWS",
        )
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    frame = pd.DataFrame(rows[1:], columns=pd.Index(unique_column_names(rows[0]), dtype=object), dtype="str")
    return frame, name


def _open_workbook(handle: BinaryIO, filename: str) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        log.info("openpyxl could not open %s: %s", filename, exc)
        raise FileReadError(
            f"{filename} looks like an Excel workbook but could not be opened; save it again as .xlsx.",
            code="FILE_UNREADABLE",
        ) from None


def _sheet_name(names: list[str], wanted: str | None, filename: str) -> str:
    if wanted and wanted not in names:
        raise FileReadError(
            f"{filename} has no sheet named '{wanted}'. Available sheets: {', '.join(names)}.",
            code="SHEET_NOT_FOUND",
            sheet=wanted,
            available_sheets=names,
        )
    if not names:
        raise _no_rows(filename)
    return wanted or names[0]


def _sheet_rows(values: Iterable[tuple[Any, ...]]) -> list[list[str]]:
    """Rows as text, leading and trailing empty rows and trailing empty columns removed."""
    rows: list[list[str]] = []
    last_filled = -1
    for raw in values:
        row = [cell_text(v) for v in raw]
        while row and row[-1] == "":
            row.pop()
        if not row and not rows:
            continue  # blank rows above the header
        rows.append(row)
        if row:
            last_filled = len(rows) - 1
    return rows[: last_filled + 1]


def cell_text(value: Any) -> str:
    """A cell as the text a user sees in Excel, the same every time.

    Whole numbers lose Excel's `.0`; other floats show 15 significant digits (Excel's own
    precision, which hides binary noise such as 0.30000000000000004); a midnight datetime is
    a date.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
