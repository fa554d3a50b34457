"""What each column means for matching, and which columns of different files hold the same thing.

A business user cannot be asked to write a linkage model, so the model is read off the data:
each column gets a *match kind* (a person's name, a date, an identifier, an address...) from
the project's own type inference plus its header, and the columns of a second or third file
are paired with the primary file's columns by header and content similarity. The pairing is
shown in the report and can be overridden with the `column_mapping` parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import pandas as pd
import pyarrow as pa

from core.agents.base import AgentContext, LoadedTable
from core.agents.profile.inference import column_profile, matching_keys

# The match kinds, each with the comparison the model gives it (see core/agents/master/model.py).
KINDS = (
    "name",
    "date",
    "identifier",
    "email",
    "phone",
    "postcode",
    "address",
    "text",
    "category",
    "number",
)

_NAME_HINT = re.compile(
    r"(^|[_\s.-])(first|last|given|middle|sur|fore|family|full|maiden|person|contact|customer)?_?name"
    r"|surname|forename|nachname|vorname|prenom|nom$|^name",
    re.IGNORECASE,
)
_DATE_HINT = re.compile(r"date|dob|birth|born|_dt$|_at$|day", re.IGNORECASE)
_ADDRESS_HINT = re.compile(
    r"addr|street|road|suburb|city|town|locality|village|district|county|region|line_?\d", re.IGNORECASE
)
_POSTCODE_HINT = re.compile(r"zip|postal|postcode|post_code|plz", re.IGNORECASE)
_ID_HINT = re.compile(r"(^|[_\s.-])(id|no|nr|number|num|ssn|code|ref)$|^id[_\s.-]", re.IGNORECASE)
_EMAIL_HINT = re.compile(r"e-?mail", re.IGNORECASE)
_COMPACT_DATE = re.compile(r"^(1[89]|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
_MAPPING_ENTRY = re.compile(r"^\s*(?P<slot>[\w-]+)\.(?P<column>[^=]+?)\s*=\s*(?P<target>.*?)\s*$")

ALIGN_THRESHOLD = 0.55  # below this score two columns are not taken to hold the same thing
RECORD_KEY_OVERLAP = 0.01  # a per-file unique column shared by fewer records than this is a row key


@dataclass
class MatchField:
    """One thing the records describe (a surname, a date of birth), with the column that holds
    it in each file. `key` is the safe SQL name of its match-key column."""

    key: str
    name: str
    kind: str
    columns: dict[str, str] = field(default_factory=dict)  # file_key -> column
    used: bool = True  # False for per-row keys and empty columns: kept in outputs, not compared
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "field": self.name,
            "kind": self.kind,
            "columns": dict(self.columns),
            "compared": self.used,
            "note": self.note,
        }


def match_kind(context: AgentContext, table: LoadedTable, column: str) -> str:
    """The match kind of one column, from its inferred type and meaning and its header."""
    profile = column_profile(context, table, column)
    column_type = profile.column_type
    semantic, inferred = column_type.semantic_type, column_type.inferred_type
    header = str(column)
    if inferred == "empty":
        return "text"
    if semantic == "date" or inferred in ("date", "datetime"):
        return "date"
    if column_type.mismatch_type in ("date", "datetime") and column_type.mismatch_share >= 0.5:
        return "date"  # mostly dates, with typos: still a date to compare
    if _DATE_HINT.search(header) and _compact_dates_share(profile.present) >= 0.9:
        return "date"
    if semantic == "email" or (_EMAIL_HINT.search(header) and semantic in ("none", "identifier")):
        return "email"
    if semantic == "phone":
        return "phone"
    if semantic == "postal_code" or _POSTCODE_HINT.search(header):
        return "postcode"
    if inferred in ("integer", "float"):
        many = column_type.distinct_count >= 0.2 * max(column_type.non_missing, 1)
        if semantic == "identifier" or (many and (inferred == "integer" or _ID_HINT.search(header))):
            return "identifier"
        return "number"
    if _NAME_HINT.search(header):
        return "name"
    if _ADDRESS_HINT.search(header):
        return "address"
    if semantic == "identifier":
        return "identifier"
    if semantic == "free_text":
        return "address"
    if semantic in ("categorical", "boolean"):
        return "category"
    return "text"


def _compact_dates_share(present: pd.Series) -> float:
    """Share of values written as YYYYMMDD (dates stored as eight digits, common in exports)."""
    if len(present) == 0:
        return 0.0
    sample = present.iloc[:: max(1, len(present) // 2000)].str.strip()
    return float(sample.str.match(_COMPACT_DATE).mean())


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(name).lower())


def _header_similarity(a: str, b: str) -> float:
    ka, kb = _header_key(a), _header_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 1.0
    return SequenceMatcher(None, ka, kb).ratio()


def _value_sample(table: LoadedTable, column: str, size: int = 2000) -> set[str]:
    values = table.frame[column]
    values = values.iloc[:: max(1, len(values) // size)]
    keys = matching_keys(pa.array(values.astype("str").fillna(""), type=pa.large_string()))
    return {k for k in keys.to_pylist() if k}


def _content_similarity(a: set[str], b: set[str]) -> float:
    """Share of the smaller sample's values that the other column also holds."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def parse_mapping(text: str) -> list[tuple[str, str, str | None]]:
    """`column_mapping` entries: "secondary.fname=given_name; secondary.notes=" as
    (slot, column, primary column or None to leave the column out)."""
    entries: list[tuple[str, str, str | None]] = []
    for part in re.split(r"[;\n]", text or ""):
        if not part.strip():
            continue
        found = _MAPPING_ENTRY.match(part)
        if not found:
            raise ValueError(
                f"'{part.strip()}' is not a mapping; write slot.column=primary_column "
                "(or slot.column= to leave a column out)."
            )
        entries.append((found["slot"], found["column"].strip(), found["target"] or None))
    return entries


