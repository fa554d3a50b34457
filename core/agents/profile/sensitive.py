"""The `sensitive` agent: columns holding personal data, and personal data hiding in other columns.

A column is flagged when most of its filled values are emails, phone numbers, person names,
payment card numbers (that pass the Luhn check), national ids or IBANs (that pass the ISO 7064
mod-97 check); the checksums keep order numbers and account codes from being taken for cards.
The report then masks that column's samples (`core.reports.mask_sensitive`). Card numbers,
IBANs, national ids and emails found in *other* columns (a card number typed into a notes
field) are listed row by row, because that is exactly the data nobody knows is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, AgentResult, Finding, LoadedTable
from core.agents.profile.checks import Check, emit
from core.agents.profile.emails import known_email_matches
from core.agents.profile.inference import _EMAIL, _PHONE, ColumnProfile, each_column
from core.agents.profile.textbytes import (
    ASCII,
    ByteMap,
    per_value_or,
    regex_bytes,
    text_bytes,
    trim_whitespace,
)
from core.agents.rows import join_text

AGENT_ID = "sensitive"
CACHE_KEY = "profile.sensitive"
COLUMN_SHARE = 0.8  # this share of filled values makes the whole column personal data
KINDS = ("email", "phone", "person_name", "card_number", "national_id", "iban", "date_of_birth")
HIGH_RISK = ("card_number", "national_id", "iban")
STRAY_KINDS = ("card_number", "iban", "national_id", "email")
KIND_WORDS = {
    "email": "email addresses",
    "phone": "phone numbers",
    "person_name": "person names",
    "card_number": "payment card numbers",
    "national_id": "national identity numbers",
    "iban": "bank account numbers (IBAN)",
    "date_of_birth": "dates of birth",
}
_NAME_COLUMN = re.compile(
    r"^(?:(?:first|last|full|given|family|middle|maiden|customer|contact|person|client|employee|patient)"
    r"[ _.-]?name|name|surname|forename|vorname|nachname|nom|prenom|prénom)$",
    re.IGNORECASE,
)
_NATIONAL_ID_COLUMN = re.compile(
    r"ssn|social[ _.-]?security|national[ _.-]?id|\bnino\b|passport|tax[ _.-]?id|\bnin\b"
    r"|personnummer|\bbsn\b",
    re.IGNORECASE,
)
_BIRTH_COLUMN = re.compile(r"birth|\bdob\b|geburt", re.IGNORECASE)
_PERSON_NAME = r"[\p{Lu}][\p{L}'’.-]*(?: [\p{Lu}][\p{L}'’.-]*){0,3}"
_CARD = r"\d(?:[ -]?\d){12,18}"
_SSN = (  # US social security numbers: no 000, 666 or 9xx area, no 00 group, no 0000 serial
    r"(?:00[1-9]|0[1-9]\d|[1-578]\d\d|6[0-57-9]\d|66[0-57-9])-(?:0[1-9]|[1-9]\d)"
    r"-(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})"
)
_NINO = r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"
_IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"
# the characters each kind's pattern can match, before upper-casing (so small letters too)
_ALLOWED = {
    "email": r"[A-Za-z0-9._%+'@-]",
    "national_id": r"[A-Za-z\d -]",
    "card_number": r"[\d -]",
    "iban": r"[A-Za-z\d ]",
}
_AT_BIT = 1 << len(_ALLOWED)
_NON_ASCII_BIT = _AT_BIT << 1


def _kind_table() -> ByteMap:
    """Per byte: a bit per kind whose pattern cannot hold it (never set for the bytes of
    non-ASCII characters: upper-casing may turn those into letters), one for '@' and one for
    the bytes of non-ASCII characters."""
    table = np.zeros(256, dtype=np.uint8)
    for bit, char_class in enumerate(_ALLOWED.values()):
        outside = ~regex_bytes(char_class)
        outside[ASCII:] = False
        table[outside] |= 1 << bit
    table[ord("@")] |= _AT_BIT
    table[ASCII:] |= _NON_ASCII_BIT
    return ByteMap(table)


_KIND_BYTES = _kind_table()


@dataclass
class ColumnSensitivity:
    kind: str | None
    share: float
    facts: dict[str, Any]
    checks: list[Check] = field(default_factory=list)


def _full(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, f"^(?:{pattern})$"), False).to_numpy(
        zero_copy_only=False
    )


def _where(target: np.ndarray, values: pa.Array, candidates: np.ndarray, *patterns: str) -> None:
    """Set `target` where a candidate value fully matches one of `patterns` (upper-cased)."""
    if not candidates.any():
        return
    if candidates.mean() > 0.5:  # most values: copying them out costs more than it saves
        upper = pc.utf8_upper(values)
        for pattern in patterns:
            target |= candidates & _full(upper, pattern)
        return
    idx = np.flatnonzero(candidates)
    subset = pc.utf8_upper(values.take(pa.array(idx)))
    hit = np.zeros(len(idx), dtype=bool)
    for pattern in patterns:
        hit |= _full(subset, pattern)
    target[idx[hit]] = True


def _digit_matrix(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned digits (0 padding) of each value, one row per value, and the lengths."""
    array = pc.cast(values, pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    matrix = np.zeros((len(array), width), dtype=np.int64)
    for j in range(width):
        has = lengths > j
        matrix[has, width - 1 - j] = data[offsets[1:][has] - 1 - j]
    return matrix, lengths


def luhn_valid(values: pa.Array) -> np.ndarray:
    """The Luhn checksum of each digit string (13–19 digits; separators removed first)."""
    digits = pc.replace_substring_regex(values, r"[ -]", "")
    matrix, lengths = _digit_matrix(digits, 19)
    matrix = np.where(matrix > 0, matrix - ord("0"), 0)
    doubled = matrix[:, -2::-2] * 2
    matrix[:, -2::-2] = np.where(doubled > 9, doubled - 9, doubled)
    return (matrix.sum(axis=1) % 10 == 0) & (lengths >= 13) & (lengths <= 19)


def iban_valid(values: pa.Array) -> np.ndarray:
    """ISO 13616 check: the country and check digits moved to the end, letters as 10..35, and
    the whole number mod 97 must be 1."""
    compact = pc.utf8_upper(pc.replace_substring(values, " ", ""))
    moved = join_text(pc.utf8_slice_codeunits(compact, 4), pc.utf8_slice_codeunits(compact, 0, 4))
    matrix, lengths = _digit_matrix(moved, 34)
    remainder = np.zeros(len(lengths), dtype=np.int64)
    for j in range(34):
        char = matrix[:, j]
        active = char > 0
        is_digit = (char >= ord("0")) & (char <= ord("9"))
        value = np.where(is_digit, char - ord("0"), char - ord("A") + 10)
        step = np.where(is_digit, 10, 100)
        remainder = np.where(active, (remainder * step + value) % 97, remainder)
    return (remainder == 1) & (lengths >= 15)


def _kind_masks(profile: ColumnProfile, stripped: pa.Array) -> dict[str, np.ndarray]:
    """Per kind, which distinct values are that kind of personal data."""
    n = len(stripped)
    masks = {kind: np.zeros(n, dtype=bool) for kind in ("email", "card_number", "iban", "national_id")}
    # cheap filters first (an '@', a plausible length, only characters the pattern allows),
    # the regexes only on what passes them
    shaped = _shaped_like(stripped)
    lengths = _char_lengths(stripped, shaped)
    _emails(masks["email"], profile, stripped, shaped)
    national_id_shaped = shaped["national_id"] & (lengths >= 9) & (lengths <= 13)
    _where(masks["national_id"], stripped, national_id_shaped, _SSN, _NINO)
    card_shaped = np.zeros(n, dtype=bool)
    _where(card_shaped, stripped, shaped["card_number"] & (lengths >= 13) & (lengths <= 23), _CARD)
    if card_shaped.any():
        idx = np.flatnonzero(card_shaped)
        masks["card_number"][idx] = luhn_valid(stripped.take(pa.array(idx)))
    iban_shaped = np.zeros(n, dtype=bool)
    _where(iban_shaped, stripped, shaped["iban"] & (lengths >= 15) & (lengths <= 42), _IBAN)
    if iban_shaped.any():
        idx = np.flatnonzero(iban_shaped)
        masks["iban"][idx] = iban_valid(stripped.take(pa.array(idx)))
    semantic = profile.column_type.semantic_type
    if semantic == "phone":
        masks["phone"] = _full(stripped, _PHONE)
    if _NAME_COLUMN.search(profile.name.strip()):
        masks["person_name"] = _full(stripped, _PERSON_NAME)
    return masks


def _emails(
    target: np.ndarray, profile: ColumnProfile, stripped: pa.Array, shaped: dict[str, np.ndarray]
) -> None:
    """Set `target` where the upper-cased value is an email. `_EMAIL`'s character classes hold
    both cases of every letter they hold and nothing outside ASCII, so an ASCII value matches
    upper-cased exactly when it matches as written: when `patterns` already matched the column
    (`known_email_matches`), only the non-ASCII candidates (which upper-casing may turn into
    ASCII, 'ı' into 'I') are matched here."""
    known = known_email_matches(profile)
    if known is None or "ascii" not in shaped:
        _where(target, stripped, shaped["email"], _EMAIL)
        return
    target |= shaped["email"] & shaped["ascii"] & known
    _where(target, stripped, shaped["email"] & ~shaped["ascii"], _EMAIL)


def _char_lengths(stripped: pa.Array, shaped: dict[str, np.ndarray]) -> np.ndarray:
    """Per value, its length in characters: its length in bytes when it is ASCII (most
    values, known from `_shaped_like`), Arrow's count for the others."""
    text = text_bytes(stripped)
    if text is None or "ascii" not in shaped:
        return pc.utf8_length(stripped).to_numpy(zero_copy_only=False)
    lengths = text.lengths.copy()
    others = ~shaped["ascii"]
    if others.any():
        lengths[others] = pc.utf8_length(stripped.filter(pa.array(others))).to_numpy(zero_copy_only=False)
    return lengths


def _shaped_like(stripped: pa.Array) -> dict[str, np.ndarray]:
    """Per kind, the values that could match its pattern once upper-cased: those holding an
    '@' for emails, and only characters the pattern allows (or non-ASCII ones, which the
    regex judges) for every kind; and under "ascii", the values of ASCII bytes alone. One
    pass over the bytes instead of a regex per kind over every value: a million timestamps
    or emails cannot be card numbers, and now cost no regex."""
    text = text_bytes(stripped)
    if text is None:
        everything = np.ones(len(stripped), dtype=bool)
        at = pc.fill_null(pc.match_substring(stripped, "@"), False).to_numpy(zero_copy_only=False)
        return {"email": at, "national_id": everything, "card_number": everything, "iban": everything}
    found = per_value_or(text, _KIND_BYTES(text.data))
    shaped = {kind: (found & (1 << bit)) == 0 for bit, kind in enumerate(_ALLOWED)}
    shaped["email"] &= (found & _AT_BIT) > 0
    shaped["ascii"] = (found & _NON_ASCII_BIT) == 0
    return shaped


def column_sensitivity(
    context: AgentContext, table: LoadedTable, profile: ColumnProfile
) -> ColumnSensitivity:
    """The cached personal-data verdict of one column."""
    cache: dict[tuple[str, str], ColumnSensitivity] = context.cache.setdefault(CACHE_KEY, {})
    key = (table.file_key, profile.name)
    if key not in cache:
        cache[key] = _compute(table, profile)
    return cache[key]


def _compute(table: LoadedTable, profile: ColumnProfile) -> ColumnSensitivity:
    encoded = profile.encoded
    filled = ~profile.missing_codes
    filled_rows = encoded.rows_count(filled)
    if filled_rows == 0:
        return ColumnSensitivity(None, 0.0, {})
    stripped = trim_whitespace(encoded.values)
    masks = _kind_masks(profile, stripped)
    shares = {kind: encoded.rows_count(mask & filled) / filled_rows for kind, mask in masks.items()}
    kind, share = max(shares.items(), key=lambda item: item[1])
    if share < COLUMN_SHARE:
        kind = None
    if kind is None and _NATIONAL_ID_COLUMN.search(profile.name):
        kind, share = "national_id", 1.0
    if (
        kind is None
        and _BIRTH_COLUMN.search(profile.name)
        and profile.column_type.inferred_type
        in (
            "date",
            "datetime",
        )
    ):
        kind, share = "date_of_birth", 1.0
    facts: dict[str, Any] = {"sensitive": kind is not None}
    if kind is not None:
        facts.update({"sensitive_kind": kind, "sensitive_share": share})
    result = ColumnSensitivity(kind, share, facts)
    if kind is None and profile.column_type.inferred_type == "string":
        for stray in STRAY_KINDS:
            mask = masks.get(stray)
            if mask is None or not (mask & filled).any():
                continue
            rows = encoded.rows_where(mask & filled)
            result.checks.append(
                Check(
                    code="SENSITIVE_VALUES",
                    severity="high" if stray in HIGH_RISK else "medium",
                    dimension="none",
                    file_key=table.file_key,
                    column=profile.name,
                    rows=rows,
                    reason=f"looks like {KIND_WORDS[stray][:-1] if stray != 'iban' else 'an IBAN'}",
                    message=f"Column '{profile.name}' holds {len(rows):,} value(s) that look like "
                    f"{KIND_WORDS[stray]}; personal data in an unexpected column is easy to leak.",
                    examples=[mask_text(v) for v in stripped.filter(pa.array(mask & filled))[:5].to_pylist()],
                )
            )
    return result


def mask_text(value: Any) -> Any:
    """A sample value with its middle hidden: enough to recognise, not enough to reuse.

    'jane.doe@example.com' -> 'j*******************m'; short values are fully hidden."""
    if value is None:
        return None
    text = str(value)
    if len(text) <= 4:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 2) + text[-1]


class SensitiveAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        flagged: dict[str, list[str]] = {}
        for table, profile in each_column(
            context, then=lambda table, profile: column_sensitivity(context, table, profile)
        ):
            found = column_sensitivity(context, table, profile)
            result.columns[(table.file_key, profile.name)] = dict(found.facts)
            emit(result, AGENT_ID, found.checks)
            if found.kind is None:
                continue
            flagged.setdefault(found.kind, []).append(profile.name)
            filled_rows = profile.encoded.rows_count(~profile.missing_codes)
            result.alerts.append(
                Finding(
                    severity="high" if found.kind in HIGH_RISK else "medium",
                    agent=AGENT_ID,
                    code="SENSITIVE_COLUMN",
                    message=f"Column '{profile.name}' holds {KIND_WORDS[found.kind]} "
                    f"({found.share:.0%} of its {filled_rows:,} filled rows): personal data. Its samples "
                    "are masked in this report; limit who receives the file.",
                    column=profile.name,
                    file_key=table.file_key,
                    count=filled_rows,
                    examples=[mask_text(v) for v in profile.present.head(3).tolist()],
                )
            )
        result.metrics = {
            "sensitive_columns": sum(len(v) for v in flagged.values()),
            "columns_by_kind": {k: sorted(v) for k, v in sorted(flagged.items())},
        }
        return result
