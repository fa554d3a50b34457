"""core.xlsx_bulk's pieces: sheet XML built and deflated in worker threads yet stored in order,
and text columns turned into shared-string cells without copying them."""

from __future__ import annotations

import io
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa

from core import reports, xlsx_bulk
from core.xlsx_bulk import SharedStrings, _codes, _in_order, _TextGroup
from tests.profile_helpers import empty_report


def test_pieces_come_back_in_order_and_deflate_to_one_stream() -> None:
    slow_first = threading.Event()

    def piece(i: int) -> bytes:
        if i == 0:
            slow_first.wait(2)  # the first job finishes last
        if i == 2:
            slow_first.set()
        return f"<row r='{i}'/>".encode() * (i + 1)

    jobs = [lambda i=i: piece(i) for i in range(12)]
    with ThreadPoolExecutor(2) as pool:
        done = list(_in_order(iter([b"<head>", *jobs]), pool, deflate=True))
    expected = [b"<head>", *(piece(i) for i in range(12))]
    assert [bytes(data) for data, _ in done] == expected
    stream = b"".join(d for _, d in done) + zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    assert zlib.decompress(stream, -15) == b"".join(expected)


def test_pieces_are_not_deflated_when_zipfile_deflates_them() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert list(_in_order(iter([b"a", lambda: b"b"]), pool, deflate=False)) == [(b"a", b""), (b"b", b"")]


def test_a_text_group_refers_to_its_shared_strings_and_leaves_missing_cells_empty() -> None:
    strings = SharedStrings('<sst count="3" uniqueCount="3"><si><t>x</t></si></sst>')
    dictionary = pa.array(["a", None, "c&d"], pa.large_string())
    column = pa.DictionaryArray.from_arrays(pa.array([2, None, 0, 1, 2], pa.int32()), dictionary)
    group = _TextGroup.of(pa.chunked_array([column]), strings)
    assert group.cells.to_pylist() == ['<c t="s"><v>3</v></c>', "<c/>", '<c t="s"><v>5</v></c>', "<c/>"]
    assert group.codes.tolist() == [2, 3, 0, 1, 2] and group.codes.dtype == np.int32
    assert strings.added[0].to_pylist() == ["a", None, "c&amp;d"] and strings.cells == 4


def test_codes_are_the_indices_themselves_when_none_is_missing() -> None:
    indices = pa.array(np.arange(5, dtype=np.int32))
    codes = _codes(indices, 9)
    assert codes.tolist() == [0, 1, 2, 3, 4]
    assert np.shares_memory(codes, np.frombuffer(indices.buffers()[1], np.int32))
    assert _codes(pa.array([1, None], pa.int64()), 9).tolist() == [1, 9]


def test_a_sheet_built_in_many_pieces_keeps_every_row_in_place(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reports, "BULK_SHEET_ROWS", 10)
    monkeypatch.setattr(xlsx_bulk, "CHUNK_ROWS", 7)
    original = xlsx_bulk._EncodedTable.rows_xml

    def uneven(self, start: int, stop: int, first_row: int):  # type: ignore[no-untyped-def]
        time.sleep(0.002 * (start % 3))  # pieces finish out of order
        return original(self, start, stop, first_row)

    monkeypatch.setattr(xlsx_bulk._EncodedTable, "rows_xml", uneven)
    n = 200
    frame = pd.DataFrame({"row": pa.array(range(1, n + 1)), "value": [f"v{i % 13}" for i in range(n)]})
    data = reports.report_xlsx_bytes(empty_report(), {"long.csv": frame})
    rows = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True)["long"].iter_rows(values_only=True))
    assert rows[1:] == [(i + 1, f"v{i % 13}") for i in range(n)]


