"""Reading awkward real-world inputs: encodings, delimiters, Excel sheets, ragged rows, and
files that are not tables at all (each refused with its stable error code)."""

from __future__ import annotations

import codecs
import os
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from core.errors import FileReadError
from core.loading import cell_text, detect_delimiter, load_table, unique_column_names

PEOPLE = "name,city\nJosé,Zürich\nRenée,Besançon\nØrjan,Tromsø\n"
PEOPLE_ROWS = [["José", "Zürich"], ["Renée", "Besançon"], ["Ørjan", "Tromsø"]]


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def load(path: Path, **options: object):
    return load_table(path, "primary", path.name, **options)  # type: ignore[arg-type]


def rows(table) -> list[list[str]]:
    return table.frame.values.tolist()


def error_code(path: Path, **options: object) -> str:
    with pytest.raises(FileReadError) as caught:
        load(path, **options)
    assert caught.value.message  # a sentence for the user, never empty
    return caught.value.code


# ---- encodings ------------------------------------------------------------------------------
def test_latin1_file_reads_accents(tmp_path: Path) -> None:
    table = load(write(tmp_path, "people.csv", PEOPLE, "latin-1"))
    assert rows(table) == PEOPLE_ROWS
    assert table.encoding in {"cp1252", "latin-1"}
    assert table.format == "csv"


def test_latin1_bytes_late_in_a_large_ascii_file(tmp_path: Path) -> None:
    """The first non-ASCII byte is far beyond the first sample: UTF-8 must still be rejected."""
    text = "code,label\n" + "A1,plain\n" * 40_000 + "Z9,Zoë\n"
    table = load(write(tmp_path, "late.csv", text, "latin-1"))
    assert table.encoding in {"cp1252", "latin-1"}
    assert rows(table)[-1] == ["Z9", "Zoë"]
    assert len(table.frame) == 40_001


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom(tmp_path: Path, encoding: str) -> None:
    bom = {"utf-16": b"", "utf-16-be": codecs.BOM_UTF16_BE, "utf-32": b""}[encoding]
    table = load(write(tmp_path, "people.csv", bom + PEOPLE.encode(encoding)))
    assert rows(table) == PEOPLE_ROWS
    assert list(table.frame.columns) == ["name", "city"]


def test_utf16_without_bom_is_recognised_by_its_nul_bytes(tmp_path: Path) -> None:
    table = load(write(tmp_path, "people.csv", PEOPLE, "utf-16-le"))
    assert table.encoding == "utf-16-le"
    assert rows(table) == PEOPLE_ROWS


def test_utf8_bom_does_not_leak_into_the_first_header(tmp_path: Path) -> None:
    table = load(write(tmp_path, "people.csv", PEOPLE, "utf-8-sig"))
    assert list(table.frame.columns) == ["name", "city"]
    assert table.encoding == "utf-8-sig"


def test_cyrillic_cp1251_is_not_read_as_western(tmp_path: Path) -> None:
    text = "имя,город\n" + "Иван,Москва\nПётр,Санкт-Петербург\nОльга,Новосибирск\n" * 5
    table = load(write(tmp_path, "ru.csv", text, "cp1251"))
    assert rows(table)[0] == ["Иван", "Москва"]


def test_encoding_argument_overrides_detection(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", PEOPLE, "latin-1")
    table = load(path, encoding="latin-1")
    assert table.encoding == "latin-1"
    assert rows(table) == PEOPLE_ROWS


def test_wrong_encoding_argument_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", PEOPLE, "latin-1")
    assert error_code(path, encoding="utf-8") == "ENCODING_ERROR"
    assert error_code(path, encoding="klingon") == "ENCODING_ERROR"


# ---- delimiters and quoting -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semi.csv"), ("\t", "tabs.tsv"), ("|", "pipes.csv"), (",", "plain.csv")]
)
def test_delimiter_is_detected(tmp_path: Path, delimiter: str, name: str) -> None:
    records = [["id", "amount", "note"], ["1", "2.5", "a, b" if delimiter != "," else "a"], ["2", "3", "c"]]
    text = "\n".join(delimiter.join(r) for r in records)
    table = load(write(tmp_path, name, text + "\n"))
    assert table.delimiter == delimiter
    assert list(table.frame.columns) == ["id", "amount", "note"]
    assert len(table.frame) == 2


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    table = load(write(tmp_path, "eu.csv", "name;price\nfoo;1,5\nbar;2,25\nbaz;3\n"))
    assert table.delimiter == ";"
    assert rows(table) == [["foo", "1,5"], ["bar", "2,25"], ["baz", "3"]]


