"""What a column of text holds: its type, its meaning and its missing cells.

Every profile agent needs the same answers (which cells are missing, is this column numeric,
which date format), so they are computed here once per column and cached in the run's shared
`context.cache`. A type is accepted when at least 95% of the filled cells fit it, because real
files carry a few stray values ("n/k", "see note") that should be reported, not allowed to
turn a numeric column into text.

The work is vectorised on the pyarrow arrays behind the text columns (RE2 regexes, casts,
distinct counts): the same operations through pandas' `.str` methods fall back to Python for
some patterns and are up to 30 times slower on a million rows.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, LoadedTable
from core.agents.profile.textbytes import (
    ByteMap,
    byte_at,
    is_plain_ascii,
    per_value_sum,
    regex_bytes,
    text_bytes,
    trimmable_ends,
)

T = TypeVar("T")

TYPE_THRESHOLD = 0.95  # share of filled cells that must fit a type for the column to have it
CANDIDATE_THRESHOLD = 0.5  # below this a type is not even worth reporting as "mostly"
SAMPLE_SIZE = 2000
MAX_EXAMPLES = 5
CATEGORICAL_MAX_DISTINCT = 50
IDENTIFIER_MAX_LENGTH = 64
MIN_SEQUENCE = 20  # fewer consecutive integers are as likely ratings or counts as row ids
MAX_EXACT_DIGITS = 15  # beyond this a number is a code: spreadsheets and floats lose digits

INFERRED_TYPES = ("integer", "float", "boolean", "date", "datetime", "string", "empty")
SEMANTIC_TYPES = (
    "email",
    "phone",
    "url",
    "postal_code",
    "currency",
    "percentage",
    "categorical",
    "free_text",
    "identifier",
    "numeric",
    "date",
    "boolean",
    "none",
)

# Compared after strip + lower. Whitespace-only cells strip to "" and so are missing too.
MISSING_MARKERS = frozenset(
    {
        "",
        "n/a",
        "na",
        "n.a.",
        "null",
        "(null)",
        "<null>",
        "none",
        "nil",
        "-",
        "--",
        "?",
        "nan",
        "#n/a",
        "#na",
        "<na>",
        "missing",
        "(blank)",
        "undefined",
        "not available",
    }
)

BOOLEAN_TRUE = frozenset({"true", "yes", "y", "t"})
BOOLEAN_FALSE = frozenset({"false", "no", "n", "f"})

# (whole value, integer-only value) for each way of writing numbers.
NUMBER_STYLES: dict[str, tuple[str, str]] = {
    "plain": (r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", r"[+-]?\d+"),
    "thousands": (r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)"),
    "decimal_comma": (r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?", r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)"),
}
_CURRENCY = r"(?:US\$|[$€£¥₹]|USD|EUR|GBP|CHF|JPY|CAD|AUD)"
_CURRENCY_PREFIX = rf"^([+-]?)\s*{_CURRENCY}\s*"
_CURRENCY_SUFFIX = rf"\s*{_CURRENCY}$"
_HAS_CURRENCY = rf"^[+-]?\s*{_CURRENCY}|{_CURRENCY}$"
_PERCENT_SUFFIX = r"\s*%$"

DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
)
_DATE_LIKE = re.compile(
    r"^\s*(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{2,4}|[A-Za-z]{3,9} \d{1,2}, \d{4})"
)
_DAY_MONTH_SWAPS = {"%d/%m": "%m/%d", "%m/%d": "%d/%m", "%d-%m": "%m-%d", "%m-%d": "%d-%m"}

_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_URL = r"(?:https?|ftp)://[^\s/$.?#][^\s]*|www\.[^\s.]+\.[^\s]+"
_PHONE = r"(?:\+|00)?[\d\s().-]{7,22}"
_POSTAL_DISTINCT = r"\d{5}-\d{4}|[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}|[A-Za-z]\d[A-Za-z]\s?\d[A-Za-z]\d"
_POSTAL_DIGITS = r"\d{4,5}(?:-\d{3,4})?|\d{3}-\d{3,4}"

_POSTAL_NAME = re.compile(r"zip|postal|postcode|post_code|plz|\bcp\b|cep\b", re.IGNORECASE)
_PHONE_NAME = re.compile(r"phone|\btel\b|telephone|mobile|\bcell|\bfax\b", re.IGNORECASE)
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key|ref|code|nr|no|number)$|^id[_\s.-]|[a-z](Id|ID)$")


# ---- missing values -------------------------------------------------------------------------
def as_text(values: pd.Series) -> pd.Series:
    """The column as pandas' `str` dtype with "" for missing cells (what the loader produces)."""
    text = values if values.dtype == "str" else values.astype("str")
    return text.fillna("") if _has_nulls(text) else text


def _has_nulls(text: pd.Series) -> bool:
    """`text.hasnans`, read off the Arrow array's null count when Arrow holds the text: the
    same answer without a pass over the cells, which a file of thousands of short columns
    would otherwise pay per column and per check."""
    array = text.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        return array.__arrow_array__().null_count > 0
    return bool(text.hasnans)


def _arrow(text: pd.Series) -> pa.ChunkedArray | pa.Array:
    """The pyarrow array behind a `str` column (zero-copy for what the loader produces)."""
    text = as_text(text)
    if isinstance(text.array, pd.arrays.ArrowStringArray):
        return text.array.__arrow_array__()
    return pa.array(text)


