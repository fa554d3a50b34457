"""Write the corpus of bad input files that the reliability tests feed to every tool.

    python scripts/make_bad_files.py            # the small files, into tests/data/bad/
    python scripts/make_bad_files.py --large    # also the large ones, into tests/data/generated/bad/

The small files are committed, so a reader can open each one; the large ones (5,000 columns,
a 1 MB line, a ZIP bomb) are made again whenever the tests need them. Every file but the
encrypted workbook (whose salt is random, as Excel's is) is the same byte for byte on every run.

Each entry of `EXPECTED` says what a user must get for that file from profile-my-data:
`completed`, or the stable error code the task fails with.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_DIR = ROOT / "tests" / "data" / "bad"
LARGE_DIR = ROOT / "tests" / "data" / "generated" / "bad"
FIXED_DATE = (2024, 1, 1, 0, 0, 0)  # zip entries carry a time: fixed, so the bytes never change

GOOD_ROWS = "name,city,amount\nAda,Oslo,12.5\nGrace,Lima,7\nLinus,Pune,3\n"

# What profile-my-data must answer for each file: "completed" or the error code it fails with.
EXPECTED: dict[str, str] = {
    "empty.csv": "EMPTY_FILE",
    "blank_lines.csv": "EMPTY_FILE",
    "bom_only.csv": "EMPTY_FILE",
    "header_only.csv": "NO_DATA_ROWS",
    "one_column.csv": "completed",
    "one_row.csv": "completed",
    "only_delimiters.csv": "completed",
    "ragged_rows.csv": "completed",
    "mixed_line_endings.csv": "completed",
    "nul_bytes.csv": "completed",
    "invalid_utf8.csv": "completed",
    "utf16_with_bom.csv": "completed",
    "utf16_without_bom.csv": "completed",
    "latin1.csv": "completed",
    "open_quote_at_start.csv": "UNCLOSED_QUOTE",
    "html_page.csv": "NOT_A_TABLE",
    "json_document.csv": "NOT_A_TABLE",
    "png_image.csv": "NOT_A_TABLE",
    "gzip_archive.csv": "UNSUPPORTED_FORMAT",
    "zip_of_csv.xlsx": "UNSUPPORTED_FORMAT",
    "truncated_workbook.xlsx": "FILE_UNREADABLE",
    "legacy_or_encrypted.xlsx": "UNSUPPORTED_FORMAT",
    "password_protected.xlsx": "UNSUPPORTED_FORMAT",
    "with_macros.xlsx": "completed",
    "first_sheet_empty.xlsx": "NO_DATA_ROWS",
    "formulas.xlsx": "completed",
    "excel_serial_dates.xlsx": "completed",
    "duplicate_column_names.csv": "completed",
    "empty_column_names.csv": "completed",
    "newlines_in_column_names.csv": "completed",
    "html_and_markdown.csv": "completed",
    "formula_injection.csv": "completed",
    "control_characters_in_values.csv": "completed",
    "emoji_and_right_to_left.csv": "completed",
    "very_long_values.csv": "completed",
    # large, generated
    "five_thousand_columns.csv": "completed",
    "one_megabyte_line.csv": "completed",
    "zip_bomb.xlsx": "FILE_TOO_LARGE",
}
LARGE = ("five_thousand_columns.csv", "one_megabyte_line.csv", "zip_bomb.xlsx")


# ---- workbooks ------------------------------------------------------------------------------
def _zip(members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, FIXED_DATE), data, compress_type=compression)
    return buffer.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="{workbook}"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_MACRO_WORKBOOK_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _cell(ref: str, value: object) -> str:
    if isinstance(value, tuple):  # ("=", formula)
        return f'<c r="{ref}"><f>{value[1]}</f></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _sheet_xml(rows: list[list[object]]) -> str:
    body = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{chr(ord('A') + c)}{r}", v) for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}">'
    return f"{head}<sheetData>{body}</sheetData></worksheet>"


def workbook(sheets: list[tuple[str, str]], *, macros: bool = False) -> bytes:
    """A minimal valid .xlsx (or macro-enabled) package from (sheet name, sheet XML) pairs,
    written by hand so the bytes are stable and any part (formulas without cached values, a
    VBA project) can be planted exactly."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_TYPE}"/>'
        for i in range(1, len(sheets) + 1)
    )
    members: dict[str, bytes | str] = {
        "[Content_Types].xml": _CONTENT_TYPES.format(
            workbook=_MACRO_WORKBOOK_TYPE if macros else _WORKBOOK_TYPE, sheets=overrides
        ),
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL_NS}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" '
        f'xmlns:r="{_REL_NS}"><sheets>'
        + "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>' for i, (name, _) in enumerate(sheets, 1)
        )
        + "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
        f'xmlns="{_PKG_REL_NS}">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        + "</Relationships>",
    }
    for i, (_, xml) in enumerate(sheets, start=1):
        members[f"xl/worksheets/sheet{i}.xml"] = xml
    if macros:
        # The VBA project a macro workbook carries (an OLE2 container); it is never executed:
        # the reader takes cell values only.
        members["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    return _zip(members)


def _table_sheet() -> str:
    return _sheet_xml([["name", "amount"], ["Ada", 12.5], ["Grace", 7], ["Linus", 3]])


def _password_protected() -> bytes:
    """A real encrypted workbook, as Excel writes it when a password is set (an OLE2 file)."""
    from msoffcrypto.format.ooxml import OOXMLFile  # a test-only dependency (requirements-dev.txt)

    plain = io.BytesIO(workbook([("Data", _table_sheet())]))
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)
    return encrypted.getvalue()


