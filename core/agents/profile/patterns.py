"""The `patterns` agent: value shapes, date formats, validity of emails, phones, URLs and postal
codes, stray whitespace and categories written several ways.

Every rule here depends on a value alone, so it runs once per distinct value of the shared
encoding and reaches the rows through the codes (`Encoded.rows_where`): a status column of a
million rows and twelve spellings costs twelve checks, and every affected row is still listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, LoadedTable
from core.agents.profile.checks import Check, emit
from core.agents.profile.emails import email_matches
from core.agents.profile.inference import (
    _PHONE_NAME,
    _POSTAL_DIGITS,
    _POSTAL_DISTINCT,
    _POSTAL_NAME,
    _URL,
    ColumnProfile,
    bool_mask,
    each_column,
    factorize_text,
    other_date_format,
)
from core.agents.profile.phones import check_phones
from core.agents.profile.textbytes import ByteMap, text_bytes, trim_whitespace, trimmable_ends

AGENT_ID = "patterns"
CACHE_KEY = "profile.patterns"
MAX_SHAPES = 10  # shapes listed per column
EXACT_SHAPES_LIMIT = 30  # beyond this many shapes, runs of one kind are shown once ("Aa 9")
MAX_CATEGORY_VALUES = 1000
CATEGORY_ROWS_PER_VALUE = 20  # a category column repeats each value at least this often on average
MISSPELLING_RARITY = 20  # a misspelling is at least this many times rarer than the right spelling
MIN_MISSPELLING_LENGTH = 4
VALIDITY_SHARE = 0.5  # a column is checked as emails/URLs when this share of it looks like them
_EMAIL_NAME = re.compile(r"e-?mail", re.IGNORECASE)
_URL_NAME = re.compile(r"url|website|web_site|homepage|link", re.IGNORECASE)

_SHAPE_LUT = np.arange(256, dtype=np.uint8)
_SHAPE_LUT[ord("A") : ord("Z") + 1] = ord("A")
_SHAPE_LUT[ord("a") : ord("z") + 1] = ord("a")
_SHAPE_LUT[ord("0") : ord("9") + 1] = ord("9")
_SHAPE_LUT[0xC0:] = ord("a")  # first byte of a non-ASCII character: a letter, case unknown
_SHAPE_LUT[0x80:0xC0] = 0  # its continuation bytes, dropped below
_SHAPE_BYTES = ByteMap(_SHAPE_LUT)


@dataclass
class ColumnPatterns:
    """The pattern facts and row-level checks of one column (cached for the quality score)."""

    facts: dict[str, Any]
    checks: list[Check] = field(default_factory=list)


def shapes(values: pa.Array) -> pa.Array:
    """The shape of each text: A for a capital, a for a small letter, 9 for a digit, anything
    else kept ('Main St 12' -> 'Aaaa Aa 99'). Done on the raw bytes with a lookup table: the
    same three regex replacements cost twenty times more on a million values."""
    text = pc.cast(values, pa.large_string())
    shaped = _raw_shapes(text)
    if _has_non_ascii(text):
        shaped = pc.replace_substring(shaped, "\x00", "")
    return shaped


def _raw_shapes(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`shapes` before the continuation bytes of non-ASCII characters (mapped to 0) are
    dropped: every ASCII byte keeps its place, so two spaces in a row stay two spaces."""
    array = pc.cast(values, pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) == 0:
        return array
    _, offsets, data = array.buffers()
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
    return pa.LargeStringArray.from_buffers(
        len(array), offsets, pa.py_buffer(_SHAPE_BYTES(raw)), offset=array.offset
    )


def _has_non_ascii(values: pa.Array | pa.ChunkedArray) -> bool:
    return not pc.all(pc.string_is_ascii(values)).as_py() if len(values) else False


def column_patterns(context: AgentContext, table: LoadedTable, profile: ColumnProfile) -> ColumnPatterns:
    """The cached pattern facts and checks of one column."""
    cache: dict[tuple[str, str], ColumnPatterns] = context.cache.setdefault(CACHE_KEY, {})
    key = (table.file_key, profile.name)
    if key not in cache:
        cache[key] = _compute(table, profile)
    return cache[key]


@dataclass(frozen=True)
class _Shapes:
    """The raw shape (`_raw_shapes`) of each distinct value, as codes into the distinct ones."""

    codes: np.ndarray
    distinct: pa.Array


