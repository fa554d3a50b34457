"""The `types` agent: what each column holds, and the cells that do not fit.

A column that is 99% numbers with a few "n/k" cells is the most common reason a spreadsheet
sum silently comes out wrong, so those cells are listed with examples rather than letting the
column quietly become text.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable, Recommendation
from core.agents.profile.inference import (
    INFERRED_TYPES,
    NUMBER_STYLES,
    ColumnProfile,
    ColumnType,
    each_column,
)
from core.agents.profile.relationships import prefetch_relationships
from core.agents.profile.uniqueness import prefetch_uniqueness
from core.agents.rows import RowRefs, refs

AGENT_ID = "types"
FIX_AGENT = "types_formats"

TYPE_WORDS = {
    "integer": "whole numbers",
    "float": "numbers",
    "boolean": "yes/no values",
    "date": "dates",
    "datetime": "dates with times",
    "string": "text",
    "empty": "nothing",
}
NUMBER_FORMAT_WORDS = {
    "thousands": "thousands separators (1,234)",
    "decimal_comma": "decimal commas (1,5)",
}


class TypesAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        by_type: Counter[str] = Counter({t: 0 for t in INFERRED_TYPES})
        by_meaning: Counter[str] = Counter()
        mixed = 0
        for table, profile in each_column(context):
            column_type = profile.column_type
            result.columns[(table.file_key, profile.name)] = column_type.to_dict()
            by_type[column_type.inferred_type] += 1
            by_meaning[column_type.semantic_type] += 1
            findings = _column_alerts(table, profile)
            mixed += any(f.code == "MIXED_TYPES" for f in findings)
            result.alerts.extend(findings)
            result.row_refs.extend(_row_refs(table, profile, findings))
            result.recommendations.extend(_recommendations(findings))
        _start_table_facts(context)
        result.metrics = {
            "columns": sum(by_type.values()),
            "columns_by_type": dict(by_type),
            "columns_by_semantic_type": dict(sorted(by_meaning.items())),
            "mixed_type_columns": mixed,
        }
        return result


def _start_table_facts(context: AgentContext) -> None:
    """The table-wide facts of later agents (duplicates and keys, relationships) depend only on
    what is known now; started in the background, their long single-threaded stretches overlap
    the per-column agents that run meanwhile."""
    for table in context.tables.values():
        if "uniqueness" in context.agents:
            prefetch_uniqueness(context, table)
        if "relationships" in context.agents:
            prefetch_relationships(context, table)


def _column_alerts(table: LoadedTable, profile: ColumnProfile) -> list[Finding]:
    column_type = profile.column_type
    alerts = []
    if column_type.mismatch_type:
        alerts.append(_mixed_types(table, profile.name, column_type))
    if column_type.inferred_type in ("integer", "float"):
        formatted = _numbers_as_text(table, profile)
        if formatted:
            alerts.append(formatted)
    if column_type.date_ambiguous:
        alerts.append(
            Finding(
                severity="low",
                agent=AGENT_ID,
                code="AMBIGUOUS_DATES",
                message=f"Every date in '{profile.name}' reads both day-first and month-first; "
                f"we read it as {column_type.date_format}. Check that this is what the file means.",
                column=profile.name,
                file_key=table.file_key,
                count=column_type.non_missing,
                examples=profile.present.head(3).tolist(),
            )
        )
    return alerts


def _mixed_types(table: LoadedTable, column: str, column_type: ColumnType) -> Finding:
    words = TYPE_WORDS[column_type.mismatch_type or "string"]
    share = column_type.mismatch_count / max(column_type.non_missing, 1)
    if column_type.inferred_type == column_type.mismatch_type:
        severity = "medium" if share >= 0.01 else "low"
        message = (
            f"Column '{column}' holds {words}, but {column_type.mismatch_count:,} filled cell(s) "
            f"({share:.1%}) are not; they are left out of its statistics."
        )
    else:
        severity = "medium"
        message = (
            f"Column '{column}' is mostly {words} ({column_type.mismatch_share:.0%}), but "
            f"{column_type.mismatch_count:,} filled cell(s) are not, so it is treated as text."
        )
    return Finding(
        severity=severity,
        agent=AGENT_ID,
        code="MIXED_TYPES",
        message=message,
        column=column,
        file_key=table.file_key,
        count=column_type.mismatch_count,
        examples=list(column_type.mismatch_examples),
    )


def _numbers_as_text(table: LoadedTable, profile: ColumnProfile) -> Finding | None:
    """Numbers written for people (currency signs, separators) that a program reads as text."""
    column_type = profile.column_type
    count = column_type.formatted_numbers
    if count == 0:
        return None
    if column_type.semantic_type == "currency":
        how = "currency signs"
    elif column_type.semantic_type == "percentage":
        how = "percent signs"
    else:
        how = NUMBER_FORMAT_WORDS.get(column_type.number_format or "", "extra characters")
    return Finding(
        severity="low",
        agent=AGENT_ID,
        code="NUMBERS_AS_TEXT",
        message=f"Column '{profile.name}' holds numbers written with {how}; most tools read "
        f"{count:,} of them as text until they are converted to plain numbers.",
        column=profile.name,
        file_key=table.file_key,
        count=count,
        examples=list(column_type.formatted_examples),
    )


def _row_refs(table: LoadedTable, profile: ColumnProfile, findings: list[Finding]) -> list[RowRefs]:
    """The cells behind MIXED_TYPES and NUMBERS_AS_TEXT (AMBIGUOUS_DATES is about the whole
    column's reading, not about particular rows)."""
    found = []
    codes = {f.code for f in findings}
    if "MIXED_TYPES" in codes:
        words = TYPE_WORDS[profile.column_type.mismatch_type or "string"]
        found.append(
            refs(
                table.file_key,
                profile.name,
                AGENT_ID,
                "MIXED_TYPES",
                f"not {words} like the rest of the column",
                profile.misfit_rows(),
            )
        )
    if "NUMBERS_AS_TEXT" in codes:
        plain = pc.match_substring_regex(
            pc.utf8_trim_whitespace(pa.array(profile.text)), f"^(?:{NUMBER_STYLES['plain'][0]})$"
        )
        formatted = profile.typed.notna().to_numpy() & ~pc.fill_null(plain, False).to_numpy(
            zero_copy_only=False
        )
        found.append(
            refs(
                table.file_key,
                profile.name,
                AGENT_ID,
                "NUMBERS_AS_TEXT",
                "number written with signs or separators",
                formatted,
            )
        )
    return found


def _recommendations(findings: list[Finding]) -> list[Recommendation]:
    texts = {
        "MIXED_TYPES": "Correct or blank the cells that do not fit the column's type.",
        "NUMBERS_AS_TEXT": "Convert the formatted numbers to plain numbers.",
        "AMBIGUOUS_DATES": "Rewrite the dates as YYYY-MM-DD so their order cannot be misread.",
    }
    return [
        Recommendation(
            agent=AGENT_ID,
            code=f"FIX_{finding.code}",
            message=f"{texts[finding.code]} Column '{finding.column}'.",
            column=finding.column,
            file_key=finding.file_key,
            rows_affected=finding.count,
            fix_agent=FIX_AGENT,
        )
        for finding in findings
    ]