def bool_mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A pyarrow boolean result as a numpy mask (null counts as False): the one conversion the
    agents use for Arrow's answers."""
    if array.null_count:
        array = pc.fill_null(array, False)
    return array.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _normalised(array: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Trimmed and lower-cased, as missing markers and booleans are compared. Plain ASCII text
    takes Arrow's ASCII kernels, three times quicker and the same for it (the Unicode trim also
    removes the separators \\x1c-\\x1f, so text holding those takes the Unicode path)."""
    if is_plain_ascii(array):
        return pc.ascii_lower(pc.ascii_trim_whitespace(array))
    return pc.utf8_lower(pc.utf8_trim_whitespace(array))


def is_missing(series: pd.Series) -> pd.Series:
    """True where a cell is empty, whitespace-only or a missing-value marker such as 'N/A'."""
    return pd.Series(missing_mask(_arrow(series)), index=series.index, name=series.name)


def missing_mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`is_missing` on Arrow text (no nulls), as a numpy mask."""
    candidates = _marker_candidates(array)
    if candidates is None or candidates.all():
        return bool_mask(pc.is_in(_normalised(array), value_set=_MARKER_SET))
    marks = np.zeros(len(array), dtype=bool)
    if candidates.any():
        some = array.filter(pa.array(candidates))
        marks[candidates] = bool_mask(pc.is_in(_normalised(some), value_set=_MARKER_SET))
    return marks


_MARKER_SET = pa.array(sorted(MISSING_MARKERS))
_MARKER_BYTES = max(len(m.encode()) for m in MISSING_MARKERS)


def _marker_first_bytes() -> np.ndarray:
    """Per first byte (and "no byte", index -1), True when a value starting with it might be a
    marker once lower-cased: the markers' first characters in either case, and the empty value."""
    table = np.zeros(257, dtype=bool)
    table[-1] = True
    for marker in MISSING_MARKERS:
        if marker:
            table[[ord(marker[0].lower()), ord(marker[0].upper())]] = True
    return table


_MARKER_FIRST = _marker_first_bytes()


def _marker_candidates(array: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """Values that could be missing markers: short ones starting with a marker's first
    character, and ones that trimming could shorten (whitespace or a non-ASCII byte at either
    end; a non-ASCII first character might also lower-case to an ASCII one). An id, a phone
    number or an email skips the trim and lower-case pass: it is longer than any marker or
    starts with a digit or '+'. None when the array holds nulls (then every value is checked)."""
    raw = text_bytes(array)
    if raw is None:
        return None
    return ((raw.lengths <= _MARKER_BYTES) & _MARKER_FIRST[byte_at(raw)]) | trimmable_ends(raw)


def is_null(series: pd.Series) -> pd.Series:
    """True where a cell is truly empty (no characters at all)."""
    return pd.Series(bool_mask(pc.equal(_arrow(series), "")), index=series.index, name=series.name)


# ---- the inferred type ----------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnType:
    """What a column holds, and how sure we are.

    `parse_share` is the share of filled cells that fit `inferred_type`. When some do not,
    `mismatch_type` names the type most cells have (the inferred one, or a type that fell
    short of 95%), with how many cells do not fit it and a few examples.
    """

    inferred_type: str
    semantic_type: str = "none"
    parse_share: float = 1.0
    semantic_share: float | None = None
    date_format: str | None = None
    date_ambiguous: bool = False
    number_format: str | None = None  # "plain", "thousands" or "decimal_comma"
    formatted_numbers: int = 0  # cells with currency/percent signs, separators, decimal commas
    formatted_examples: tuple[str, ...] = ()
    non_missing: int = 0
    distinct_count: int = 0
    mismatch_type: str | None = None
    mismatch_share: float = 0.0
    mismatch_count: int = 0
    mismatch_examples: tuple[str, ...] = ()
    mismatch_number_format: str | None = None  # how the majority type is written, to find the misfits
    mismatch_date_format: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "inferred_type": self.inferred_type,
            "semantic_type": self.semantic_type,
            "type_share": round(self.parse_share, 6),
            "semantic_share": None if self.semantic_share is None else round(self.semantic_share, 6),
            "date_format": self.date_format,
            "number_format": self.number_format,
        }


@dataclass
class _Candidate:
    kind: str  # "boolean", "integer", "float", "date", "datetime"
    share: float
    fits: np.ndarray
    number_format: str | None = None
    date_format: str | None = None
    affixed: bool = False  # some numbers carry currency or percent signs
    formatted: int = 0  # numbers written with more than digits, sign and point
    formatted_examples: tuple[str, ...] = ()


def infer_column(
    values: pd.Series,
    missing: pd.Series | None = None,
    distinct: int | None = None,
    *,
    weights: np.ndarray | None = None,
    sample: pd.Series | None = None,
) -> ColumnType:
    """The type and meaning of a column of text, judged on its filled cells.

    Types are tried from the most specific (boolean, numbers, dates) to text, each first on
    an evenly spread sample so that a column of names costs a few milliseconds, then on the
    whole column.

    With `weights`, `values` are a column's distinct texts and `weights` how many rows hold
    each: every share is then weighted by rows, so the verdict is the one the rows would give
    while each rule runs once per distinct value (a date column of a million rows and 4,000
    dates parses 4,000 texts). `sample` is then the evenly spread sample of the rows' texts.
    """
    text = as_text(values)
    missing = is_missing(text) if missing is None else missing
    keep = ~missing.to_numpy()
    present = text[keep]
    counts = None if weights is None else np.asarray(weights, dtype=np.int64)[keep]
    n = len(present) if counts is None else int(counts.sum())
    if n == 0:
        return ColumnType("empty", "none", parse_share=0.0)
    stripped = pc.utf8_trim_whitespace(_arrow(present))
    if distinct is None:
        distinct = int(pc.count_distinct(_arrow(present)).as_py())
    name = str(values.name) if values.name is not None else ""
    if counts is None:
        rows_sample = _even_sample(stripped)
    else:
        rows_sample = pc.utf8_trim_whitespace(_arrow(as_text(sample if sample is not None else present)))
    column = _Weighted(stripped, counts)

    accepted, nearest = _choose_type(rows_sample, column)
    if accepted is not None and accepted.kind == "integer" and _is_code(column, accepted.fits):
        nearest, accepted = None, None  # zip codes, account numbers: text that looks numeric
    if accepted is None:
        semantic, semantic_share = _text_semantic(column, rows_sample, distinct, n, name)
        base = ColumnType("string", semantic, 1.0, semantic_share, non_missing=n, distinct_count=distinct)
        return _with_mismatch(base, nearest, column)
    semantic, semantic_share = _typed_semantic(accepted, column, distinct, n, name)
    ambiguous = bool(accepted.date_format) and _date_order_ambiguous(column, accepted.date_format)
    column_type = ColumnType(
        accepted.kind,
        semantic,
        accepted.share,
        semantic_share,
        date_format=accepted.date_format,
        date_ambiguous=ambiguous,
        number_format=accepted.number_format,
        formatted_numbers=accepted.formatted,
        formatted_examples=accepted.formatted_examples,
        non_missing=n,
        distinct_count=distinct,
    )
    return _with_mismatch(column_type, accepted if accepted.share < 1.0 else None, column)