def _compute(table: LoadedTable, profile: ColumnProfile) -> ColumnPatterns:
    encoded = profile.encoded
    filled = ~profile.missing_codes
    if not filled.any():
        return ColumnPatterns({"patterns": [], "pattern_count": 0})
    values = encoded.values
    raw = _raw_shapes(values)
    encoded_shapes = pc.dictionary_encode(raw)  # codes in order of first appearance
    shaped = _Shapes(
        encoded_shapes.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded_shapes.dictionary
    )
    result = ColumnPatterns(_shape_facts(values, shaped, encoded.counts, filled))
    stripped = trim_whitespace(values)
    checks = result.checks
    checks.extend(_whitespace(table, profile, values, stripped, filled, shaped))
    checks.extend(_dates(table, profile, stripped, filled))
    checks.extend(_validity(table, profile, stripped, filled, result.facts))
    checks.extend(_variants(table, profile, filled))
    return result


def _shape_facts(values: pa.Array, shaped: _Shapes, counts: np.ndarray, filled: np.ndarray) -> dict[str, Any]:
    """The most common shapes of the filled values, weighted by rows. The shapes of the
    distinct values are factorised once per column, so this step only regroups codes: the
    raw shapes of the filled values in order of first appearance, then (when any filled value
    holds a non-ASCII character, as `shapes` does) without the continuation bytes."""
    present_index = np.flatnonzero(filled)
    weights = counts[filled]
    if filled.all():  # already numbered in order of first appearance
        codes, distinct = shaped.codes, shaped.distinct
    else:
        codes, first_raw = pd.factorize(shaped.codes[filled])
        distinct = shaped.distinct.take(pa.array(first_raw))
    if _holds_zero(distinct) and not bool_mask(pc.string_is_ascii(values))[filled].all():
        distinct_codes, distinct = factorize_text(pc.replace_substring(distinct, "\x00", ""))
        codes = distinct_codes[codes]
    style = "exact"
    if len(distinct) > EXACT_SHAPES_LIMIT:
        runs = pc.replace_substring_regex(distinct, r"a+", "a")
        runs = pc.replace_substring_regex(pc.replace_substring_regex(runs, r"A+", "A"), r"9+", "9")
        run_codes, distinct = factorize_text(runs)
        codes = run_codes[codes]
        style = "runs"
    totals = np.bincount(codes, weights=weights, minlength=len(distinct)).astype(np.int64)
    order = np.lexsort((np.arange(len(totals)), -totals))[:MAX_SHAPES]
    first_value = np.full(len(distinct), -1, dtype=np.int64)
    first_value[codes[::-1]] = np.arange(len(codes))[::-1]
    total = int(weights.sum())
    listed = [
        {
            "pattern": distinct[int(i)].as_py(),
            "count": int(totals[i]),
            "share": float(totals[i] / total),
            "example": values[int(present_index[first_value[i]])].as_py(),
        }
        for i in order
    ]
    return {"patterns": listed, "pattern_count": len(distinct), "pattern_style": style}


def _holds_zero(texts: pa.Array) -> bool:
    return bool(pc.any(pc.match_substring(texts, "\x00")).as_py())


def _rows(profile: ColumnProfile, value_mask: np.ndarray) -> np.ndarray:
    return profile.encoded.rows_where(value_mask)


def _examples(values: pa.Array, mask: np.ndarray, counts: np.ndarray, limit: int = 5) -> list[str]:
    """The most frequent flagged values, for a finding's inline examples."""
    indices = np.flatnonzero(mask)
    top = indices[np.argsort(-counts[indices], kind="stable")[:limit]]
    return [str(v) for v in values.take(pa.array(top)).to_pylist()]


