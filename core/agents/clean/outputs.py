"""The clean tool's finisher: the cleaned file, the change log and the before/after score.

Runs once after the clean agents (see `ToolSpec.finisher`) and turns the cleaning state into
what the user downloads:

- the cleaned file in the input's own format: a CSV keeps its delimiter and encoding, an
  Excel file stays Excel; columns and row order are kept, removed rows are left out;
- `changes.csv` (the applied changes), `suggestions.csv` (changes below the confidence
  threshold, not applied) and `removed_rows.csv` (every removed or flagged row, whole);
  the change log is also the `Changes` sheet of report.xlsx;
- the quality score before and after, measured by the profile's `quality_score` agent on
  the original and on the cleaned table, and a sample of changed rows for the before/after view.

Row numbers are data row numbers as users see them (1 = first row after the header).
"""

from __future__ import annotations

import codecs
import io
import re
from pathlib import PurePath
from typing import Any

import pandas as pd
import pyarrow as pa
import xlsxwriter

from core.agents.base import AgentContext, LoadedTable
from core.agents.clean.state import CACHE_KEY, CHANGE_FIELDS, CleaningState
from core.agents.profile.carry_over import carry_over_columns, reuse_profiles
from core.agents.profile.quality import QualityScoreAgent
from core.csv_text import csv_text
from core.reports import ToolOutputs
from core.safe_output import neutralise_table

CHANGES_FILE = "changes.csv"
SUGGESTIONS_FILE = "suggestions.csv"
REMOVED_FILE = "removed_rows.csv"
SAMPLE_ROWS = 50
LOG_HEAD = 500  # changes quoted in report.json for the UI; changes.csv has them all
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PLAIN_NUMBER = re.compile(r"^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?$")


def cleaned_filename(table: LoadedTable) -> str:
    path = PurePath(table.filename)
    suffix = path.suffix or (".xlsx" if table.format == "xlsx" else ".csv")
    return f"cleaned_{path.stem}{suffix}"


def csv_bytes(frame: pd.DataFrame, table: LoadedTable) -> tuple[bytes, str | None]:
    """The cleaned table as the input's CSV dialect, formula-safe; and a note when its text
    could not be written in the input's encoding (then it is UTF-8)."""
    arrow = neutralise_table(pa.Table.from_pandas(frame, preserve_index=False))
    utf8 = csv_text(arrow, table.delimiter or ",")
    encoding = table.encoding or "utf-8"
    try:
        if codecs.lookup(encoding).name == "utf-8":
            return utf8, None
        return utf8.decode("utf-8").encode(encoding), None
    except (UnicodeEncodeError, LookupError):
        return utf8, f"The cleaned file is UTF-8: some values cannot be written in {encoding}."


def xlsx_bytes(frame: pd.DataFrame, table: LoadedTable) -> bytes:
    """The cleaned table as a workbook; plain numbers are written as numbers and everything
    else as text (never as a formula)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet((table.sheet or "Sheet1")[:31])
    for col, name in enumerate(frame.columns):
        sheet.write_string(0, col, str(name))
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            if value == "":
                continue
            if _PLAIN_NUMBER.match(value):
                sheet.write_number(r, c, float(value))
            else:
                sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


def _log(frame: pd.DataFrame, tables: dict[str, LoadedTable]) -> pd.DataFrame:
    """The change log as users read it: 1-based rows, in row order (a cell's successive
    changes stay in the order they were made), the file named only when there are several."""
    log = frame.copy()
    log["row"] = log["row"].astype("int64") + 1
    log = log.sort_values(["file_key", "row"], kind="stable")
    if len(tables) > 1:
        log.insert(0, "file", log.pop("file_key").map(lambda k: tables[k].filename))
    else:
        log = log.drop(columns=["file_key"])
    return log.reset_index(drop=True)


def _removed(state: CleaningState) -> pd.DataFrame:
    records = []
    for file_key, table in state.tables.items():
        entries = [("removed", e) for e in state.removed[file_key].values()]
        entries += [("flagged", e) for e in state.flagged_rows[file_key].values()]
        for action, entry in sorted(entries, key=lambda item: item[1].row):
            record: dict[str, Any] = {"row": entry.row + 1, "action": action, "reason": entry.reason}
            if len(state.tables) > 1:
                record = {"file": table.filename, **record}
            record.update({"agent": entry.agent, "rule": entry.rule, "confidence": entry.confidence})
            record.update({str(k): v for k, v in table.frame.iloc[entry.row].items()})
            records.append(record)
    return (
        pd.DataFrame(records)
        if records
        else pd.DataFrame(columns=["row", "action", "reason", "agent", "rule"])
    )


def quality_scores(
    state: CleaningState, cleaned: dict[str, pd.DataFrame]
) -> tuple[float | None, float | None]:
    """The profile's quality score before and after cleaning (`cleaned`: each table's cleaned
    frame), each the score the profile tool gives that table. The two analyses share the
    column facts they can (`carry_over`): the cleaning's own profiles of the columns as they
    are now, and the first analysis's facts of every column the cleaning left as it was."""
    before = AgentContext(tables=state.tables, parameters={})
    reuse_profiles(before, state.profiles())
    before_score = _score(before)
    after = AgentContext(tables=_cleaned_tables(state, cleaned), parameters={})
    carry_over_columns(before, after)
    reuse_profiles(after, state.profiles())
    return before_score, _score(after)