# ---- the small corpus -----------------------------------------------------------------------
def small_files() -> dict[str, Callable[[], bytes]]:
    """File name -> a function making its bytes."""
    return {
        "empty.csv": lambda: b"",
        "blank_lines.csv": lambda: b"\n\n   \n\t\n",
        "bom_only.csv": lambda: codecs.BOM_UTF8,
        "header_only.csv": lambda: b"name,city,amount\n",
        "one_column.csv": lambda: b"city\nOslo\nLima\nPune\nOslo\n",
        "one_row.csv": lambda: b"name,city\nAda,Oslo\n",
        "only_delimiters.csv": lambda: b",,\n,,\n,,\n",
        "ragged_rows.csv": lambda: b"a,b,c\n1,2,3\n4,5\n6,7,8,9,10\n11,12,13\n",
        "mixed_line_endings.csv": lambda: b"a,b\r\n1,2\n3,4\r5,6\r\n7,8\n",
        "nul_bytes.csv": lambda: b"name,code\n" + b"Ada,A\x001\n" + b"Grace,B2\nLinus,C3\n" * 40,
        "invalid_utf8.csv": lambda: b"name,city\nAda,Z\xfcrich\nGrace,M\xc3\xbcnchen\nLinus,\xff\xfeOslo\n",
        "utf16_with_bom.csv": lambda: GOOD_ROWS.replace("Oslo", "Tromsø").encode("utf-16"),
        "utf16_without_bom.csv": lambda: GOOD_ROWS.replace("Oslo", "Tromsø").encode("utf-16-le"),
        "latin1.csv": lambda: "name,city\nJosé,São Paulo\nRenée,Zürich\nÅse,Tromsø\n".encode("latin-1"),
        "open_quote_at_start.csv": lambda: b'"name,city\nAda,Oslo\nGrace,Lima\n',
        "html_page.csv": lambda: b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
        b"<body><form><input name='user'></form></body></html>\n",
        "json_document.csv": lambda: json.dumps(
            {"rows": [{"name": "Ada", "city": "Oslo"}, {"name": "Grace", "city": "Lima"}]}, indent=2
        ).encode(),
        "png_image.csv": lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        "gzip_archive.csv": lambda: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 64,
        "zip_of_csv.xlsx": lambda: _zip({"data.csv": GOOD_ROWS}),
        "truncated_workbook.xlsx": lambda: workbook([("Data", _table_sheet())])[:300],
        "legacy_or_encrypted.xlsx": lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024,
        "password_protected.xlsx": _password_protected,
        "with_macros.xlsx": lambda: workbook([("Data", _table_sheet())], macros=True),
        "first_sheet_empty.xlsx": lambda: workbook([("Empty", _sheet_xml([])), ("Data", _table_sheet())]),
        "formulas.xlsx": lambda: workbook(
            [("Data", _sheet_xml([["a", "b", "sum"], [1, 2, ("=", "A2+B2")], [3, 4, ("=", "A3+B3")]]))]
        ),
        "excel_serial_dates.xlsx": lambda: workbook(
            [("Data", _sheet_xml([["order", "shipped"], ["A1", 45292], ["A2", 45293], ["A3", 45351]]))]
        ),
        "duplicate_column_names.csv": lambda: b"id,name,name,id\n1,Ada,Lovelace,9\n2,Grace,Hopper,8\n",
        "empty_column_names.csv": lambda: b",name,,city\n1,Ada,x,Oslo\n2,Grace,y,Lima\n",
        "newlines_in_column_names.csv": lambda: b'"first\nname","city\r\nof birth",amount\nAda,Oslo,1\n'
        b"Grace,Lima,2\n",
        "html_and_markdown.csv": lambda: (
            b'"<script>alert(1)</script>","**bold** [link](javascript:alert(1))",'
            b'"<img src=x onerror=alert(1)>"\n'
            b'"<b>Ada</b>","# heading","<iframe src=//evil>"\n'
            b'"Grace","| a | b |","`code`"\n'
        ),
        "formula_injection.csv": lambda: (
            b"name,note,amount\n"
            b"\"=HYPERLINK(\"\"http://evil\"\",\"\"click\"\")\",+cmd|' /C calc'!A0,-2+3\n"
            b"@SUM(1+1),=1+1,=cmd|' /C notepad'!A1\n"
            b"Ada,\t=1+2,10\n"
        ),
        "control_characters_in_values.csv": lambda: b"name,note\n"
        + b"Ada,bell\x07here\nGrace,esc\x1b[31mred\nLinus,back\x08space\n"
        + b"Alan,plain text\n" * 200,
        "emoji_and_right_to_left.csv": lambda: "name,city,note\n😀 Ada,القاهرة,\u202egnp.exe\n"
        "Grace,תל אביב,👍🏽\nLinus,東京,\u200b\n".encode(),
        "very_long_values.csv": lambda: ("name,essay\nAda," + "word " * 20_000 + "\nGrace,short\n").encode(),
    }