def _whitespace(
    table: LoadedTable,
    profile: ColumnProfile,
    values: pa.Array,
    stripped: pa.Array,
    filled: np.ndarray,
    shaped: _Shapes,
) -> list[Check]:
    name, counts = profile.name, profile.encoded.counts
    if stripped is values:  # nothing to trim (`trim_whitespace` hands the array back)
        padded = np.zeros(len(filled), dtype=bool)
    else:
        padded = filled & ~bool_mask(pc.equal(values, stripped))
    # a value's shape keeps its ASCII whitespace in place: only values whose shape holds two
    # in a row can (once trimmed) hold them, and the shapes are few
    maybe = bool_mask(pc.match_substring_regex(shaped.distinct, r"\s\s"))[shaped.codes] & filled
    doubled = np.zeros(len(filled), dtype=bool)
    if maybe.any():
        candidates = np.flatnonzero(maybe)
        runs = pc.match_substring_regex(stripped.take(pa.array(candidates)), r"\s\s")
        doubled[candidates] = bool_mask(runs)
    checks = []
    for code, mask, reason, what in (
        (
            "LEADING_TRAILING_WHITESPACE",
            padded,
            "spaces before or after the value",
            "start or end with spaces",
        ),
        ("DOUBLE_WHITESPACE", doubled, "two or more spaces in a row inside the value", "hold double spaces"),
    ):
        if not mask.any():
            continue
        rows = _rows(profile, mask)
        checks.append(
            Check(
                code=code,
                severity="low",
                dimension="consistency",
                file_key=table.file_key,
                column=name,
                rows=rows,
                reason=reason,
                message=f"{len(rows):,} value(s) of '{name}' {what}; they will not match the same text "
                "typed cleanly in lookups and filters.",
                examples=[f"'{v}'" for v in _examples(values, mask, counts)],
                fix_agent="tidy_text",
                fix_message=f"Trim and collapse the spaces in '{name}'.",
            )
        )
    return checks


def _dates(table: LoadedTable, profile: ColumnProfile, stripped: pa.Array, filled: np.ndarray) -> list[Check]:
    """Dates written in a second format next to the column's main one (2024-03-01 and 01/03/2024)."""
    column_type = profile.column_type
    main = column_type.date_format
    if main is None or column_type.inferred_type not in ("date", "datetime"):
        return []
    text = pd.Series(stripped.to_pandas(), dtype="str")
    others = filled & ~_in_main_format(profile, text, filled, main)
    if not others.any():
        return []
    formatted = other_date_format(text[others], main).dropna()
    if formatted.empty:
        return []
    mask = np.zeros(len(filled), dtype=bool)
    mask[formatted.index.to_numpy()] = True
    reason_by_value = np.full(len(filled), "", dtype=object)
    reason_by_value[formatted.index.to_numpy()] = [f"date written as {f}, not {main}" for f in formatted]
    rows = _rows(profile, mask)
    formats = sorted(set(formatted))
    return [
        Check(
            code="MIXED_DATE_FORMATS",
            severity="medium",
            dimension="consistency",
            file_key=table.file_key,
            column=profile.name,
            rows=rows,
            reason=f"date not written as {main}",
            reasons=pa.array(reason_by_value[profile.encoded.codes[rows]].tolist(), pa.large_string()),
            message=f"Column '{profile.name}' mixes date formats: most dates are written {main}, but "
            f"{len(rows):,} are written {', '.join(formats)}; a program may read day and month swapped.",
            examples=_examples(stripped, mask, profile.encoded.counts),
            fix_agent="types_formats",
            fix_message=f"Rewrite the dates of '{profile.name}' in one format (YYYY-MM-DD).",
        )
    ]


def _in_main_format(profile: ColumnProfile, text: pd.Series, filled: np.ndarray, main: str) -> np.ndarray:
    """Per distinct value: does its trimmed text read as a date in the column's main format.

    When an earlier agent already parsed the column's typed values (NA where a cell does not
    read in that format), they answer it for every value whose text cannot be trimmed (first
    and last byte neither whitespace, control nor non-ASCII), so only the others are parsed
    again: a million distinct timestamps are not parsed twice. Formats with a UTC offset are
    parsed here, as the typed values read those differently (converted to UTC)."""
    typed = vars(profile).get("typed")  # only when already computed (the cached property)
    if typed is None or "%z" in main or main.endswith("Z"):
        return pd.to_datetime(text.where(filled, None), format=main, errors="coerce").notna().to_numpy()
    codes = profile.encoded.codes
    row = np.zeros(len(filled), dtype=np.int64)
    row[codes[::-1]] = np.arange(len(codes))[::-1]
    in_main = typed.notna().to_numpy()[row] & filled
    recheck = np.flatnonzero(_trimmable(profile.encoded.values) & filled)
    if len(recheck):
        parsed = pd.to_datetime(text.iloc[recheck], format=main, errors="coerce")
        in_main[recheck] = parsed.notna().to_numpy()
    return in_main


def _trimmable(values: pa.Array) -> np.ndarray:
    """Per value, True when `str.strip` might shorten it (see `textbytes.trimmable_ends`)."""
    text = text_bytes(values)
    if text is None:
        return np.ones(len(values), dtype=bool)
    return trimmable_ends(text)


