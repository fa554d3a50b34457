"""Which phone numbers are valid, decided by Google's `phonenumbers` library, at column speed.

`phonenumbers.parse` + `is_valid_number` costs about 70 µs a number: over a million
distinct numbers that is more than a minute. The library's own metadata holds, per country
calling code, the regular expressions that a valid national number matches; those are run
here over the whole column with RE2 (vectorised), and every number they reject is then
checked one by one with `phonenumbers` itself, so nothing is reported invalid that the
library accepts. A sample of the numbers the patterns accept is also checked one by one,
and any disagreement is counted in the result instead of being hidden.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.profile.textbytes import (
    ByteMap,
    TextBytes,
    byte_at,
    drop_leading,
    keep_bytes,
    regex_bytes,
    text_bytes,
)

CONFIRM_LIMIT = 20_000  # distinct rejected numbers re-checked one by one with phonenumbers
AGREEMENT_SAMPLE = 300  # distinct accepted numbers re-checked to measure agreement
SPLIT_AT = 200_000  # from this many numbers, two threads share the pattern checks: a phone
# column is often a run's longest single task, finishing after every other column is done
REGION_SAMPLE = 100
FALLBACK_REGION = "US"
CANDIDATE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "ES", "IT", "NL", "BR", "MX", "CH", "BE")
_TYPE_DESCS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
_SHAPE = r"^\+?[\d\s().\-/]{6,30}$"
_DIGIT_BYTES = ByteMap(regex_bytes(r"\d"))  # RE2's \d is ASCII: keeping these is removing \D


@dataclass(frozen=True)
class PhoneCheck:
    """Per distinct value: valid or not; with how it was decided."""

    valid: np.ndarray
    region: str
    confirmed: int  # rejected by the patterns, then re-checked one by one
    sample_checked: int
    sample_disagreements: int  # accepted by the patterns but not by phonenumbers

    def to_dict(self) -> dict[str, object]:
        return {
            "default_region": self.region,
            "checked_one_by_one": self.confirmed,
            "agreement_sample": self.sample_checked,
            "agreement_sample_disagreements": self.sample_disagreements,
        }


def is_valid_phone(text: str, region: str) -> bool:
    """The reference answer: phonenumbers' own parse and validation."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


@cache
def _possible_lengths(country_code: int) -> frozenset[int] | None:
    """The national number lengths a valid number of this calling code can have: the union of
    its regions' general lengths (`is_valid_number` requires one of them before any pattern);
    None when a region leaves the length open."""
    lengths: set[int] = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None or metadata.general_desc is None:
            continue
        if not metadata.general_desc.possible_length:
            return None
        lengths.update(metadata.general_desc.possible_length)
    return frozenset(lengths)