@dataclass(frozen=True)
class _Weighted:
    """A column's filled texts (stripped) with the rows each stands for: one per text when
    `counts` is None, else the count of rows holding that distinct text."""

    texts: pa.ChunkedArray | pa.Array
    counts: np.ndarray | None = None

    def share(self, fits: np.ndarray) -> float:
        """The share of rows whose text fits."""
        if len(fits) == 0:
            return 0.0
        if self.counts is None:
            return float(fits.mean())
        return float(self.counts[fits].sum() / self.counts.sum())

    def rows(self, fits: np.ndarray) -> int:
        return int(fits.sum()) if self.counts is None else int(self.counts[fits].sum())

    def filter(self, fits: np.ndarray) -> _Weighted:
        if fits.all():  # every value fits (a clean column): nothing to copy
            return self
        counts = None if self.counts is None else self.counts[fits]
        return _Weighted(self.texts.filter(pa.array(fits)), counts)


def _choose_type(
    sample: pa.ChunkedArray | pa.Array, column: _Weighted
) -> tuple[_Candidate | None, _Candidate | None]:
    """The first type (boolean, number, date) that fits 95% of the cells, else None; and the
    type that fits the most cells among those that fell short (for MIXED_TYPES)."""
    nearest: _Candidate | None = None
    whole = column.counts is None and len(sample) == len(column.texts)  # the sample is every row
    for probe in (_boolean_candidate, _number_candidate, _date_candidate):
        on_sample = probe(_Weighted(sample), None)
        if on_sample is None or on_sample.share < CANDIDATE_THRESHOLD:
            continue
        candidate = on_sample if whole else probe(column, on_sample)
        if candidate is None:
            continue
        if candidate.share >= TYPE_THRESHOLD:
            return candidate, None
        if nearest is None or candidate.share > nearest.share:
            nearest = candidate
    return None, nearest


def _even_sample(array: pa.ChunkedArray | pa.Array, size: int = SAMPLE_SIZE) -> pa.Array:
    """Evenly spread rows, the same every run (a head-only sample misses late changes)."""
    if len(array) <= size:
        return array
    return array.take(pa.array(np.linspace(0, len(array) - 1, size).astype(np.int64)))


def _with_mismatch(column_type: ColumnType, candidate: _Candidate | None, column: _Weighted) -> ColumnType:
    if candidate is None:
        return column_type
    misfits = column.texts.filter(pa.array(~candidate.fits))
    examples = tuple(str(v) for v in pc.unique(misfits).slice(0, MAX_EXAMPLES).to_pylist())
    return replace(
        column_type,
        mismatch_type=candidate.kind,
        mismatch_share=candidate.share,
        mismatch_count=column.rows(~candidate.fits),
        mismatch_examples=examples,
        mismatch_number_format=candidate.number_format,
        mismatch_date_format=candidate.date_format,
    )


_BOOLEAN_TOKENS = pa.array(sorted(BOOLEAN_TRUE | BOOLEAN_FALSE))


def _boolean_candidate(column: _Weighted, hint: _Candidate | None) -> _Candidate | None:
    fits = bool_mask(pc.is_in(pc.utf8_lower(column.texts), value_set=_BOOLEAN_TOKENS))
    return _Candidate("boolean", column.share(fits), fits)