def _looks_like(stripped: pa.Array, filled: np.ndarray, pattern: str) -> np.ndarray:
    return filled & bool_mask(pc.match_substring_regex(stripped, f"^(?:{pattern})$"))


def _validity(
    table: LoadedTable, profile: ColumnProfile, stripped: pa.Array, filled: np.ndarray, facts: dict[str, Any]
) -> list[Check]:
    """Emails, phone numbers, URLs and postal codes that are not valid, in columns that hold
    them (by meaning, or by name with at least half the values looking right)."""
    column_type = profile.column_type
    if column_type.inferred_type not in ("string", "integer"):
        return []
    semantic, name, counts = column_type.semantic_type, profile.name, profile.encoded.counts
    filled_rows = profile.encoded.rows_count(filled)
    checks: list[Check] = []

    def share(mask: np.ndarray) -> float:
        return profile.encoded.rows_count(mask) / filled_rows if filled_rows else 0.0

    kind: str | None = None
    valid: np.ndarray | None = None
    if semantic == "email" or _EMAIL_NAME.search(name):
        valid = filled & email_matches(profile, stripped)
        kind = "email" if semantic == "email" or share(valid) >= VALIDITY_SHARE else None
    elif semantic == "url" or _URL_NAME.search(name):
        valid = _looks_like(stripped, filled, _URL)
        kind = "url" if semantic == "url" or share(valid) >= VALIDITY_SHARE else None
    elif semantic == "phone" or (_PHONE_NAME.search(name) and column_type.inferred_type == "string"):
        present = np.flatnonzero(filled)
        check = check_phones(stripped.take(pa.array(present)))
        valid = np.zeros(len(filled), dtype=bool)
        valid[present] = check.valid
        facts["phone_check"] = check.to_dict()
        kind = "phone" if semantic == "phone" or share(valid) >= VALIDITY_SHARE else None
    elif semantic == "postal_code":
        valid = _looks_like(stripped, filled, f"{_POSTAL_DISTINCT}|{_POSTAL_DIGITS}")
        if _POSTAL_NAME.search(name):
            valid &= _dominant_length(stripped, filled, counts)
        kind = "postal_code"
    if kind is None or valid is None:
        return checks
    invalid = filled & ~valid
    facts["validated_as"] = kind
    facts["invalid_count"] = profile.encoded.rows_count(invalid)
    if not invalid.any():
        return checks
    words = {
        "email": "email addresses",
        "url": "web addresses",
        "phone": "phone numbers",
        "postal_code": "postal codes",
    }
    how = {
        "phone": "phonenumbers rejects them",
        "email": "they are not name@domain.tld in plain letters, digits and . _ % + ' -",
        "url": "they do not start with http(s):// or www.",
        "postal_code": "their shape differs from the column's postal codes",
    }
    rows = _rows(profile, invalid)
    checks.append(
        Check(
            code=f"INVALID_{kind.upper()}",
            severity="medium",
            dimension="validity",
            file_key=table.file_key,
            column=name,
            rows=rows,
            reason=f"not a valid {kind.replace('_', ' ')}",
            message=f"{len(rows):,} value(s) of '{name}' are not valid {words[kind]} ({how[kind]}).",
            examples=_examples(stripped, invalid, counts),
            fix_agent="types_formats",
            fix_message=f"Correct or blank the invalid {words[kind]} in '{name}'.",
        )
    )
    return checks