def _score(context: AgentContext) -> float | None:
    return QualityScoreAgent().run(context).metrics.get("quality_score")


def _cleaned_tables(state: CleaningState, cleaned: dict[str, pd.DataFrame]) -> dict[str, LoadedTable]:
    tables = {}
    for key, table in state.tables.items():
        tables[key] = LoadedTable(
            key,
            table.filename,
            cleaned[key].reset_index(drop=True),
            table.format,
            table.size_bytes,
            table.encoding,
            table.delimiter,
            table.sheet,
        )
    return tables


def _sample(state: CleaningState, changes: pd.DataFrame) -> list[dict[str, Any]]:
    """Up to 50 changed rows, before and after, with the changed columns, for the UI."""
    samples: list[dict[str, Any]] = []
    if changes.empty:
        return samples
    for (file_key, row), group in changes.groupby(["file_key", "row"], sort=True):
        original = state.tables[file_key].frame.iloc[int(row)]
        current = state.frames[file_key].iloc[int(row)]
        samples.append(
            {
                "file_key": file_key,
                "row": int(row) + 1,
                "changed": sorted(set(group["column"])),
                "before": {str(k): str(v) for k, v in original.items()},
                "after": {str(k): str(v) for k, v in current.items()},
            }
        )
        if len(samples) >= SAMPLE_ROWS:
            break
    return samples


def finish(context: AgentContext) -> ToolOutputs:
    """Everything the clean tool writes after its agents ran."""
    state: CleaningState | None = context.cache.get(CACHE_KEY)
    if state is None:
        return ToolOutputs()
    outputs = ToolOutputs()
    notes = []
    cleaned_files = []
    cleaned = {key: state.cleaned_frame(key) for key in state.tables}
    for done, (key, table) in enumerate(state.tables.items(), start=1):
        frame = cleaned[key]
        name = cleaned_filename(table)
        if table.format == "xlsx":
            outputs.files[name] = (xlsx_bytes(frame, table), XLSX_CONTENT_TYPE)
        else:
            content, note = csv_bytes(frame, table)
            outputs.files[name] = (content, "text/csv")
            if note:
                notes.append(note)
        cleaned_files.append(
            {"file_key": key, "filename": name, "rows": len(frame), "columns": frame.shape[1]}
        )
        context.progress(0.4 * done / len(state.tables), f"Wrote {name}")
    raw_changes = state.changes_frame()
    changes = _log(raw_changes, state.tables)
    suggestions = _log(state.suggestions_frame(), state.tables)
    removed = _removed(state)
    outputs.artifacts = {CHANGES_FILE: changes, SUGGESTIONS_FILE: suggestions, REMOVED_FILE: removed}
    outputs.sheet_titles = {
        CHANGES_FILE: "Changes",
        SUGGESTIONS_FILE: "Suggestions",
        REMOVED_FILE: "Removed rows",
    }
    context.progress(0.5, "Scoring the data before and after cleaning")
    before, after = quality_scores(state, cleaned)
    rows_removed = sum(len(r) for r in state.removed.values())
    outputs.summary = {
        "quality_score": after,
        "quality_score_before": before,
        "quality_score_after": after,
        "changes": len(changes),
        "suggestions": len(suggestions),
        "rows_removed": rows_removed,
    }
    outputs.sections = {
        "cleaning": {
            "quality_score_before": before,
            "quality_score_after": after,
            "changes": len(changes),
            "suggestions": len(suggestions),
            "rows_removed": rows_removed,
            "rows_flagged": sum(len(r) for r in state.flagged_rows.values()),
            "confidence_threshold": state.threshold,
            "changes_by_agent": {str(k): int(v) for k, v in raw_changes["agent"].value_counts().items()},
            "changes_by_column": {str(k): int(v) for k, v in raw_changes["column"].value_counts().items()},
            "changes_by_rule": {str(k): int(v) for k, v in raw_changes["rule"].value_counts().items()},
            "suggestions_by_agent": {
                str(k): int(v) for k, v in state.suggestions_frame()["agent"].value_counts().items()
            },
            "cleaned_files": cleaned_files,
            "notes": notes,
            "sample_rows": _sample(state, raw_changes),
            "change_log_head": changes.head(LOG_HEAD).to_dict(orient="records"),
            "suggestions_head": suggestions.head(LOG_HEAD).to_dict(orient="records"),
            "change_fields": list(CHANGE_FIELDS[1:]),
        }
    }
    return outputs