def test_delimiter_argument_overrides_detection(tmp_path: Path) -> None:
    table = load(write(tmp_path, "semi.csv", "a;b\n1;2\n"), delimiter=",")
    assert table.delimiter == ","
    assert list(table.frame.columns) == ["a;b"]


def test_detect_delimiter_is_deterministic_for_one_column() -> None:
    assert detect_delimiter("name\nalice\nbob\n") == ","


def test_quoted_fields_with_embedded_newlines_and_delimiters(tmp_path: Path) -> None:
    text = 'id,comment,score\n1,"first line\nsecond line",5\n2,"a, b and ""c""",7\n3,,\n'
    table = load(write(tmp_path, "quoted.csv", text))
    assert rows(table) == [
        ["1", "first line\nsecond line", "5"],
        ["2", 'a, b and "c"', "7"],
        ["3", "", ""],
    ]
    assert table.malformed_rows == []


def test_values_stay_text_exactly_as_written(tmp_path: Path) -> None:
    table = load(write(tmp_path, "codes.csv", "zip,amount,flag,missing\n02134,1.50,TRUE,NA\n"))
    assert rows(table) == [["02134", "1.50", "TRUE", "NA"]]
    assert all(str(dtype) == "str" for dtype in table.frame.dtypes)


def test_csv_named_txt_reads(tmp_path: Path) -> None:
    table = load(write(tmp_path, "export.txt", "a\tb\n1\t2\n"))
    assert table.format == "csv"
    assert rows(table) == [["1", "2"]]


# ---- ragged rows and headers ----------------------------------------------------------------
def test_ragged_rows_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    text = 'a,b,c\n1,2,3\n4,5\n"multi\nline",7,8\n9,10,11,12\n\n13,14,15\n'
    table = load(write(tmp_path, "ragged.csv", text))
    assert rows(table) == [["1", "2", "3"], ["multi\nline", "7", "8"], ["13", "14", "15"]]
    assert table.malformed_rows == [
        {"line": 3, "expected_fields": 3, "actual_fields": 2, "text": "4,5"},
        {"line": 6, "expected_fields": 3, "actual_fields": 4, "text": "9,10,11,12"},
    ]


def test_windows_line_endings(tmp_path: Path) -> None:
    table = load(write(tmp_path, "crlf.csv", 'a,b\r\n1,"x\r\ny"\r\n2,3,4\r\n5,6\r\n'))
    assert rows(table) == [["1", "x\r\ny"], ["5", "6"]]
    assert [r["line"] for r in table.malformed_rows] == [4]


def test_a_field_bigger_than_a_parse_block(tmp_path: Path) -> None:
    """A 6 MB quoted field spanning 6,000 lines: pyarrow's block is enlarged, the csv module's
    128 kB field limit is lifted for the line scan, and later line numbers stay right."""
    big = ("x" * 999 + "\n") * 6_000
    table = load(write(tmp_path, "big_field.csv", f'a,b\n"{big}",1\n2,3,4\n5,6\n'))
    assert len(table.frame) == 2 and len(table.frame.iloc[0, 0]) == len(big)
    assert [r["line"] for r in table.malformed_rows] == [6_003]


def test_malformed_row_text_is_truncated(tmp_path: Path) -> None:
    long_row = ",".join(["x" * 50] * 10)
    table = load(write(tmp_path, "long.csv", f"a,b\n1,2\n{long_row}\n"))
    [bad] = table.malformed_rows
    assert bad["line"] == 3 and bad["actual_fields"] == 10
    assert len(bad["text"]) == 200


def test_duplicate_and_empty_headers_become_unique(tmp_path: Path) -> None:
    table = load(write(tmp_path, "dup.csv", "name,,name,Name, ,name_2\n1,2,3,4,5,6\n"))
    assert list(table.frame.columns) == ["name", "column_2", "name_3", "Name_4", "column_5", "name_2"]
    assert rows(table) == [["1", "2", "3", "4", "5", "6"]]


