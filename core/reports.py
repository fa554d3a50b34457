"""The report: `report.json` (the contract the UI and API read) and a formatted `report.xlsx`.

Both are built from the same dictionary, so the spreadsheet never says something the JSON
does not.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import xlsxwriter

from core.agents.base import AgentResult, Finding, LoadedTable
from core.agents.profile.sensitive import mask_text
from core.agents.rows import ISSUE_ROWS_FILE, ROW_NUMBER_NOTE, issue_rows_frame
from core.safe_output import neutralise_frame, neutralise_table
from core.xlsx_bulk import LongTable, fill_sheets

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
MAX_XLSX_ROWS = 1_048_575  # data rows a sheet holds under its header (Excel: 1,048,576 rows)
BULK_SHEET_ROWS = 5_000  # tables longer than this are spliced in by core.xlsx_bulk
# rows Arrow's CSV writer formats at a time: its default of 1,024 spends more time on the
# batches than on the text; 65,536 rows of a wide list are still only a few megabytes
CSV_BATCH_ROWS = 65_536
SAMPLE_FIELDS = ("top_values", "patterns", "min", "max")  # per-column facts that quote values


@dataclass
class ToolOutputs:
    """What a tool's finisher adds to a run's outputs after its agents: files written as they
    are (a cleaned copy of the input), tables written as CSV downloads and report sheets
    (`sheet_titles` may name their sheets), and entries for the report's summary and
    top-level sections."""

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name -> (content, content type)
    artifacts: dict[str, pd.DataFrame] = field(default_factory=dict)
    sheet_titles: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})  # returned as they are, whatever the checks below
_TEXT_ONLY = frozenset({str})


def _already_plain(values: Collection[Any]) -> bool:
    """True when `to_jsonable` would give each of `values` back as it is (checked with C
    loops, so a histogram's counts or a column's facts are copied in one go)."""
    kinds = set(map(type, values))
    return kinds <= _PLAIN_TYPES or (kinds == {float} and all(map(math.isfinite, values)))


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf as null, dates as ISO text.

    Text, whole numbers, booleans and None (most of a report) are answered from their exact
    type before the checks for everything else: a wide file's report holds a million values."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is float:
        return None if math.isnan(value) or math.isinf(value) else value
    if kind is dict:
        if _TEXT_ONLY.issuperset(map(type, value)) and _already_plain(value.values()):
            return dict(value)  # a copy, as below
        return {key if type(key) is str else str(key): to_jsonable(item) for key, item in value.items()}
    if kind is list:
        if _already_plain(value):
            return list(value)
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is pd.NA or value is pd.NaT:  # before dates: NaT is a datetime whose text is "NaT"
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return value


def reader_findings(tables: dict[str, LoadedTable]) -> list[Finding]:
    """What the reader noticed while loading: rows it could not split into the header's fields."""
    findings = []
    for table in tables.values():
        if table.malformed_rows:
            lines = [r["line"] for r in table.malformed_rows]
            findings.append(
                Finding(
                    severity="high",
                    agent="reader",
                    code="MALFORMED_ROWS",
                    message=f"{len(lines):,} line(s) of {table.filename} have a different number of fields "
                    "than the header and were left out of the analysis; see malformed_rows.csv.",
                    file_key=table.file_key,
                    count=len(lines),
                    examples=[
                        f"line {r['line']}: expected {r['expected_fields']} fields, "
                        f"found {r['actual_fields']}"
                        for r in table.malformed_rows[:5]
                    ],
                )
            )
    return findings


def malformed_rows_frame(tables: dict[str, LoadedTable]) -> pd.DataFrame | None:
    rows = [{"file": t.filename, **r} for t in tables.values() for r in t.malformed_rows]
    return pd.DataFrame(rows) if rows else None


def outputs_artifacts(
    tables: dict[str, LoadedTable], results: dict[str, AgentResult]
) -> dict[str, pd.DataFrame]:
    """Every downloadable table of a run: the agents' own, `malformed_rows.csv` and the one
    `issue_rows.csv` that lists every affected row of every finding (row = data row number,
    1 = first row after the header)."""
    artifacts: dict[str, pd.DataFrame] = {}
    for result in results.values():
        artifacts.update(result.artifacts)
    malformed = malformed_rows_frame(tables)
    if malformed is not None:
        artifacts["malformed_rows.csv"] = malformed
    issue_rows = issue_rows_frame(tables, results.values())
    if issue_rows is not None:
        artifacts[ISSUE_ROWS_FILE] = issue_rows
    return artifacts