# ---- the large corpus -----------------------------------------------------------------------
def _five_thousand_columns() -> bytes:
    header = ",".join(f"c{i}" for i in range(5000))
    rows = [",".join(str((r * 7 + i) % 100) for i in range(5000)) for r in range(20)]
    return ("\n".join([header, *rows]) + "\n").encode()


def _one_megabyte_line() -> bytes:
    return b"name,blob\nAda," + b"x" * (1024 * 1024) + b"\nGrace,short\n"


def _zip_bomb() -> bytes:
    """A workbook of about 1 MB whose one sheet expands to 1 GB of rows when opened."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}"><sheetData>'
    row = '<row><c t="inlineStr"><is><t>bomb</t></is></c></row>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        plain = workbook([("Data", "")])
        with zipfile.ZipFile(io.BytesIO(plain)) as source:
            for info in source.infolist():
                if not info.filename.startswith("xl/worksheets/"):
                    archive.writestr(zipfile.ZipInfo(info.filename, FIXED_DATE), source.read(info))
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        block = (row * 20_000).encode()
        with archive.open(info, "w", force_zip64=True) as sheet:
            sheet.write(head.encode())
            for _ in range((1024**3) // len(block)):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def large_files() -> dict[str, Callable[[], bytes]]:
    return {
        "five_thousand_columns.csv": _five_thousand_columns,
        "one_megabyte_line.csv": _one_megabyte_line,
        "zip_bomb.xlsx": _zip_bomb,
    }


def write(files: dict[str, Callable[[], bytes]], folder: Path, *, only_missing: bool = False) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in files.items():
        path = folder / name
        if not (only_missing and path.exists()):
            path.write_bytes(make())
        written.append(path)
    return written


def large_corpus() -> list[Path]:
    """The large files, made once and kept under tests/data/generated/ (not committed)."""
    return write(large_files(), LARGE_DIR, only_missing=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--large", action="store_true", help="also write the large files")
    args = parser.parse_args()
    paths = write(small_files(), SMALL_DIR)
    if args.large:
        paths += large_corpus()
    for path in paths:
        print(f"{path.stat().st_size:>12,}  {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