def test_unique_column_names_keeps_every_column() -> None:
    assert unique_column_names(["a", "a", "a", None, ""]) == ["a", "a_2", "a_3", "column_4", "column_5"]


# ---- XLSX -----------------------------------------------------------------------------------
def _workbook(path: Path) -> Path:
    workbook = Workbook()
    people = workbook.active
    people.title = "People"
    people.append(["name", "age", "joined", "ratio", "active", None, "name"])
    people.append(["Ann", 30, datetime(2024, 1, 5), 0.1 + 0.2, True, None, "x"])
    people.append(["Bob", 41.0, datetime(2024, 1, 5, 13, 30), 1e-7, False, None, None])
    people.append([None] * 7)  # trailing empty rows are dropped
    people.append([None] * 3)
    orders = workbook.create_sheet("Orders")
    orders.append(["order", "total"])
    orders.append(["A-1", 12.5])
    workbook.create_sheet("Empty")
    workbook.save(path)
    return path


def test_xlsx_first_sheet_by_default(tmp_path: Path) -> None:
    table = load(_workbook(tmp_path / "book.xlsx"))
    assert table.format == "xlsx" and table.sheet == "People"
    assert list(table.frame.columns) == ["name", "age", "joined", "ratio", "active", "column_6", "name_2"]
    assert rows(table) == [
        ["Ann", "30", "2024-01-05", "0.3", "TRUE", "", "x"],
        ["Bob", "41", "2024-01-05 13:30:00", "1e-07", "FALSE", "", ""],
    ]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    table = load(_workbook(tmp_path / "book.xlsx"), sheet="Orders")
    assert table.sheet == "Orders"
    assert rows(table) == [["A-1", "12.5"]]


def test_xlsx_unknown_sheet_names_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(FileReadError) as caught:
        load(_workbook(tmp_path / "book.xlsx"), sheet="Nope")
    assert caught.value.code == "SHEET_NOT_FOUND"
    assert "People, Orders, Empty" in caught.value.message


def test_xlsx_empty_sheet_has_no_data_rows(tmp_path: Path) -> None:
    assert error_code(_workbook(tmp_path / "book.xlsx"), sheet="Empty") == "NO_DATA_ROWS"


def test_xlsx_detected_by_content_whatever_its_name(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "book.xlsx").rename(tmp_path / "book.csv")
    assert load(path).format == "xlsx"


def test_xlsx_that_is_really_csv_reads_as_csv(tmp_path: Path) -> None:
    table = load(write(tmp_path, "fake.xlsx", "a;b\n1;2\n"))
    assert table.format == "csv" and table.delimiter == ";"
    assert rows(table) == [["1", "2"]]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "TRUE"),
        (7, "7"),
        (7.0, "7"),
        (0.1 + 0.2, "0.3"),
        (1234.5678, "1234.5678"),
        (datetime(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 2, 29, 8, 5, 3), "2024-02-29 08:05:03"),
        ("  kept  ", "  kept  "),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


# ---- refused files --------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"  \n\n\t \r\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    assert error_code(write(tmp_path, "empty.csv", content)) == "EMPTY_FILE"


def test_header_only(tmp_path: Path) -> None:
    assert error_code(write(tmp_path, "header.csv", "a,b,c\n")) == "NO_DATA_ROWS"


def test_binary_garbage_named_csv(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 20 + os.urandom(4096)
    assert error_code(write(tmp_path, "data.csv", garbage)) == "NOT_A_TABLE"


def test_png_named_csv(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(32)) * 50
    assert error_code(write(tmp_path, "image.csv", png)) == "NOT_A_TABLE"


def test_over_max_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "a,b\n" + "1,2\n" * 100)
    assert error_code(path, max_bytes=100) == "FILE_TOO_LARGE"
    assert len(load(path, max_bytes=10_000).frame) == 100


def test_legacy_xls_is_unsupported(tmp_path: Path) -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert error_code(write(tmp_path, "old.xlsx", ole2)) == "UNSUPPORTED_FORMAT"


def test_zip_that_is_not_a_workbook_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    assert error_code(path) == "UNSUPPORTED_FORMAT"