def _strip_affixes(array: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """The number inside '$1,234.50', '12 €' or '12.5%' (three passes saved when none has one)."""
    if not pc.any(pc.match_substring_regex(array, f"{_HAS_CURRENCY}|%$")).as_py():
        return array
    core = pc.replace_substring_regex(array, _CURRENCY_PREFIX, r"\1")
    core = pc.replace_substring_regex(core, _CURRENCY_SUFFIX, "")
    return pc.replace_substring_regex(core, _PERCENT_SUFFIX, "")


def _full_match(array: pa.ChunkedArray | pa.Array, pattern: str) -> np.ndarray:
    return bool_mask(pc.match_substring_regex(array, f"^(?:{pattern})$"))


def _number_candidate(column: _Weighted, hint: _Candidate | None) -> _Candidate | None:
    """The way of writing numbers (plain, 1,234.5 or 1.234,5) that fits most cells.

    Plain numbers are checked first on the raw text: when they all fit, no other style or
    currency sign can fit more, which spares most numeric columns four regex passes.
    """
    array = column.texts
    plain = _full_match(array, NUMBER_STYLES["plain"][0])
    if plain.all():
        return _number_result(column, array, "plain", plain, affixed=False, formatted=0)
    core = _strip_affixes(array)
    best: tuple[str, np.ndarray, int] | None = None
    for style, (pattern, _) in NUMBER_STYLES.items():
        fits = _full_match(core, pattern)
        rows = column.rows(fits)
        if best is None or rows > best[2]:
            best = (style, fits, rows)
        if fits.all():
            break  # no other style can fit more
    assert best is not None
    style, fits, _ = best
    if not fits.any():
        return None
    formatted = fits & ~plain
    examples = pc.unique(array.filter(pa.array(formatted))).slice(0, MAX_EXAMPLES).to_pylist()
    candidate = _number_result(
        column, core, style, fits, affixed=core is not array, formatted=column.rows(formatted)
    )
    return replace(candidate, formatted_examples=tuple(examples))


def _number_result(
    column: _Weighted,
    core: pa.ChunkedArray | pa.Array,
    style: str,
    fits: np.ndarray,
    *,
    affixed: bool,
    formatted: int,
) -> _Candidate:
    integers = _full_match(core, NUMBER_STYLES[style][1])
    kind = "integer" if not (fits & ~integers).any() else "float"
    return _Candidate(
        kind, column.share(fits), fits, number_format=style, affixed=affixed, formatted=formatted
    )


def _date_candidate(column: _Weighted, hint: _Candidate | None) -> _Candidate | None:
    """Dates in the format that parses most of the sample (the first listed among equals);
    with a `hint` from the sample, that format checked on the whole column."""
    array = column.texts
    if hint is not None and hint.date_format:
        fmt = hint.date_format
        return _with_other_formats(column, _date_result(column, fmt, _parse_dates(_series(array), fmt)))
    values = [v for v in array.to_pylist() if v is not None]
    if sum(1 for v in values if _DATE_LIKE.match(v)) < CANDIDATE_THRESHOLD * max(len(values), 1):
        return None
    sample = _series(array)
    # every time format has a ':' and no date format has one, and a parsed text holds each
    # literal of its format: so a format fits at most the values on its side of that line,
    # and a format that cannot beat the best so far (ties go to the first) is not tried
    colon = bool_mask(pc.match_substring(array, ":"))
    reach = {True: column.share(colon), False: column.share(~colon)}
    best: _Candidate | None = None
    for fmt in (*DATE_FORMATS, *DATETIME_FORMATS):
        if reach[":" in fmt] <= (best.share if best is not None else 0.0):
            continue
        candidate = _date_result(column, fmt, _parse_dates(sample, fmt))
        if best is None or candidate.share > best.share:
            best = candidate
    return _with_other_formats(column, best) if best is not None and best.share > 0 else None


def _with_other_formats(column: _Weighted, main: _Candidate) -> _Candidate:
    """`main` (the dates one format reads) widened to the values that read as dates in
    another listed format (`other_date_format`). `2021.05.23` among `2021-05-23`s is a date written a
    second way (patterns says so: MIXED_DATE_FORMATS, and types_formats rewrites it), not a
    cell of another type; a column is dates when 95% of it reads as dates, in its main format
    or not. The main format stays the column's `date_format`."""
    if main.fits.all() or main.date_format is None:
        return main
    rest = np.flatnonzero(~main.fits)
    elsewhere = (
        other_date_format(_series(column.texts.take(pa.array(rest))), main.date_format).notna().to_numpy()
    )
    if not elsewhere.any():
        return main
    fits = main.fits.copy()
    fits[rest[elsewhere]] = True
    return replace(main, share=column.share(fits), fits=fits)


def other_date_format(values: pd.Series, main: str) -> pd.Series:
    """Per value (stripped text that `main` does not read): the first other listed format that
    reads it as a date, or NA. The one rule for "a date written another way": the type choice
    and `misfit_rows` count such a cell as a date, patterns lists it as MIXED_DATE_FORMATS."""
    found = pd.Series(None, index=values.index, dtype="str")
    for fmt in (*DATE_FORMATS, *DATETIME_FORMATS):
        if fmt == main or found.notna().all():
            continue
        open_values = values[found.isna()]
        parsed = pd.to_datetime(open_values, format=fmt, errors="coerce")
        found[parsed.index[parsed.notna().to_numpy()]] = fmt
    return found


def _series(array: pa.ChunkedArray | pa.Array) -> pd.Series:
    return pd.Series(array.to_pandas(), dtype="str")


def _date_result(column: _Weighted, fmt: str, parsed: pd.Series) -> _Candidate:
    fits = parsed.notna().to_numpy()
    kind = "datetime" if any(code in fmt for code in ("%H", "%I")) else "date"
    return _Candidate(kind, column.share(fits), fits, date_format=fmt)


def _parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Timestamps (naive, UTC when the text has an offset); NaT where the text does not fit.

    In the ISO formats most files use, Arrow parses a long column and a date is kept only if
    it prints back as exactly the text it came from; pandas decides the rest (short forms such
    as `2024-3-9`, days a month lacks, leap seconds, misfits), so every verdict is pandas' own
    at a fraction of its cost."""
    canonical = _CANONICAL_DATES.get(fmt)
    if canonical is None or len(values) < FAST_DATES_MIN_ROWS:
        return _parse_dates_pandas(values, fmt)
    kind, separator = canonical
    text = pa.array(as_text(values))
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    printed = pc.cast(parsed if kind == "datetime" else pc.cast(parsed, pa.date32()), pa.string())
    if separator != " ":
        printed = pc.replace_substring(printed, " ", separator)
    seconds = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    # year 0 prints back too, but pandas refuses it
    exact = bool_mask(pc.equal(printed, text)) & (seconds >= np.datetime64("0001-01-01"))
    result = pd.Series(np.where(exact, seconds, np.datetime64("NaT")), index=values.index, name=values.name)
    rest = np.flatnonzero(~exact)
    if len(rest):
        result.iloc[rest] = _parse_dates_pandas(values.iloc[rest], fmt).to_numpy(dtype="datetime64[s]")
    # pandas gives microseconds, or seconds when nothing parsed: the same dtype either way
    return result.astype("datetime64[us]") if result.notna().any() else result


FAST_DATES_MIN_ROWS = 5_000
# formats whose Arrow rendering (date or timestamp cast to text) is the format itself
_CANONICAL_DATES = {
    "%Y-%m-%d": ("date", " "),
    "%Y-%m-%d %H:%M:%S": ("datetime", " "),
    "%Y-%m-%dT%H:%M:%S": ("datetime", "T"),
}


def _parse_dates_pandas(values: pd.Series, fmt: str) -> pd.Series:
    try:
        if "%z" in fmt or fmt.endswith("Z"):
            parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
            return parsed.dt.tz_localize(None)
        return pd.to_datetime(values, format=fmt, errors="coerce")
    except (ValueError, TypeError, OverflowError):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")


def _date_order_ambiguous(column: _Weighted, fmt: str) -> bool:
    """True when every date also reads with day and month swapped (all days ≤ 12)."""
    swapped = next((b + fmt[len(a) :] for a, b in _DAY_MONTH_SWAPS.items() if fmt.startswith(a)), None)
    if swapped is None:
        return False
    parsed = _parse_dates(_series(column.texts), swapped).notna().to_numpy()
    return column.share(parsed) >= TYPE_THRESHOLD


def _is_code(column: _Weighted, fits: np.ndarray) -> bool:
    """Integers that must stay text: leading zeros ('007', zip codes) or too many digits."""
    numbers = column.filter(fits)
    leading_zero = numbers.share(_full_match(numbers.texts, r"[+-]?0\d+"))
    longest = pc.max(pc.utf8_length(numbers.texts)).as_py() or 0
    return bool(leading_zero >= 0.01 or longest > MAX_EXACT_DIGITS + 1)


# ---- meaning --------------------------------------------------------------------------------
def _share(column: _Weighted, pattern: str) -> float:
    return column.share(_full_match(column.texts, pattern))


def _pattern_share(column: _Weighted, sample: pa.ChunkedArray | pa.Array, pattern: str) -> float:
    """Share on the whole column, computed only when the sample already looks right."""
    if _share(_Weighted(sample), pattern) < 0.9:
        return 0.0
    return _share(column, pattern)


def _phone_share(column: _Weighted, sample: pa.ChunkedArray | pa.Array) -> float:
    def share(of: _Weighted) -> float:
        shaped = _full_match(of.texts, _PHONE)
        digits = _digit_counts(of.texts)
        return of.share(shaped & (digits >= 7) & (digits <= 15))

    return share(column) if share(_Weighted(sample)) >= 0.9 else 0.0


_DIGITS = ByteMap(regex_bytes(r"\d"))


def _digit_counts(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per value, how many characters RE2's `\\d` matches (ASCII digits), counted on the bytes:
    ten times quicker than removing `\\D` with a regex and measuring what is left."""
    raw = text_bytes(texts)
    if raw is None:  # nulls: the regex path, which counts a null as no digits
        kept = pc.replace_substring_regex(texts, r"\D", "")
        return pc.fill_null(pc.utf8_length(kept), 0).to_numpy(zero_copy_only=False)
    return per_value_sum(raw, _DIGITS(raw.data))


def _text_semantic(
    column: _Weighted, sample: pa.ChunkedArray | pa.Array, distinct: int, n: int, name: str
) -> tuple[str, float | None]:
    """Meaning of a text column: recognisable shapes first, then how its values vary."""
    checks: list[tuple[str, float]] = [
        ("email", _pattern_share(column, sample, _EMAIL)),
        ("url", _pattern_share(column, sample, _URL)),
        ("postal_code", _pattern_share(column, sample, _POSTAL_DISTINCT)),
    ]
    if _POSTAL_NAME.search(name):
        checks.append(("postal_code", _pattern_share(column, sample, _POSTAL_DIGITS)))
    checks.append(("phone", _phone_share(column, sample)))
    for semantic, share in checks:
        if share >= TYPE_THRESHOLD:
            return semantic, share
    if n >= 2 and distinct <= CATEGORICAL_MAX_DISTINCT and distinct <= n / 2:
        return "categorical", None
    lengths = pc.utf8_length(sample).to_numpy(zero_copy_only=False)
    spaced = bool_mask(pc.match_substring_regex(sample, r"\s"))
    if distinct == n and n >= 2 and not spaced.any() and lengths.max() <= IDENTIFIER_MAX_LENGTH:
        return "identifier", None
    words = pc.count_substring_regex(sample, r"\S+").to_numpy(zero_copy_only=False)
    if lengths.mean() >= 40 or words.mean() >= 4:
        return "free_text", None
    if _ID_NAME.search(name) and distinct >= 0.9 * n:
        return "identifier", None
    return "none", None


def _typed_semantic(
    candidate: _Candidate, column: _Weighted, distinct: int, n: int, name: str
) -> tuple[str, float | None]:
    if candidate.kind == "boolean":
        return "boolean", None
    if candidate.kind in ("date", "datetime"):
        return "date", None
    numbers = column.filter(candidate.fits)
    if candidate.affixed:
        currency = numbers.share(bool_mask(pc.match_substring_regex(numbers.texts, _HAS_CURRENCY)))
        if currency >= 0.5:
            return "currency", currency
        percent = numbers.share(bool_mask(pc.ends_with(numbers.texts, "%")))
        if percent >= 0.5:
            return "percentage", percent
    if candidate.kind == "integer":
        if _POSTAL_NAME.search(name) and _share(numbers, _POSTAL_DIGITS) >= TYPE_THRESHOLD:
            return "postal_code", None
        if _PHONE_NAME.search(name):
            return "phone", None
        named = n >= 2 and bool(_ID_NAME.search(name))
        if distinct == n and (named or (n >= MIN_SEQUENCE and _is_sequence(numbers.texts))):
            return "identifier", None
    return "numeric", None


def _is_sequence(numbers: pa.ChunkedArray | pa.Array) -> bool:
    """Distinct integers filling a range exactly (row numbers, auto-increment keys)."""
    try:
        values = pc.cast(pc.replace_substring_regex(numbers, r"^\+", ""), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    low, high = pc.min(values).as_py(), pc.max(values).as_py()
    return low is not None and high - low + 1 == len(values)


# ---- typed values ---------------------------------------------------------------------------
def typed_values(series: pd.Series, column_type: ColumnType) -> pd.Series:
    """The column as numbers (Int64/float64), timestamps or booleans per its inferred type,
    aligned with `series`; cells that are missing or do not fit the type are NA. Text columns
    come back as text with NA for missing cells."""
    text = as_text(series)
    kind = column_type.inferred_type
    if kind in ("integer", "float"):
        return _typed_numbers(text, column_type)
    if kind in ("date", "datetime") and column_type.date_format:
        return _parse_dates(text.str.strip(), column_type.date_format)
    if kind == "boolean":
        lowered = _normalised(_arrow(text))
        truth = bool_mask(pc.is_in(lowered, value_set=pa.array(sorted(BOOLEAN_TRUE))))
        falsity = bool_mask(pc.is_in(lowered, value_set=pa.array(sorted(BOOLEAN_FALSE))))
        result = pd.Series(pd.NA, index=text.index, dtype="boolean", name=series.name)
        result[truth] = True
        result[falsity] = False
        return result
    return text.where(~is_missing(text))


def _typed_numbers(text: pd.Series, column_type: ColumnType) -> pd.Series:
    style = column_type.number_format or "plain"
    pattern = NUMBER_STYLES[style][0]
    core = _strip_affixes(pc.utf8_trim_whitespace(_arrow(text)))
    fits = pc.match_substring_regex(core, f"^(?:{pattern})$")
    if style == "thousands":
        core = pc.replace_substring(core, ",", "")
    elif style == "decimal_comma":
        core = pc.replace_substring(pc.replace_substring(core, ".", ""), ",", ".")
    if pc.any(pc.starts_with(core, "+")).as_py():  # Arrow reads "+1.5" but not "+5"
        core = pc.replace_substring_regex(core, r"^\+", "")
    every_fits = pc.all(pc.fill_null(fits, False)).as_py()
    valid = core if every_fits else pc.if_else(fits, core, pa.scalar(None, core.type))
    if column_type.inferred_type == "integer":
        try:
            ints = pc.cast(valid, pa.int64())
            values = ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array
            return pd.Series(values, index=text.index, name=text.name)
        except (pa.ArrowInvalid, OverflowError):
            pass  # beyond int64: fall back to floats
    try:
        floats = pc.cast(valid, pa.float64())
        values = floats.to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        values = pd.to_numeric(_series(valid), errors="coerce").to_numpy(dtype=float)
    return pd.Series(values, index=text.index, dtype="float64", name=text.name)


# ---- shared, cached per column ----------------------------------------------------------------
CACHE_KEY = "profile.columns"
MATCHING_KEYS_KEPT = 100_000
WORKERS = max(1, min(4, os.cpu_count() or 1))
MAX_TASKS = 256  # pool tasks per `warm`: beyond this, columns are computed in batches


class cached_property:
    """`functools.cached_property` with a lock per instance and attribute: on Python 3.11 the
    standard one locks all instances at once, so two threads computing two *different*
    columns would wait for each other. Here two threads asking for the same column's value
    compute it once (the second waits), and different columns never wait. Attributes depend on
    one another in one direction only (type needs codes, never the reverse), so the locks
    cannot deadlock."""

    _guard = threading.Lock()

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        if self.name in cache:
            return cache[self.name]
        with cached_property._guard:
            lock = cache.setdefault(f"_lock_{self.name}", threading.Lock())
        with lock:
            if self.name not in cache:
                cache[self.name] = self.function(instance)
        return cache[self.name]


@dataclass(eq=False)
class ColumnProfile:
    """One column's text and what the agents learned about it, computed lazily and once.

    Compared by identity: one profile per column per run, and comparing two columns' text
    cell by cell (a dataclass's default `==`) would be both wrong and slow."""

    file_key: str
    name: str
    text: pd.Series

    @cached_property
    def missing(self) -> pd.Series:
        """Per row, from the distinct values' verdicts (one check per distinct value)."""
        mask = self.missing_codes[self.encoded.codes]
        return pd.Series(mask, index=self.text.index, name=self.text.name)

    @cached_property
    def null(self) -> pd.Series:
        return is_null(self.text)

    @cached_property
    def column_type(self) -> ColumnType:
        """Judged once per distinct value, weighted by rows, when values repeat; the sample
        that decides which rules are worth running is still drawn from the rows."""
        encoded = self.encoded
        distinct = int((~self.missing_codes).sum())
        if len(encoded.values) * 2 > len(self.text):
            return infer_column(self.text, self.missing, distinct=distinct)
        values = pd.Series(encoded.values.to_pandas(), dtype="str", name=self.text.name)
        present_rows = np.flatnonzero(~self.missing.to_numpy())
        if len(present_rows) > SAMPLE_SIZE:
            present_rows = present_rows[np.linspace(0, len(present_rows) - 1, SAMPLE_SIZE).astype(np.int64)]
        sampled = encoded.values.take(pa.array(encoded.codes[present_rows]))
        sample = pd.Series(sampled.to_pandas(), dtype="str")
        return infer_column(
            values,
            pd.Series(self.missing_codes, name=self.text.name),
            distinct=distinct,
            weights=encoded.counts,
            sample=sample,
        )

    @cached_property
    def typed(self) -> pd.Series:
        """Typed values, parsed once per distinct value when values repeat (a quantity column
        of a million rows and fifty values parses fifty texts)."""
        encoded = self.encoded
        if len(encoded.values) * 2 > len(self.text):
            return typed_values(self.text, self.column_type)
        distinct = pd.Series(encoded.values.to_pandas(), dtype="str", name=self.text.name)
        per_value = typed_values(distinct, self.column_type)
        typed = per_value.take(encoded.codes)
        typed.index = self.text.index
        return typed

    def misfit_rows(self) -> np.ndarray:
        """Rows (0-based) whose filled cell does not fit the column's majority type: the cells
        behind MIXED_TYPES."""
        column_type = self.column_type
        if column_type.mismatch_type is None:
            return np.empty(0, dtype=np.int64)
        if column_type.inferred_type == column_type.mismatch_type:
            typed = self.typed
        else:
            majority = replace(
                column_type,
                inferred_type=column_type.mismatch_type,
                number_format=column_type.mismatch_number_format,
                date_format=column_type.mismatch_date_format,
            )
            typed = typed_values(self.text, majority)
        rows = np.flatnonzero(~self.missing.to_numpy() & typed.isna().to_numpy())
        main = column_type.mismatch_date_format or column_type.date_format
        if main and len(rows):  # a date written in a second format is not a misfit of the type
            stripped = self.text.iloc[rows].str.strip().reset_index(drop=True)
            rows = rows[other_date_format(stripped, main).isna().to_numpy()]
        return rows

    @property
    def present(self) -> pd.Series:
        """The filled cells' text (missing cells and markers left out)."""
        return self.text[~self.missing.to_numpy()]

    @cached_property
    def encoded(self) -> Encoded:
        return encode(self.text)

    @cached_property
    def missing_codes(self) -> np.ndarray:
        """Per distinct value: True when it is a missing marker (so row masks cost a lookup)."""
        return missing_mask(self.encoded.values)

    @cached_property
    def matching(self) -> tuple[np.ndarray, pa.Array | None]:
        """Per distinct value: the code of its matching key (`matching_keys`), -1 when the value
        is missing; and the keys themselves when there are few enough to be categories (kept
        for category variants; a million distinct emails' keys would only hold memory).
        Rows reach them through `encoded.codes`."""
        keys = matching_keys(self.encoded.values)
        key_codes, uniques = factorize_text(keys)
        kept = uniques if len(uniques) <= MATCHING_KEYS_KEPT else None
        return np.where(self.missing_codes, -1, key_codes).astype(np.int32), kept


# ---- distinct values, once per column -------------------------------------------------------
@dataclass(frozen=True)
class Encoded:
    """A column as codes into its distinct values, with each value's count.

    Most checks depend on the value alone (is it an email, which shape has it), so they run
    once per distinct value and reach the rows through `codes`: a city column of a million
    rows and 300 cities costs 300 checks. Exact counts come for free from the same pass.
    """

    codes: np.ndarray  # int32, one per row, index into `values`
    values: pa.Array  # the distinct texts, in order of first appearance
    counts: np.ndarray  # int64, rows per distinct value

    def rows_where(self, value_mask: np.ndarray) -> np.ndarray:
        """Row positions (0-based, ascending) whose value is flagged in `value_mask`."""
        if not value_mask.any():
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(value_mask[self.codes])

    def rows_count(self, value_mask: np.ndarray) -> int:
        return int(self.counts[value_mask].sum())


def encode(text: pd.Series) -> Encoded:
    """Codes, distinct values and counts of a text column (one hash pass).

    Arrow's hash kernel, called directly: every chunk of its result carries the one final
    dictionary and int32 codes, which are kept as they are (pandas' `factorize` would widen
    them to int64 and unify the chunks' dictionaries again)."""
    codes, values = factorize_text(_arrow(text))
    counts = np.bincount(codes, minlength=len(values)).astype(np.int64, copy=False)
    return Encoded(codes, values, counts)


def factorize_text(array: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """int32 codes and the distinct texts in order of first appearance: what `pd.factorize`
    gives (a null is code -1 and no distinct value), by Arrow's hash kernel and without a
    pandas Series around it (about 0.1 ms a call, which a file of thousands of short columns
    pays many times)."""
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array])
    encoded = pc.dictionary_encode(array)
    if encoded.num_chunks == 0:
        return np.empty(0, np.int32), pa.array([], type=array.type)
    values = encoded.chunk(encoded.num_chunks - 1).dictionary  # the final memo table
    indices = [pc.fill_null(c.indices, -1) if c.indices.null_count else c.indices for c in encoded.chunks]
    codes = np.concatenate([i.to_numpy(zero_copy_only=False) for i in indices]).astype(np.int32, copy=False)
    return codes, values


def matching_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The text two spellings of the same thing share: lower case, accents, punctuation and
    repeated spaces removed ("  São-Paulo " and "sao paulo" both give "sao paulo").

    The one rule behind near-duplicate rows and category variants, so both agree on what
    "the same value written differently" means.
    """
    array = pc.cast(values, pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    ascii_only = bool_mask(pc.string_is_ascii(array))
    if ascii_only.all():
        return _ascii_matching_keys(array)
    others = ~ascii_only  # usually a few: the regexes run on those alone
    text = pc.utf8_normalize(array.filter(pa.array(others)), "NFKD")
    text = pc.replace_substring_regex(text, r"\p{Mn}+", "")
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"[^\w\s]+", " ")
    text = pc.replace_substring_regex(text, r"\s+", " ")
    slow = pc.utf8_trim_whitespace(text)
    return pc.replace_with_mask(_ascii_matching_keys(array), pa.array(others), slow)


_KEY_LUT = np.arange(256, dtype=np.uint8)
_KEY_LUT[ord("A") : ord("Z") + 1] += 32  # lower case
for _byte in range(128):
    if not (chr(_byte).isalnum() or chr(_byte) == "_"):
        _KEY_LUT[_byte] = ord(" ")  # punctuation and whitespace become one kind of gap


def _ascii_matching_keys(array: pa.Array) -> pa.Array:
    """`matching_keys` for ASCII text on the raw bytes: map each byte through a table, then
    drop every space that starts a value, follows a space or ends a value. The three regex
    passes it replaces cost ten times more on a million values."""
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    if data_buffer is None or offsets[-1] == offsets[0]:
        return array
    data = _KEY_LUT[np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]]
    offsets = offsets - offsets[0]
    space = data == ord(" ")
    starts = np.zeros(len(data) + 1, dtype=bool)
    starts[offsets[:-1]] = True
    previous_space = np.concatenate(([True], space[:-1])) | starts[:-1]
    keep = ~(space & previous_space)
    data, offsets = _compact(data, offsets, keep)
    ends = offsets[1:][offsets[1:] > offsets[:-1]] - 1
    keep = np.ones(len(data), dtype=bool)
    keep[ends[data[ends] == ord(" ")]] = False
    data, offsets = _compact(data, offsets, keep)
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def _compact(data: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dropped = np.flatnonzero(~keep)  # few: only stray spaces, so this stays small
    if len(dropped) == 0:
        return data, offsets
    owner = np.searchsorted(offsets, dropped, side="right") - 1
    per_value = np.bincount(owner, minlength=len(offsets) - 1)
    removed_before = np.concatenate(([0], np.cumsum(per_value, dtype=np.int64)))
    return data[keep], offsets - removed_before


def has_typed_values(profile: ColumnProfile) -> bool:
    """True for columns whose typed values differ from their text (numbers, dates, booleans):
    the only ones worth converting, since a text column's "typed" values are a copy of it."""
    return profile.column_type.inferred_type not in ("string", "empty")


def typed_if_useful(table: LoadedTable, profile: ColumnProfile) -> None:
    """`warm`'s per-column step for agents that read typed values of typed columns only."""
    if has_typed_values(profile):
        profile.typed  # noqa: B018 - computing the cached property is the point


def column_profile(context: AgentContext, table: LoadedTable, column: str) -> ColumnProfile:
    """The shared, cached profile of one column, so each agent of a run reuses the others' work."""
    profiles: dict[tuple[str, str], ColumnProfile] = context.cache.setdefault(CACHE_KEY, {})
    key = (table.file_key, str(column))
    if key not in profiles:
        text = as_text(table.frame[column])
        text.name = str(column)
        profiles[key] = ColumnProfile(table.file_key, str(column), text)
    return profiles[key]


def per_table(
    context: AgentContext, cache_key: str, table: LoadedTable, compute: Callable[[AgentContext], T]
) -> T:
    """A table-wide fact, `compute(context)`, computed once per run and shared (or awaited,
    when `prefetch` has started it in the background)."""
    cache: dict[str, Any] = context.cache.setdefault(cache_key, {})
    if table.file_key not in cache:
        cache[table.file_key] = compute(context)
    found = cache[table.file_key]
    return found.result() if isinstance(found, Future) else found


def prefetch(
    context: AgentContext, cache_key: str, table: LoadedTable, compute: Callable[[AgentContext], Any]
) -> None:
    """Start computing a table-wide fact in a background thread, for a later agent to pick up
    through `per_table`: its single-threaded stretches then overlap the other agents' work on
    the two cores. It reports no progress (the bar belongs to the agent running meanwhile);
    an error is kept and raised in the agent that asks for the fact."""
    cache: dict[str, Any] = context.cache.setdefault(cache_key, {})
    if table.file_key in cache:
        return
    future: Future[Any] = Future()
    cache[table.file_key] = future
    quiet = replace(context, progress=lambda fraction, message=None: None)  # same tables and cache

    def run() -> None:
        try:
            future.set_result(compute(quiet))
        except BaseException as error:  # handed to the agent that waits for it
            future.set_exception(error)

    threading.Thread(target=run, name=f"prefetch-{cache_key}", daemon=True).start()


def column_count(context: AgentContext) -> int:
    """How many columns the run's tables hold, for progress fractions."""
    return sum(int(t.frame.shape[1]) for t in context.tables.values())


def warm(
    context: AgentContext,
    attributes: Sequence[str],
    *,
    then: Callable[[LoadedTable, ColumnProfile], Any] | None = None,
    share: float = 1.0,
    columns: Sequence[ColumnProfile] | None = None,
) -> bool:
    """Compute `attributes` of every column's profile (and `then` per column, an agent's own
    cached per-column work) on all cores, before an agent walks the columns one by one. Most
    of the work is in Arrow kernels, which release the GIL, so columns really are computed
    side by side. Progress goes up to `share` of the agent's bar; `columns` limits the work to
    those profiles. True when there was work."""
    every = [(t, column_profile(context, t, c)) for t in context.tables.values() for c in t.frame.columns]
    if columns is not None:
        wanted = {id(c) for c in columns}
        every = [(t, p) for t, p in every if id(p) in wanted]
    todo = [(t, p) for t, p in every if then is not None or any(a not in p.__dict__ for a in attributes)]
    if not todo:
        return False
    # the costliest columns first, so the last ones to finish are short and no core waits long
    todo.sort(key=lambda pair: -_expected_cost(pair[1]))

    def compute(batch: list[tuple[LoadedTable, ColumnProfile]]) -> tuple[int, str]:
        for table, profile in batch:
            for attribute in attributes:
                getattr(profile, attribute)
            if then is not None:
                then(table, profile)
        table, profile = batch[-1]
        return len(batch), f"{table.filename}: {profile.name}"

    # a task per column while columns are few; a wide file's thousands of small columns go in
    # batches, since each task costs the pool about 0.1 ms (a future, a lock, a wake-up). Each
    # batch strides over the sorted list, so the batches cost about the same.
    count = min(len(todo), MAX_TASKS)
    batches = [todo[start::count] for start in range(count)]
    done = 0
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="profile") as pool:
        futures = [pool.submit(compute, batch) for batch in batches]
        for future in as_completed(futures):
            finished, message = future.result()
            done += finished
            context.progress(share * done / len(todo), message)
    return True


def _expected_cost(profile: ColumnProfile) -> int:
    """How much work a column is likely to be: its distinct values once known (most rules
    run once per distinct value), else its size in bytes."""
    if "encoded" in profile.__dict__:
        return len(profile.encoded.values) * 64
    return int(profile.text.array.nbytes) if hasattr(profile.text.array, "nbytes") else 0


def each_column(
    context: AgentContext,
    prefetch: Sequence[str] = ("column_type",),
    then: Callable[[LoadedTable, ColumnProfile], Any] | None = None,
) -> Iterator[tuple[LoadedTable, ColumnProfile]]:
    """Every column of every table with its shared profile, reporting progress as it goes;
    `prefetch` (profile attributes) and `then` (an agent's per-column work) are computed
    first on all cores by `warm`."""
    total = max(column_count(context), 1)
    base = 0.0
    if (prefetch or then is not None) and warm(context, prefetch, then=then, share=0.8):
        base = 0.8
    done = 0
    for table in context.tables.values():
        for column in table.frame.columns:
            context.progress(base + (1 - base) * done / total, f"{table.filename}: {column}")
            yield table, column_profile(context, table, column)
            done += 1
    context.progress(1.0, None)
