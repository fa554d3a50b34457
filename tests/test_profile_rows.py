"""Every finding backed by its rows: the one issue_rows table merged from all agents (1-based
row numbers, uncapped, sorted), its CSV and its report.xlsx sheet, including a sheet longer
than Excel allows."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from core import reports
from core.agents.base import AgentResult
from core.agents.rows import issue_rows_table, refs
from core.reports import artifact_csv_bytes, outputs_artifacts, report_xlsx_bytes
from tests.profile_helpers import empty_report, table_of


def test_row_refs_of_all_agents_merge_into_one_sorted_table() -> None:
    table = table_of({"city": ["Oslo", " Lima", "", "=cmd"], "zip": ["1", "2", "3", "4"]})
    first = AgentResult(
        row_refs=[refs("primary", "city", "patterns", "WS", "spaces", np.array([False, True, False, True]))]
    )
    second = AgentResult(
        row_refs=[
            refs("primary", "city", "completeness", "MISSING_VALUES", "no value", np.array([2])),
            refs(
                "primary",
                None,
                "uniqueness",
                "DUPLICATE_ROWS",
                "copy",
                np.array([3]),
                values=["same as row 1"],
            ),
        ]
    )
    merged = issue_rows_table({"primary": table}, [first, second]).to_pandas()
    assert merged.columns.tolist() == ["row", "column", "value", "reason", "agent", "code"]
    assert merged["row"].tolist() == [2, 3, 4, 4]  # 1-based data rows, sorted
    # a whole-row finding (no column) comes first within its row; cell values are the file's
    assert merged["value"].tolist() == [" Lima", "", "same as row 1", "=cmd"]
    assert merged["code"].tolist() == ["WS", "MISSING_VALUES", "DUPLICATE_ROWS", "WS"]
    assert merged["column"].tolist() == ["city", "city", "", "city"]


def test_several_files_get_a_file_column() -> None:
    one, two = table_of({"a": ["x"]}, "primary"), table_of({"a": ["y", "z"]}, "secondary")
    result = AgentResult(
        row_refs=[
            refs("primary", "a", "p", "C", "r", np.array([0])),
            refs("secondary", "a", "p", "C", "r", np.array([1])),
        ]
    )
    merged = issue_rows_table({"primary": one, "secondary": two}, [result]).to_pandas()
    assert merged[["file", "row", "value"]].values.tolist() == [
        ["primary.csv", 1, "x"],
        ["secondary.csv", 2, "z"],
    ]


def test_issue_rows_are_an_artifact_and_a_sheet_uncapped_and_formula_safe() -> None:
    n = reports.BULK_SHEET_ROWS * 3  # long enough for the bulk writers
    values = [f"v{i}" for i in range(n)]
    values[7] = '=HYPERLINK("http://x")'
    values[8] = "<b>&amp;</b>"
    table = table_of({"col": values})
    result = AgentResult(
        row_refs=[refs("primary", "col", "patterns", "X", "because", np.ones(n, dtype=bool))]
    )
    artifacts = outputs_artifacts({"primary": table}, {"patterns": result})
    frame = artifacts["issue_rows.csv"]
    assert len(frame) == n

    text = artifact_csv_bytes(frame).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert (
        len(back) == n
        and back["value"][7] == '\'=HYPERLINK("http://x")'
        and back["value"][8] == "<b>&amp;</b>"
    )

    book = openpyxl.load_workbook(io.BytesIO(report_xlsx_bytes(empty_report(), artifacts)), read_only=True)
    rows = list(book["issue_rows"].iter_rows(values_only=True))
    assert rows[0] == ("row", "column", "value", "reason", "agent", "code")
    assert len(rows) == n + 1
    assert rows[8] == (8, "col", '=HYPERLINK("http://x")', "because", "patterns", "X")  # text, not a formula
    assert rows[9][2] == "<b>&amp;</b>" and rows[-1][0] == n


@pytest.mark.parametrize("bulk_rows", [10, 1_000])  # spliced in by core.xlsx_bulk, or by xlsxwriter
def test_a_table_longer_than_a_sheet_goes_on_over_several_sheets(monkeypatch, bulk_rows: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reports, "MAX_XLSX_ROWS", 30)
    monkeypatch.setattr(reports, "BULK_SHEET_ROWS", bulk_rows)
    values = [f"v{i % 7}" for i in range(100)]
    values[40] = "=1+1"
    values[41] = None
    frame = pd.DataFrame({"row": pa.array(range(1, 101)), "value": values})
    data = report_xlsx_bytes(empty_report(), {"issue_rows.csv": frame})
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    names = [n for n in book.sheetnames if n.startswith("issue_rows")]
    assert names == ["issue_rows", "issue_rows (2)", "issue_rows (3)", "issue_rows (4)"]
    sheets = [list(book[name].iter_rows(values_only=True)) for name in names]
    assert [len(rows) for rows in sheets] == [31, 31, 31, 11]  # each with its header row
    assert all(rows[0] == ("row", "value") for rows in sheets)
    assert [row for rows in sheets for row in rows[1:]] == list(zip(range(1, 101), values, strict=True))
    formula_free = openpyxl.load_workbook(io.BytesIO(data))["issue_rows (2)"]
    assert formula_free["B12"].value == "=1+1" and formula_free["B12"].data_type == "s"


def test_long_sheet_names_keep_their_part_number(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reports, "MAX_XLSX_ROWS", 30)
    monkeypatch.setattr(reports, "BULK_SHEET_ROWS", 10)
    frame = pd.DataFrame({"row": pa.array(range(1, 41))})
    data = report_xlsx_bytes(empty_report(), {"x" * 40 + ".csv": frame})
    names = openpyxl.load_workbook(io.BytesIO(data), read_only=True).sheetnames[-2:]
    assert names == ["x" * 31, "x" * 27 + " (2)"]


def test_long_sheets_keep_missing_numbers_and_texts_in_place(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reports, "BULK_SHEET_ROWS", 10)
    n = 40
    frame = pd.DataFrame(
        {
            "count": pd.array([i if i % 5 else None for i in range(n)], dtype="Int64"),
            "score": [float("nan") if i % 7 == 0 else (float("inf") if i == 3 else i / 2) for i in range(n)],
            "reason": pd.Categorical([None if i % 4 == 0 else f"r{i % 3}" for i in range(n)]),
            "agent": [None if i % 6 == 0 else f" a{i % 2} & <b>" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        }
    )
    book = openpyxl.load_workbook(
        io.BytesIO(report_xlsx_bytes(empty_report(), {"long.csv": frame})), read_only=True
    )
    rows = list(book["long"].iter_rows(values_only=True))
    assert rows[0] == ("count", "score", "reason", "agent", "when") and len(rows) == n + 1
    for i, row in enumerate(rows[1:]):
        assert row[0] == (i if i % 5 else None)
        assert row[1] == (None if i % 7 == 0 or i == 3 else i / 2)
        assert row[2] == (None if i % 4 == 0 else f"r{i % 3}")
        assert row[3] == (None if i % 6 == 0 else f" a{i % 2} & <b>")
        assert str(row[4]).startswith(f"2024-{1 + (i >= 31):02d}")
