"""clean-my-data end to end through the task service and the runner (real database, local
store): the cleaned file in the input's own format, the change log, suggestions, removed
rows, the Changes sheet and the quality score before and after."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pandas as pd
import pytest

from core import users
from core.agents.clean import outputs as clean_outputs
from core.services import Services
from tests.test_tasks import new_task, read_output, run

# ';'-separated Latin-1, with a disguised blank, padded text, a mixed unit, a duplicate row and a
# value that must be kept out of a spreadsheet's formula engine
ROWS = [
    ["id", "city", "weight", "note"],
    ["1", "Zürich ", "12 kg", "ok"],
    ["2", "Genève", "N/A", "=1+1"],
    ["3", "Zürich", "15 kilo", "ok"],
    ["3", "Zürich", "15 kilo", "ok"],
    ["4", "Bern", "9 kg", "ok"],
]


@pytest.fixture
def user(services: Services) -> users.UserView:
    return users.create_user(services.factory, "cleo", "password123", credits=100)


def _csv_bytes() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerows(ROWS)
    return buffer.getvalue().encode("latin-1")


def _frame(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def test_csv_stays_csv_with_its_delimiter_and_encoding_and_every_change_is_logged(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id, _csv_bytes(), "cities.csv", tool_id="clean-my-data")
    done = run(services, user.id, task["task_id"])
    assert done["status"] == "completed", done
    names = set(done["output_keys"])
    assert {
        "cleaned_cities.csv",
        "changes.csv",
        "suggestions.csv",
        "removed_rows.csv",
        "report.xlsx",
    } <= names

    cleaned = read_output(services, done, "cleaned_cities.csv").decode("latin-1")
    lines = list(csv.reader(io.StringIO(cleaned), delimiter=";"))
    assert lines[0] == ROWS[0]
    assert lines[1:] == [
        ["1", "Zürich", "12", "ok"],
        ["2", "Genève", "", "'=1+1"],  # formula-like text is neutralised, as in every download
        ["3", "Zürich", "15", "ok"],
        ["4", "Bern", "9", "ok"],
    ]

    changes = _frame(read_output(services, done, "changes.csv"))
    assert changes.columns.tolist() == [
        "row",
        "column",
        "old_value",
        "new_value",
        "agent",
        "rule",
        "confidence",
    ]
    logged = {(int(r), c, o, n) for r, c, o, n in changes[["row", "column", "old_value", "new_value"]].values}
    assert (1, "city", "Zürich ", "Zürich") in logged
    assert (2, "weight", "N/A", "") in logged
    assert (1, "weight", "12 kg", "12") in logged and (3, "weight", "15 kilo", "15") in logged

    removed = _frame(read_output(services, done, "removed_rows.csv"))
    assert removed[["row", "action", "agent", "id", "city"]].values.tolist() == [
        ["4", "removed", "duplicates", "3", "Zürich"]
    ]

    report = json.loads(read_output(services, done, "report.json"))
    cleaning = report["cleaning"]
    assert cleaning["changes"] == len(changes) and cleaning["rows_removed"] == 1
    assert 0 <= cleaning["quality_score_before"] <= cleaning["quality_score_after"] <= 100
    assert cleaning["changes_by_agent"]["tidy_text"] >= 1 and cleaning["changes_by_column"]["weight"] == 5
    sample = cleaning["sample_rows"][0]
    assert sample["row"] == 1 and set(sample["changed"]) == {"city", "weight"}
    assert sample["before"]["city"] == "Zürich " and sample["after"]["city"] == "Zürich"
    assert report["summary"]["quality_score_before"] == cleaning["quality_score_before"]
    assert "cleaned_cities.csv" in report["downloads"]

    book = openpyxl.load_workbook(io.BytesIO(read_output(services, done, "report.xlsx")))
    assert {"Changes", "Suggestions", "Removed rows"} <= set(book.sheetnames)
    assert book["Changes"].max_row == len(changes) + 1


def test_xlsx_stays_xlsx_with_columns_and_row_order_kept(services, user) -> None:  # type: ignore[no-untyped-def]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "People"
    for row in [["name", "amount"], ["  Ann", 10], ["Bob", "N/A"], ["Cy", 7.5]]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    task = new_task(services, user.id, buffer.getvalue(), "people.xlsx", tool_id="clean-my-data")
    done = run(services, user.id, task["task_id"])
    assert done["status"] == "completed", done
    cleaned = openpyxl.load_workbook(io.BytesIO(read_output(services, done, "cleaned_people.xlsx")))
    assert cleaned.sheetnames == ["People"]
    values = [list(r) for r in cleaned["People"].iter_rows(values_only=True)]
    assert values == [["name", "amount"], ["Ann", 10], ["Bob", None], ["Cy", 7.5]]


def test_an_outlier_in_a_removed_duplicate_row_is_left_out_of_the_row_list(services, user) -> None:  # type: ignore[no-untyped-def]
    """The outliers agent finds outliers on every row, then drops the rows the duplicates
    agent removed: the per-row reasons must be dropped with them (a misaligned list once
    crashed the outputs)."""
    amounts = [str(10 + (i % 7)) for i in range(60)]
    lines = ["id,amount"] + [f"{i},{a}" for i, a in enumerate(amounts)] + ["99,5000000", "99,5000000"]
    task = new_task(services, user.id, "\n".join(lines) + "\n", "amounts.csv", tool_id="clean-my-data")
    done = run(services, user.id, task["task_id"])
    assert done["status"] == "completed", done
    removed = _frame(read_output(services, done, "removed_rows.csv"))
    assert len(removed) == 1
    issues = _frame(read_output(services, done, "issue_rows.csv"))
    outliers = issues[(issues["agent"] == "outliers") & (issues["column"] == "amount")]
    assert outliers["row"].tolist() == ["61"]  # the kept copy of the outlier, not the removed one


def test_the_finishing_step_shows_on_the_progress_bar(services, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The cleaned file and the scores take seconds on a large file: while they are made, the
    task says so (and the agents' share of the bar ends before it) instead of standing still."""
    seen: list[tuple[int, str, str | None]] = []
    task_ids: list[str] = []
    original = clean_outputs.finish

    def watched(context):  # type: ignore[no-untyped-def]
        task = services.tasks.get_task(user.id, task_ids[0])
        seen.append((task["progress"], task["progress_message"], task["current_agent"]))
        return original(context)

    monkeypatch.setattr(clean_outputs, "finish", watched)
    task = new_task(services, user.id, _csv_bytes(), tool_id="clean-my-data")
    task_ids.append(task["task_id"])
    done = run(services, user.id, task["task_id"])
    assert done["status"] == "completed" and done["progress"] == 100
    assert seen == [(90, "Preparing the results", None)]