def test_data_rows_ending_with_a_delimiter_the_header_lacks(tmp_path: Path) -> None:
    """Spreadsheet exports often end every data row with a delimiter: the empty field is dropped."""
    path = tmp_path / "export.csv"
    rows = "".join(f"{n},Name{n},0{n:03d},\n" for n in range(1, 13))
    path.write_text("id,name,zip\n" + rows + "13,Dee,\n", encoding="utf-8")
    table = load_table(path, "primary", "export.csv")
    assert list(table.frame.columns) == ["id", "name", "zip"]
    assert table.frame["zip"].tolist()[:3] == ["0001", "0002", "0003"]  # text kept, leading zeros too
    assert len(table.frame) == 12
    assert [r["line"] for r in table.malformed_rows] == [14]  # "13,Dee," has too few fields
    assert table.malformed_rows[0]["expected_fields"] == 4


def test_a_trailing_field_that_holds_values_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("a,b\n1,2,\n3,4,\n5,6,x\n7,8,\n9,10,\n11,12,\n13,14,\n15,16,\n17,18,\n19,20,\n21,22,\n")
    table = load_table(path, "primary", "export.csv")
    assert table.frame.shape == (11, 3)
    assert table.frame.iloc[2, 2] == "x" and table.frame.columns[2] == "column_3"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"<!DOCTYPE html>\n<html><body><table><tr><td>1</td></tr></table></body></html>\n", "web page"),
        (b"  <html lang='en'>\n<head></head>\n", "web page"),
        (b'<?xml version="1.0"?>\n<rows><row a="1"/></rows>\n', "XML document"),
        (b'{\n  "rows": [{"a": 1}]\n}\n', "JSON document"),
        (b'[{"a": 1}, {"a": 2}]\n', "JSON document"),
    ],
)
def test_documents_that_are_not_tables_are_refused(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(FileReadError) as error:
        load_table(path, "primary", "export.csv")
    assert error.value.code == "NOT_A_TABLE" and kind in error.value.message


def test_a_table_whose_header_starts_with_a_bracket_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"[id],name\n1,Ada\n2,Grace\n")
    assert list(load_table(path, "primary", "t.csv").frame.columns) == ["[id]", "name"]


def test_a_quote_that_never_closes_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b'"name,city\nAda,Oslo\nGrace,Lima\n')
    with pytest.raises(FileReadError) as error:
        load_table(path, "primary", "q.csv")
    assert error.value.code == "UNCLOSED_QUOTE" and "never closed" in error.value.message


def test_a_workbook_that_would_expand_enormously_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    """A ZIP bomb: a small workbook whose sheet would decompress to more than a gigabyte."""
    from core import loading

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b"<row/>" * 100_000
            for _ in range(loading.MAX_XLSX_EXPANDED_BYTES // len(block) + 1):
                sheet.write(block)
    assert path.stat().st_size < 10_000_000
    with pytest.raises(FileReadError) as error:
        load_table(path, "primary", "bomb.xlsx")
    assert error.value.code == "FILE_TOO_LARGE" and "expand" in error.value.message


def test_quoted_line_breaks_are_kept_and_files_without_quotes_read_the_same(tmp_path: Path) -> None:
    """Only a quoted field can hold a line break; a file without any quote is read the faster
    way, and both must give the same cells."""
    quoted = load(write(tmp_path, "quoted.csv", 'id,note\n1,"two\nlines"\n2,plain\n'))
    assert rows(quoted) == [["1", "two\nlines"], ["2", "plain"]]
    bare = load(write(tmp_path, "bare.csv", "id,note\n1,one line\n2,plain\n"))
    assert rows(bare) == [["1", "one line"], ["2", "plain"]]
    assert bare.frame["note"].dtype == "str"


def test_a_stray_byte_in_a_utf8_file_read_natively_is_an_encoding_error(tmp_path: Path) -> None:
    """UTF-8 is parsed natively (no Python decoder in between); an invalid byte late in the
    file must still be refused with the encoding code, not read as garbage."""
    path = tmp_path / "late.csv"
    path.write_bytes(("code,label\n" + "A1,plain\n" * 50_000).encode() + b"Z9,\xff\xfe\n")
    assert error_code(path, encoding="utf-8") == "ENCODING_ERROR"