def _is_valid_quick(text: str, region: str) -> bool:
    """`is_valid_phone`, answered without `is_valid_number` for numbers of a length no region
    of their calling code allows: finding the number's region tries every region's patterns
    (some twenty for +1), which is most of the cost of rejecting a too-short number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    lengths = _possible_lengths(number.country_code)
    if lengths is not None and len(phonenumbers.national_significant_number(number)) not in lengths:
        return False
    return phonenumbers.is_valid_number(number)


@cache
def _pattern(country_code: int, main_region_only: bool = False) -> str | None:
    """One RE2 pattern matching every valid national number of a calling code (all regions
    that share it, every number type), from phonenumbers' metadata; with `main_region_only`,
    those of its main region alone (+1: the US), a far smaller pattern tried first."""
    parts = []
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    for region in regions[:1] if main_region_only else regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        for name in _TYPE_DESCS:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                parts.append(f"(?:{desc.national_number_pattern})")
    return f"^(?:{'|'.join(parts)})$" if parts else None


def _national_prefix(region: str) -> str | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


def detect_region(values: list[str]) -> str:
    """The region numbers written without a country code belong to: that of the country code
    most numbers carry when most carry one; otherwise the region whose numbering plan accepts
    most of a sample (a German file's '030 1234567' is not a US number)."""
    written = [v.strip() for v in values if v.strip()]
    international = [v for v in written if v.startswith("+")]
    if written and len(international) * 2 >= len(written):
        regions: Counter[str] = Counter()
        for text in international[:REGION_SAMPLE]:
            try:
                number = phonenumbers.parse(text, None)
            except phonenumbers.NumberParseException:
                continue
            regions[phonenumbers.region_code_for_country_code(number.country_code)] += 1
        if regions:
            return regions.most_common(1)[0][0]
    local = [v for v in written if not v.startswith(("+", "00"))][:REGION_SAMPLE]
    if not local:
        return FALLBACK_REGION
    scores = Counter({region: sum(is_valid_phone(v, region) for v in local) for region in CANDIDATE_REGIONS})
    region, hits = scores.most_common(1)[0]
    return region if hits else FALLBACK_REGION


def check_phones(values: pa.Array) -> PhoneCheck:
    """Validity of each distinct phone text in `values` (already stripped, no missing)."""
    n = len(values)
    valid = np.zeros(n, dtype=bool)
    if n == 0:
        return PhoneCheck(valid, FALLBACK_REGION, 0, 0, 0)
    spread = values.take(pa.array(np.linspace(0, n - 1, min(n, 400)).astype(np.int64))).to_pylist()
    region = detect_region(spread)
    values = _plain_text(values)
    if n < SPLIT_AT:
        valid = _pattern_valid(values, region)
    else:  # every value is judged alone: the halves side by side, then put back in order
        half = n // 2
        with ThreadPoolExecutor(1, thread_name_prefix="phones") as helper:
            second = helper.submit(_pattern_valid, values.slice(half), region)
            first = _pattern_valid(values.slice(0, half), region)
            valid = np.concatenate([first, second.result()])
    return _confirm(values, valid, region)


def _pattern_valid(values: pa.Array, region: str) -> np.ndarray:
    """Per value (plain text, no nulls): shaped like a phone number and matched by the
    metadata patterns of its calling code, before the one-by-one confirmation."""
    valid = np.zeros(len(values), dtype=bool)
    text = text_bytes(values)
    assert text is not None  # plain text without nulls
    international = byte_at(text) == ord("+")  # "00" and "011" prefixes are left to phonenumbers
    shaped = pc.fill_null(pc.match_substring_regex(values, _SHAPE), False).to_numpy(zero_copy_only=False)
    digits = keep_bytes(values, text, _DIGIT_BYTES)
    home = phonenumbers.country_code_for_region(region)
    codes, width = _calling_codes(digits, international)
    codes = np.where(international, codes, home)
    national = drop_leading(digits, _digit_text(digits), width)
    prefix = _national_prefix(region)
    for code in np.flatnonzero(np.bincount(codes)):  # the calling codes held, ascending (all < 1000)
        pattern = _pattern(int(code)) if code else None
        if pattern is None:
            continue
        selected = codes == code
        subset = national.filter(pa.array(selected))
        matched = _matches(subset, _pattern(int(code), True) or pattern)
        if not matched.all():
            rest = ~matched
            matched[rest] = _matches(subset.filter(pa.array(rest)), pattern)
        if code == home and prefix:  # '1 201 555 0100' in the US: the trunk prefix, then the number
            retry = ~matched & pc.starts_with(subset, prefix).to_numpy(zero_copy_only=False)
            if retry.any():
                unprefixed = pc.utf8_slice_codeunits(subset.filter(pa.array(retry)), len(prefix))
                matched[retry] = _matches(unprefixed, pattern)
        valid[selected] = matched
    return valid & shaped


def _plain_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.large_string())
    return pc.fill_null(values, "") if values.null_count else values


def _digit_text(digits: pa.Array) -> TextBytes:
    text = text_bytes(digits)
    assert text is not None  # built from plain text without nulls
    return text


def _calling_codes(digits: pa.Array, international: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per number written with a '+': the calling code its digits start with and its width in
    digits (0 when none). Calling codes are prefix-free, so the first width that names one
    is the one; they never start with 0, so the leading digits read as an integer say it."""
    text = _digit_text(digits)
    n = len(international)
    codes = np.zeros(n, dtype=np.int64)
    width = np.zeros(n, dtype=np.int64)
    known = np.zeros(1000, dtype=bool)
    known[[c for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE if 0 < c < 1000]] = True
    leading = np.zeros(n, dtype=np.int64)
    remaining = international & (byte_at(text) > ord("0"))
    for w in (1, 2, 3):
        digit = byte_at(text, w - 1)
        remaining &= digit >= 0  # shorter numbers were tried whole at a smaller width
        leading = leading * 10 + (digit - ord("0"))
        hit = remaining & known[np.where(remaining, leading, 0)]
        codes[hit] = leading[hit]
        width[hit] = w
        remaining &= ~hit
    return codes, width


def _matches(values: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def _confirm(values: pa.Array, valid: np.ndarray, region: str) -> PhoneCheck:
    """Re-check rejected numbers one by one (so every reported one is truly invalid), and a
    sample of accepted ones (disagreements are counted and the number marked invalid)."""
    rejected = np.flatnonzero(~valid)[:CONFIRM_LIMIT]
    for i, text in zip(rejected, values.take(pa.array(rejected)).to_pylist(), strict=True):
        valid[i] = _is_valid_quick(text, region)
    accepted = np.flatnonzero(valid)
    sample = accepted[
        np.linspace(0, len(accepted) - 1, min(len(accepted), AGREEMENT_SAMPLE)).astype(np.int64)
    ]
    disagreements = 0
    if len(sample):
        for i, text in zip(sample, values.take(pa.array(sample)).to_pylist(), strict=True):
            if not _is_valid_quick(text, region):
                valid[i] = False
                disagreements += 1
    return PhoneCheck(valid, region, len(rejected), len(sample), disagreements)