def sensitive_columns(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["file_key"], c["name"]) for c in report["columns"] if c.get("sensitive")}


# findings whose examples are never the column's data but the markers that stand in for it
# ("NULL", "n/a"), which their message names anyway: masking them would only hide which marker
UNMASKED_CODES = frozenset({"DISGUISED_MISSING"})


def mask_sensitive(report: dict[str, Any]) -> None:
    """Hide the samples the report quotes from columns the `sensitive` agent flagged: their
    most common values, pattern examples, text minimum/maximum and the examples of every
    alert and issue about them but the missing markers (`UNMASKED_CODES`). (The downloads
    listing affected rows keep the values: they are the user's own rows, needed to find and
    fix them.)"""
    hidden = sensitive_columns(report)
    if not hidden:
        return
    for column in report["columns"]:
        if (column["file_key"], column["name"]) not in hidden:
            continue
        for entry in column.get("top_values") or []:
            entry["value"] = mask_text(entry.get("value"))
        for entry in column.get("patterns") or []:
            entry["example"] = mask_text(entry.get("example"))
        for key in ("min", "max"):
            if column.get(key) is not None:
                column[key] = mask_text(column[key])
        column["masked"] = True
    for section in ("alerts", "issues"):
        for finding in report[section]:
            about = (finding.get("file_key"), finding.get("column"))
            if (
                about in hidden
                and finding.get("agent") != "sensitive"
                and finding.get("code") not in UNMASKED_CODES
            ):
                finding["examples"] = [mask_text(e) for e in finding["examples"]]


def _columns(tables: dict[str, LoadedTable], results: dict[str, AgentResult]) -> list[dict[str, Any]]:
    columns = []
    for table in tables.values():
        for name in table.frame.columns:
            entry: dict[str, Any] = {"file_key": table.file_key, "name": str(name)}
            for result in results.values():
                entry.update(result.columns.get((table.file_key, str(name)), {}))
            columns.append(entry)
    return columns


def build_report(
    *,
    task_id: str,
    tool_id: str,
    started: datetime,
    tables: dict[str, LoadedTable],
    results: dict[str, AgentResult],
    agent_runs: dict[str, dict[str, Any]],
    downloads: list[str],
) -> dict[str, Any]:
    """Assemble the report dictionary from the tables read and every agent's result."""
    alerts = reader_findings(tables)
    issues: list[Finding] = []
    recommendations = []
    for result in results.values():
        alerts.extend(result.alerts)
        issues.extend(result.issues)
        recommendations.extend(result.recommendations)
    alerts.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -f.count))
    issues.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), -f.count))
    recommendations.sort(key=lambda r: -r.rows_affected)
    severity_counts = {s: sum(1 for a in alerts if a.severity == s) for s in SEVERITY_ORDER}
    quality = next(
        (r.metrics["quality_score"] for r in results.values() if "quality_score" in r.metrics), None
    )
    report = {
        "task_id": task_id,
        "tool_id": tool_id,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "execution_time_ms": int((datetime.now(UTC) - started).total_seconds() * 1000),
        "dataset": {"files": [t.describe() for t in tables.values()]},
        "summary": {
            "quality_score": quality,
            "rows": sum(len(t.frame) for t in tables.values()),
            "columns": sum(t.frame.shape[1] for t in tables.values()),
            "total_alerts": len(alerts),
            "total_issues": len(issues),
            "total_recommendations": len(recommendations),
            "alerts_by_severity": severity_counts,
            "agents_completed": [a for a, run in agent_runs.items() if run["status"] == "completed"],
            "agents_failed": [a for a, run in agent_runs.items() if run["status"] == "failed"],
        },
        "agents": agent_runs,
        "columns": _columns(tables, results),
        "alerts": [a.to_dict() for a in alerts],
        "issues": [i.to_dict() for i in issues],
        "recommendations": [r.to_dict() for r in recommendations],
        "downloads": downloads,
        "row_numbers": ROW_NUMBER_NOTE,
    }
    report = to_jsonable(report)
    mask_sensitive(report)
    return report


def report_json_bytes(report: dict[str, Any]) -> bytes:
    """`json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)` as UTF-8.

    With an indent the json module encodes in Python, one generator step per value: a wide
    file's report (5,000 columns with their histograms) takes a second that way. `_indented`
    writes the same text with the json module's own functions for each plain value, and
    leaves anything else to the json module."""
    try:
        text = _indented(report, "\n")
    except (_NotPlain, TypeError, RecursionError):
        text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)  # or its error
    return text.encode("utf-8")