def align_fields(
    context: AgentContext, mapping: list[tuple[str, str, str | None]] | None = None
) -> tuple[list[MatchField], list[str]]:
    """The fields of the primary file, with each other file's columns paired to them by header
    and content, `mapping` first. Returns the fields and the problems found in `mapping`."""
    tables = list(context.tables.values())
    primary = tables[0]
    fields: list[MatchField] = []
    by_column: dict[str, MatchField] = {}
    for index, column in enumerate(primary.frame.columns):
        item = MatchField(
            f"f{index}", str(column), match_kind(context, primary, column), {primary.file_key: column}
        )
        fields.append(item)
        by_column[str(column)] = item
    problems: list[str] = []
    forced: dict[tuple[str, str], str | None] = {}
    for slot, column, target in mapping or []:
        table = context.tables.get(slot)
        if table is None:
            problems.append(f"column_mapping names the file slot '{slot}', which holds no file.")
        elif column not in table.frame.columns:
            problems.append(f"column_mapping names '{column}', which {table.filename} does not have.")
        elif target is not None and target not in by_column:
            problems.append(f"column_mapping maps to '{target}', which {primary.filename} does not have.")
        else:
            forced[(slot, column)] = target
    for _, column in [k for k, v in forced.items() if v is None and k[0] == primary.file_key]:
        by_column[column].used = False
        by_column[column].note = "left out by column_mapping"
    for table in tables[1:]:
        _align_table(context, table, primary, fields, by_column, forced)
    _mark_record_keys(context, fields)
    return fields, problems


def _align_table(
    context: AgentContext,
    table: LoadedTable,
    primary: LoadedTable,
    fields: list[MatchField],
    by_column: dict[str, MatchField],
    forced: dict[tuple[str, str], str | None],
) -> None:
    taken: set[str] = set()
    free_columns = []
    for column in table.frame.columns:
        if (table.file_key, column) in forced:
            target = forced[(table.file_key, column)]
            if target is not None:
                by_column[target].columns[table.file_key] = column
                taken.add(target)
            continue
        free_columns.append(column)
    kinds = {c: match_kind(context, table, c) for c in free_columns}
    samples = {c: _value_sample(table, c) for c in free_columns}
    field_samples = {}
    for item in fields:
        slot, column = next(iter(item.columns.items()))
        field_samples[item.name] = _value_sample(context.tables[slot], column)
    scored = []
    for column in free_columns:
        for item in fields:
            if item.name in taken:
                continue
            header = _header_similarity(column, item.name)
            content = _content_similarity(samples[column], field_samples[item.name])
            same_kind = 1.0 if kinds[column] == item.kind else 0.0
            # either signal may carry it: "DOB" and "birth_date" share values, not letters
            score = max(0.85 * header + 0.15 * same_kind, 0.8 * content + 0.2 * same_kind)
            scored.append((score, column, item))
    placed: set[str] = set()
    for score, column, item in sorted(scored, key=lambda s: -s[0]):
        if score < ALIGN_THRESHOLD or column in placed or item.name in taken:
            continue
        item.columns[table.file_key] = column
        placed.add(column)
        taken.add(item.name)
    for column in free_columns:
        if column in placed:
            continue
        key = f"f{len(fields)}"
        extra = MatchField(key, f"{column} ({table.file_key})", kinds[column], {table.file_key: column})
        fields.append(extra)


def _mark_record_keys(context: AgentContext, fields: list[MatchField]) -> None:
    """Leave out of the comparison what cannot tell two records apart: columns that are empty
    everywhere, and row keys (unique within each file and hardly shared between files), whose
    disagreement on every pair would only push true matches down."""
    for item in fields:
        if not item.used:
            continue
        profiles = [column_profile(context, context.tables[k], c) for k, c in item.columns.items()]
        types = [p.column_type for p in profiles]
        if all(t.inferred_type == "empty" for t in types):
            item.used, item.note = False, "empty"
            continue
        unique_everywhere = all(t.distinct_count == t.non_missing and t.non_missing > 1 for t in types)
        if not unique_everywhere:
            continue
        if len(profiles) == 1:
            item.used, item.note = False, "a different value on every row: a row key, not compared"
            continue
        sets = [set(p.present.str.strip()) for p in profiles]
        shared = len(set.intersection(*sets))
        if shared < RECORD_KEY_OVERLAP * min(len(s) for s in sets):
            item.used, item.note = False, "a different value on every row: a row key, not compared"
