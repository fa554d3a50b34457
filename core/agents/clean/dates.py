"""Dates and times of day written one way per column, for `types_formats`.

Dates reuse the profile's inference (the column's majority format); a value in another
unambiguous format is rewritten in the target format (the majority one, or ISO when asked).
A date whose reading is uncertain, because its year has two digits or its day and month
could be swapped, is never rewritten silently: it is offered as a suggestion.

Times of day (`7:10 a.m.`) are not dates to the profile, so they have their own small rule:
a column mostly written as times gets its odd spellings (`7:10a`, `7:10 AM`) and times
buried in extra text (`12/02/2011 6:55 a.m.`, `6:35 a.m. (Estimated runway)`) written in
the column's own style.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from core.agents.clean.common import Rewrite
from core.agents.profile.inference import DATE_FORMATS, DATETIME_FORMATS, ColumnType

DATE_CONFIDENCE = 0.9
UNSURE_DATE_CONFIDENCE = 0.5
TIME_SHARE = 0.8  # share of a column's filled cells that must be plain times
TIME_FORMAT_CONFIDENCE = 0.95
TIME_EXTRACT_CONFIDENCE = 0.85
ISO = "%Y-%m-%d"

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(\s*)([aApP])?(\.?\s*[mM]\.?)?$")
_TIME_INSIDE = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?::\d{2})?\s*(?:([aApP])\.?\s*(?:[mM]\.?)?)?(?![\d:])"
)


def _parse_many(values: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(values, format=fmt, errors="coerce")


def _readings(
    values: pd.Series, majority: str, formats: tuple[str, ...]
) -> tuple[pd.Series, dict[str, list[pd.Timestamp]]]:
    """Each distinct value read in the majority format (NaT where it does not fit), and the
    other `formats`' readings of the values that do not fit it, computed a format at a time.
    Only formats of the column's own kind are tried: a date column never takes a time of day
    from a value, so rewriting cannot drop one."""
    own = _parse_many(values, majority)
    others: dict[str, list[pd.Timestamp]] = {}
    rest = values[own.isna() & (values != "")]
    for fmt in formats:
        if fmt == majority or rest.empty:
            continue
        parsed = _parse_many(rest, fmt)
        for value, stamp in zip(rest[parsed.notna()], parsed[parsed.notna()], strict=True):
            others.setdefault(value, []).append(stamp)
    return own, others


def date_rewriter(values: pd.Series, column_type: ColumnType, target: str) -> Callable[[str], Rewrite] | None:
    """A rewrite for the distinct `values` of a date column: values in another format, when
    they read as one date, written in the target format (the majority one, or ISO when
    asked); a reading that is unsure (two-digit years, day and month that could be swapped)
    only as a suggestion. None when the column is not dates."""
    majority = column_type.date_format
    if column_type.inferred_type not in ("date", "datetime") or not majority:
        return None
    unsure = "%y" in majority or column_type.date_ambiguous
    iso = ISO if column_type.inferred_type == "date" else ISO + " %H:%M:%S"
    wanted = majority if target == "majority" else iso
    distinct = pd.Series(values.unique(), dtype="str").str.strip()
    formats = DATE_FORMATS if column_type.inferred_type == "date" else DATETIME_FORMATS
    own, others = _readings(distinct, majority, formats)
    if wanted == majority and not (unsure and column_type.inferred_type == "date"):
        unread = own.isna().to_numpy()  # values already in the wanted format stay as they are
        distinct, own = distinct[unread], own[unread]
    verdicts: dict[str, Rewrite] = {}
    for value, stamp in zip(distinct, own, strict=True):
        if value in verdicts or not value:
            continue
        if not pd.isna(stamp):
            if wanted != majority:
                confidence = UNSURE_DATE_CONFIDENCE if unsure else DATE_CONFIDENCE
                verdicts[value] = (stamp.strftime(wanted), "date_format", confidence)
            elif unsure and column_type.inferred_type == "date":
                # the column's own reading is uncertain: its ISO reading, offered for a person to confirm
                verdicts[value] = (stamp.strftime(ISO), "ambiguous_date", UNSURE_DATE_CONFIDENCE)
            continue
        stamps = others.get(value)
        if not stamps:
            continue
        written = sorted({d.strftime(wanted) for d in stamps})
        if len(written) != 1:
            verdicts[value] = (written[0], "date_format_ambiguous", UNSURE_DATE_CONFIDENCE)
        else:
            verdicts[value] = (written[0], "date_format", DATE_CONFIDENCE)

    def rewrite(value: str) -> Rewrite:
        return verdicts.get(value.strip())

    return rewrite


@dataclass(frozen=True)
class TimeStyle:
    """How a column writes its times: 12- or 24-hour, leading zero, meridiem spelling."""

    twelve_hour: bool
    zero_pad: bool
    seconds: bool
    space: str
    meridiem: tuple[str, str]  # ("a.m.", "p.m.") or ("AM", "PM")...

    def render(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str | None:
        if self.twelve_hour:
            if meridiem is None:
                return None  # a bare time in a 12-hour column: morning or evening is unknown
            if not 1 <= hour <= 12:
                return None
            mark = self.meridiem[0] if meridiem == "a" else self.meridiem[1]
        else:
            if meridiem is not None:
                if not 1 <= hour <= 12:
                    return None
                hour = hour % 12 + (12 if meridiem == "p" else 0)
            if hour > 23:
                return None
            mark = ""
        if minute > 59:
            return None
        text = f"{hour:02d}" if self.zero_pad else str(hour)
        text += f":{minute:02d}"
        if self.seconds:
            text += f":{(second or 0):02d}"
        return text + (self.space + mark if mark else "")


def time_style(values: pd.Series) -> TimeStyle | None:
    """The column's time style when at least 80% of its filled cells are plain times."""
    filled = values[values.str.strip() != ""]
    if filled.empty:
        return None
    # a time holds a colon: a column with too few colons is no time column, without a regex run
    if filled.str.contains(":", regex=False).mean() < TIME_SHARE:
        return None
    matches = filled.str.strip().str.match(_TIME)
    if matches.mean() < TIME_SHARE:
        return None
    styles: Counter[TimeStyle] = Counter()
    for text in filled[matches].str.strip().tolist():
        m = _TIME.match(text)
        assert m is not None
        hour, sep, mark, tail = m.group(1), m.group(4), m.group(5), m.group(6) or ""
        meridiem = ("", "")
        if mark:
            lower = mark.islower()
            dotted = "." in tail
            a, p = ("a", "p") if lower else ("A", "P")
            m_letter = "m" if (tail.strip(". ") or "m").islower() else "M"
            if dotted:
                meridiem = (
                    (f"{a}.{m_letter}.", f"{p}.{m_letter}.") if tail.strip(". ") else (f"{a}.", f"{p}.")
                )
            else:
                meridiem = (f"{a}{m_letter}", f"{p}{m_letter}") if tail.strip() else (a, p)
        style = TimeStyle(
            bool(mark), len(hour) == 2 and hour.startswith("0"), m.group(3) is not None, sep, meridiem
        )
        styles[style] = styles[style] + 1
    return styles.most_common(1)[0][0]


def time_rewriter(style: TimeStyle) -> Callable[[str], Rewrite]:
    def rewrite(value: str) -> Rewrite:
        text = value.strip()
        if not text:
            return None
        plain = _TIME.match(text)
        found = _TIME_INSIDE.search(text)
        if found is None:
            return None
        hour, minute = int(found.group(1)), int(found.group(2))
        meridiem = found.group(3).lower() if found.group(3) else None
        new = style.render(hour, minute, None, meridiem)
        if new is None or new == text:
            return None
        if plain:
            return new, "time_format", TIME_FORMAT_CONFIDENCE
        if len(_TIME_INSIDE.findall(text)) > 1:
            return None  # two times in one cell: which one is meant is unknown
        return new, "time_extract", TIME_EXTRACT_CONFIDENCE

    return rewrite