class _NotPlain(Exception):
    """A value `_indented` leaves to the json module."""


def _finite_float(value: float) -> str:
    if value != value or value == math.inf or value == -math.inf:
        raise _NotPlain  # the json module raises its own error for these
    return float.__repr__(value)


# how the json module writes each plain value (exact types: subclasses go to the json module)
_JSON_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: _finite_float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def _indented(value: Any, indent: str) -> str:
    """`value` as `json.dumps(..., indent=2, ensure_ascii=False, allow_nan=False)` writes it
    inside a container whose lines start with `indent` (a newline and the spaces): each item
    on its own line one level deeper, items separated by ",", keys by ": ", empty containers
    as `[]` and `{}`. Plain values are written by the json module's own functions (a list
    of one type in one call); raises `_NotPlain` (or the json module's TypeError, for a
    key that is not text) for anything else."""
    kind = type(value)
    scalar = _JSON_SCALARS.get(kind)
    if scalar is not None:
        return scalar(value)
    if kind is not dict and kind is not list:
        raise _NotPlain
    if not value:
        return "{}" if kind is dict else "[]"
    inner = indent + "  "
    separator = "," + inner
    if kind is list:
        kinds = set(map(type, value))
        if len(kinds) == 1 and (only := _JSON_SCALARS.get(kinds.pop())) is not None:
            if only is _finite_float and all(map(math.isfinite, value)):
                only = float.__repr__  # the check done once for the whole list
            return "[" + inner + separator.join(map(only, value)) + indent + "]"
        return "[" + inner + separator.join([_indented(item, inner) for item in value]) + indent + "]"
    items = [
        encode_basestring(key) + ": " + (_indented(item, inner) if write is None else write(item))
        for key, item in value.items()
        for write in (_JSON_SCALARS.get(type(item)),)
    ]
    return "{" + inner + separator.join(items) + indent + "}"


# ---- report.xlsx --------------------------------------------------------------------------
# `json.dumps(value, ensure_ascii=False, default=str)`, its encoder made once instead of per cell
_CELL_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return _CELL_JSON(value)[:32_000]
    return value