def _dominant_length(stripped: pa.Array, filled: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Postal codes of one country share a length: a 4-digit value in a 5-digit column lost its
    leading zero. True where the length is one held by at least 5% of the rows."""
    lengths = pc.utf8_length(stripped).to_numpy(zero_copy_only=False)
    per_length = pd.Series(counts[filled]).groupby(lengths[filled]).sum()
    common = per_length.index[(per_length / per_length.sum() >= 0.05).to_numpy()]
    return np.isin(lengths, common.to_numpy())


def _variants(table: LoadedTable, profile: ColumnProfile, filled: np.ndarray) -> list[Check]:
    """One category written several ways: case, accents, spacing, punctuation, or a rare
    spelling one letter away from a common one. Rows written the less common way are listed."""
    column_type = profile.column_type
    encoded = profile.encoded
    distinct = int(filled.sum())
    filled_rows = encoded.rows_count(filled)
    if (
        column_type.inferred_type not in ("string", "boolean")
        or column_type.semantic_type in ("email", "url", "identifier", "free_text", "phone")
        or distinct > MAX_CATEGORY_VALUES
        or distinct < 2
        or filled_rows < CATEGORY_ROWS_PER_VALUE * distinct / 4
    ):
        return []
    key_codes, keys = profile.matching
    values = encoded.values.to_pylist()
    counts = encoded.counts
    # the most common spelling of each key is its canonical one
    canonical: dict[int, int] = {}
    for i in np.argsort(-counts, kind="stable"):
        if filled[i]:
            canonical.setdefault(int(key_codes[i]), int(i))
    key_totals: dict[int, int] = {}
    for i in np.flatnonzero(filled):
        key_totals[int(key_codes[i])] = key_totals.get(int(key_codes[i]), 0) + int(counts[i])
    target = np.full(len(values), -1, dtype=np.int64)
    for i in np.flatnonzero(filled):
        best = canonical[int(key_codes[i])]
        if best != i:
            target[i] = best
    if keys is None:
        return []
    keys_text = keys.to_pylist()
    for rare, common in _misspellings(keys_text, key_totals):
        for i in np.flatnonzero(filled & (key_codes == rare)):
            target[i] = canonical[common]
    flagged = target >= 0
    if not flagged.any():
        return []
    reasons = np.array(
        [
            f"written '{values[i]}'; most rows write '{values[t]}'" if t >= 0 else ""
            for i, t in enumerate(target)
        ],
        dtype=object,
    )
    rows = encoded.rows_where(flagged)
    groups = {int(target[i]) for i in np.flatnonzero(flagged)}
    examples = [f"'{values[i]}' → '{values[target[i]]}'" for i in np.flatnonzero(flagged)[:5]]
    return [
        Check(
            code="CATEGORY_VARIANTS",
            severity="medium",
            dimension="consistency",
            file_key=table.file_key,
            column=profile.name,
            rows=rows,
            reason="category written differently from its usual spelling",
            reasons=pa.array(reasons[encoded.codes[rows]].tolist(), pa.large_string()),
            message=f"Column '{profile.name}' writes {len(groups):,} value(s) in several ways (case, "
            f"accents, spacing or spelling); {len(rows):,} row(s) use a less common spelling and will be "
            "counted as separate categories.",
            examples=examples,
            fix_agent="category_variants",
            fix_message=f"Merge the spellings of each category in '{profile.name}' into one.",
        )
    ]


def _within_one_edit(a: str, b: str) -> bool:
    """True when `b` is `a` with one letter changed, added or removed."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[i:] == long[i + 1 :]


def _misspellings(keys: list[str], totals: dict[int, int]) -> list[tuple[int, int]]:
    """(rare key, common key) pairs one edit apart where the rare one is much rarer."""
    pairs = []
    words = [k for k in totals if k >= 0 and len(keys[k]) >= MIN_MISSPELLING_LENGTH]
    if not words:
        return pairs
    top = max(totals[k] for k in words)
    rares = [
        k for k in words if totals[k] * MISSPELLING_RARITY <= top and not any(c.isdigit() for c in keys[k])
    ]
    frequents = sorted((k for k in words if totals[k] >= MISSPELLING_RARITY), key=lambda k: -totals[k])
    for rare in rares:
        for frequent in frequents:
            if totals[rare] * MISSPELLING_RARITY <= totals[frequent] and _within_one_edit(
                keys[rare], keys[frequent]
            ):
                pairs.append((rare, frequent))
                break
    return pairs


class PatternsAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        checked = {"email": 0, "url": 0, "phone": 0, "postal_code": 0}
        for table, profile in each_column(
            context, then=lambda table, profile: column_patterns(context, table, profile)
        ):
            patterns = column_patterns(context, table, profile)
            facts = dict(patterns.facts)
            for check in patterns.checks:
                facts[f"{check.code.lower()}_count"] = check.count
            result.columns[(table.file_key, profile.name)] = facts
            if facts.get("validated_as"):
                checked[facts["validated_as"]] += 1
            emit(result, AGENT_ID, patterns.checks)
        by_code: dict[str, int] = {}
        for alert in result.alerts:
            by_code[alert.code] = by_code.get(alert.code, 0) + alert.count
        result.metrics = {"columns_validated": checked, "rows_flagged_by_check": by_code}
        return result