class _SheetWriter:
    """Writes tables as formatted sheets: bold header, frozen header row, sensible widths,
    and every text value written as text (a value starting with `=` never becomes a formula)."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.workbook = workbook
        self.header = workbook.add_format(
            {"bold": True, "bg_color": "#1F3A5F", "font_color": "#FFFFFF", "border": 1, "text_wrap": True}
        )
        self.names: set[str] = set()
        self.count = 0  # sheets written, so a bulk sheet's number is known
        self.bulk: list[LongTable] = []

    def _sheet_name(self, wanted: str, suffix: str = "") -> str:
        """`wanted` as a valid, unused sheet name (31 characters at most), ending in `suffix`."""
        cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in wanted)
        base = (cleaned[: 31 - len(suffix)] or "Sheet") + suffix
        name, n = base, 2
        while name.lower() in self.names:
            extra = f" ({n})"
            name, n = base[: 31 - len(extra)] + extra, n + 1
        self.names.add(name.lower())
        return name

    def write(self, title: str, headers: list[str], rows: list[list[Any]], suffix: str = "") -> None:
        self.count += 1
        if len(rows) > MAX_XLSX_ROWS:
            cut = len(rows) - (MAX_XLSX_ROWS - 1)
            rows = [*rows[: MAX_XLSX_ROWS - 1], [f"{cut:,} more row(s) did not fit in Excel's row limit."]]
        sheet = self.workbook.add_worksheet(self._sheet_name(title, suffix))
        widths = [min(max(len(str(h)), 8), 60) for h in headers]
        for col, header in enumerate(headers):
            sheet.write_string(0, col, str(header), self.header)
        for r, row in enumerate(rows[:MAX_XLSX_ROWS], start=1):
            for c, value in enumerate(row):
                # text first: most cells are text, and containers become JSON text
                if isinstance(value, dict | list):
                    value = _cell(value)
                if isinstance(value, str):
                    text = str(value)
                elif value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                    continue
                elif isinstance(value, int | float) and math.isfinite(value):
                    sheet.write_number(r, c, value)
                    continue
                else:
                    text = str(value)
                sheet.write_string(r, c, text)
                if r <= 200:
                    widths[c] = min(max(widths[c], len(text) + 2), 60)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        if rows:
            sheet.autofilter(0, 0, min(len(rows), MAX_XLSX_ROWS), max(len(headers) - 1, 0))

    def write_records(
        self, title: str, records: list[dict[str, Any]], headers: list[str] | None = None
    ) -> None:
        headers = headers or list(dict.fromkeys(k for rec in records for k in rec)) or ["(none)"]
        self.write(title, headers, [[rec.get(h) for h in headers] for rec in records])

    def write_frame(self, title: str, frame: pd.DataFrame) -> None:
        """A table as one sheet or, when longer than a sheet holds, as several in turn ("issue_rows",
        "issue_rows (2)", ...), each with the header row."""
        headers = [str(c) for c in frame.columns]
        starts = range(0, max(len(frame), 1), MAX_XLSX_ROWS)
        if len(frame) > BULK_SHEET_ROWS:
            sheets = []
            for part, _ in enumerate(starts, start=1):
                self.write(title, headers, [], f" ({part})" if part > 1 else "")
                sheets.append(self.count)
            self.bulk.append(LongTable(_arrow_table(frame), sheets, MAX_XLSX_ROWS))
            return
        for part, start in enumerate(starts, start=1):
            piece = frame.iloc[start : start + MAX_XLSX_ROWS]
            records = piece.astype(object).where(piece.notna(), None).values.tolist()
            self.write(title, headers, records, f" ({part})" if part > 1 else "")


COLUMN_SHEET_FIELDS = [
    "file_key",
    "name",
    "inferred_type",
    "semantic_type",
    "count",
    "missing_count",
    "missing_ratio",
    "distinct_count",
    "min",
    "max",
    "mean",
    "median",
    "std",
    "top_values",
]


def report_xlsx_bytes(
    report: dict[str, Any], artifacts: dict[str, pd.DataFrame], sheet_titles: dict[str, str] | None = None
) -> bytes:
    """The report as a workbook: one sheet per section, then one per table the agents produced."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    writer = _SheetWriter(workbook)
    summary = report["summary"]
    summary_rows = [
        ["Task", report["task_id"]],
        ["Tool", report["tool_id"]],
        ["Generated at", report["generated_at"]],
        *[[k.replace("_", " ").capitalize(), _cell(v)] for k, v in summary.items()],
    ]
    writer.write("Summary", ["Item", "Value"], summary_rows)
    writer.write_records("Files", report["dataset"]["files"])
    extra = sorted({k for c in report["columns"] for k in c} - set(COLUMN_SHEET_FIELDS))
    writer.write_records("Columns", report["columns"], [*COLUMN_SHEET_FIELDS, *extra])
    finding_fields = ["severity", "agent", "code", "column", "file_key", "count", "message", "examples"]
    writer.write_records("Alerts", report["alerts"], finding_fields)
    writer.write_records("Issues", report["issues"], finding_fields)
    writer.write_records(
        "Recommendations",
        report["recommendations"],
        ["rows_affected", "agent", "code", "column", "file_key", "fix_agent", "message"],
    )
    writer.write_records(
        "Agents",
        [{"agent": agent, **run} for agent, run in report["agents"].items()],
        ["agent", "status", "execution_time_ms", "credits_charged", "error", "metrics"],
    )
    titles = sheet_titles or {}
    for name, frame in artifacts.items():
        writer.write_frame(titles.get(name, name.rsplit(".", 1)[0]), frame)
    workbook.close()
    if writer.bulk:
        return fill_sheets(buffer.getvalue(), writer.bulk)
    return buffer.getvalue()


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_artifact_csv(frame: pd.DataFrame, sink: BinaryIO) -> None:
    """A table as UTF-8 CSV (with BOM so Excel reads accents), formula-safe, into `sink`. Long
    tables go through Arrow's CSV writer (pandas takes seconds per million rows), streamed so
    a million-line list is never held twice in memory."""
    if len(frame) <= BULK_SHEET_ROWS:
        sink.write(neutralise_frame(frame).to_csv(index=False).encode("utf-8-sig"))
        return
    sink.write("\ufeff".encode())
    options = pacsv.WriteOptions(quoting_style="needed", batch_size=CSV_BATCH_ROWS)
    pacsv.write_csv(neutralise_table(_arrow_table(frame)), sink, options)


def artifact_csv_bytes(frame: pd.DataFrame) -> bytes:
    """`write_artifact_csv` into bytes."""
    sink = io.BytesIO()
    write_artifact_csv(frame, sink)
    return sink.getvalue()
