"""Numbers stored as text: units, currency and percent signs, thousands separators and float
noise, unified per column by `types_formats`.

A column is only touched when nearly all of it is numbers (95% of its filled cells), and
only where it is inconsistent: a column that writes every value as `12 oz` follows a
convention; one that mixes `12 oz`, `12.0 OZ.` and `12 ounce` does not. Units are only
recognised from a table of known units (and their spellings), so `37 patients` is never
taken for a measurement to strip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.profile.inference import ColumnProfile, bool_mask

NUMERIC_SHARE = 0.95
_NUMBER = re.compile(
    r"^(?P<sign>[+-])?\s*(?P<cur>US\$|[$€£¥₹])?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<suffix>%|[A-Za-zµ][A-Za-z .\-]*)?$"
)
# spellings of a unit (first word of the suffix, lower case, dots removed) -> the unit
UNITS = {
    **dict.fromkeys(("oz", "ozs", "ounce", "ounces", "floz", "fl"), "ounce"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "pound"),
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "kilogram"),
    **dict.fromkeys(("g", "gr", "gram", "grams"), "gram"),
    **dict.fromkeys(("mg", "milligram", "milligrams"), "milligram"),
    **dict.fromkeys(("ml", "millilitre", "milliliter", "millilitres", "milliliters"), "millilitre"),
    **dict.fromkeys(("l", "lt", "ltr", "litre", "liter", "litres", "liters"), "litre"),
    **dict.fromkeys(("cl", "centilitre", "centiliter"), "centilitre"),
    **dict.fromkeys(("km", "kms", "kilometre", "kilometer", "kilometres", "kilometers"), "kilometre"),
    **dict.fromkeys(("m", "metre", "meter", "metres", "meters"), "metre"),
    **dict.fromkeys(("cm", "centimetre", "centimeter", "centimetres", "centimeters"), "centimetre"),
    **dict.fromkeys(("mm", "millimetre", "millimeter", "millimetres", "millimeters"), "millimetre"),
    **dict.fromkeys(("mi", "mile", "miles"), "mile"),
    **dict.fromkeys(("in", "inch", "inches"), "inch"),
    **dict.fromkeys(("ft", "foot", "feet"), "foot"),
    **dict.fromkeys(("gal", "gallon", "gallons"), "gallon"),
    **dict.fromkeys(("kwh",), "kilowatt hour"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hour"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "minute"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "second"),
}


@dataclass
class ParsedNumber:
    text: str  # the number as written, separators removed, sign kept
    value: float
    currency: str | None
    suffix: str | None  # "%" or the raw unit text
    thousands: bool


def parse_number(value: str) -> ParsedNumber | None:
    match = _NUMBER.match(value.strip())
    if not match:
        return None
    number = match["num"]
    thousands = "," in number
    plain = number.replace(",", "")
    text = ("-" if match["sign"] == "-" else "") + plain
    suffix = match["suffix"].strip() if match["suffix"] else None
    return ParsedNumber(text, float(text), match["cur"], suffix, thousands)


def unit_of(suffix: str) -> str | None:
    word = suffix.lower().replace(".", " ").split()
    if not word:
        return None
    return UNITS.get(word[0])


def float_noise(text: str) -> str | None:
    """`0.054000000000000006` -> `0.054`: digits that only binary floats add; None when the
    text has no such noise."""
    if "." not in text or "e" in text.lower():
        return None
    digits = len(text.lstrip("-").replace(".", "").lstrip("0"))
    if digits < 15:
        return None
    value = float(text)
    short = f"{value:.12g}"
    if "e" in short or len(short) >= len(text) - 3:
        return None
    return short


def _integral(text: str) -> str:
    return text[: text.index(".")] if "." in text and float(text).is_integer() else text


@dataclass
class NumberPlan:
    """What to unify in one numeric column."""

    strip_unit: str | None = None  # the unit whose spellings are removed
    strip_percent: bool = False
    percent_divide: bool = False
    strip_currency: bool = False
    strip_thousands: bool = False
    whole_numbers: bool = False  # every number is whole: write 12.0 as 12


# A number written the way `parse_number` writes it back: an optional minus, digits, and
# decimals. Such a value parses to itself (no currency, unit, percent or separators), so a
# column's plain values are read in one vectorised pass instead of one regex match each.
_PLAIN = r"^-?\d+(?:\.\d+)?$"
FLOAT_NOISE_MIN_LENGTH = 16  # `float_noise` needs 15 significant digits and a point


def plan_numbers(profile: ColumnProfile) -> tuple[NumberPlan, dict[str, ParsedNumber]] | None:
    """The column's plan, or None when it is not a column of numbers; and, parsed, the values
    the plan may rewrite (a plain number it certainly leaves as it is is not among them).
    The filled values and their rows come from the column's profile (`profile.encoded`, the
    same missing rule as `filled_values`)."""
    filled = ~profile.missing_codes
    if not filled.any():
        return None
    values = pc.cast(profile.encoded.values.filter(pa.array(filled)), pa.large_string())
    weights = profile.encoded.counts[filled].astype(np.int64)
    plain = bool_mask(pc.match_substring_regex(values, _PLAIN))
    # a number holds a digit (`\d`: any decimal digit, as in Python): the other values without
    # one cannot fit, and when even all those with one could not make the share, none is parsed
    others = np.flatnonzero(~plain & bool_mask(pc.match_substring_regex(values, r"\p{Nd}")))
    if weights[plain].sum() + weights[others].sum() < NUMERIC_SHARE * weights.sum():
        return None
    other_values = values.take(pa.array(others, pa.int64())).to_pylist()
    # one pass over the other values with the same compiled regex `parse_number` uses
    parsed = {v: p for v in other_values if (p := parse_number(v)) is not None}
    weight = {v: int(weights[i]) for i, v in zip(others, other_values, strict=True) if v in parsed}
    plain_rows = int(weights[plain].sum())
    if plain_rows + sum(weight.values()) < NUMERIC_SHARE * weights.sum():
        return None
    plain_values = values.filter(pa.array(plain))
    plain_numbers = _floats(plain_values)
    plan = NumberPlan()
    units: set[str] = set()
    unit_spellings: set[str] = set()
    unitless = plain_rows
    unknown_words = False
    for value, number in parsed.items():
        if number.suffix and number.suffix != "%":
            unit = unit_of(number.suffix)
            if unit is None:
                unknown_words = True
            else:
                units.add(unit)
                unit_spellings.add(number.suffix)
        elif number.suffix is None:
            unitless += weight[value]
    if not unknown_words and len(units) == 1 and (len(unit_spellings) > 1 or unitless > 0):
        plan.strip_unit = next(iter(units))
    if unknown_words:
        return plan, {}
    percent = [v for v, p in parsed.items() if p.suffix == "%"]
    bare = [v for v, p in parsed.items() if p.suffix is None]
    percent_rows = sum(weight[v] for v in percent)
    bare_rows = sum(weight[v] for v in bare) + plain_rows
    if percent and (bare or plain_rows) and percent_rows < bare_rows:
        pct_median = pd.Series([parsed[v].value for v in percent]).median()
        bare_median = pd.Series([*(parsed[v].value for v in bare), *plain_numbers.tolist()]).median()
        if bare_median and 30 <= pct_median / bare_median <= 300:
            plan.percent_divide = True
        if pct_median == 0 or bare_median == 0 or 0.1 <= pct_median / bare_median <= 10:
            plan.strip_percent = True
        else:
            plan.strip_percent = plan.percent_divide
    total_rows = sum(weight.values()) + plain_rows
    currencies = {p.currency for p in parsed.values() if p.currency}
    with_currency = sum(weight[v] for v, p in parsed.items() if p.currency)
    if len(currencies) == 1 and 0 < with_currency < total_rows:
        plan.strip_currency = True
    with_thousands = sum(weight[v] for v, p in parsed.items() if p.thousands)
    if 0 < with_thousands < total_rows:
        plan.strip_thousands = True
    with_point = bool_mask(pc.match_substring(plain_values, "."))
    plan.whole_numbers = (
        all(float(p.text).is_integer() for p in parsed.values())
        and bool(np.all(np.isfinite(plain_numbers) & (plain_numbers == np.floor(plain_numbers))))
        and (any("." in p.text for p in parsed.values()) or bool(with_point.any()))
    )
    # a plain value changes only by losing float noise, or its zero decimals with the unit
    long = bool_mask(pc.greater_equal(pc.utf8_length(plain_values), FLOAT_NOISE_MIN_LENGTH))
    may_change = with_point & (long | bool(plan.strip_unit))
    changing = plain_values.filter(pa.array(may_change)).to_pylist()
    for value, number in zip(changing, plain_numbers[may_change].tolist(), strict=True):
        parsed[value] = ParsedNumber(value, number, None, None, False)
    return plan, parsed


def _floats(plain: pa.Array) -> np.ndarray:
    """The plain numbers' values, as Python's `float` reads them (both round correctly; a
    number too long for Arrow's parser is read by Python)."""
    try:
        return pc.cast(plain, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return np.array([float(v) for v in plain.to_pylist()], dtype=np.float64)


def unify_number(value: str, number: ParsedNumber, plan: NumberPlan) -> tuple[str, str] | None:
    """(new text, rule) for one value under the column's plan, or None."""
    rules = []
    text = number.text
    suffix = number.suffix
    if suffix and suffix != "%" and plan.strip_unit and unit_of(suffix) == plan.strip_unit:
        rules.append("number_with_unit")
        suffix = None
        if "." in text:  # a measured quantity: 12.0 oz is 12, written the shortest way
            text = text.rstrip("0").rstrip(".") or "0"
    if suffix == "%" and plan.strip_percent:
        if plan.percent_divide:
            text = f"{number.value / 100:.12g}"
            rules.append("percent_to_fraction")
        else:
            rules.append("percent_sign")
        suffix = None
    if number.currency and plan.strip_currency:
        rules.append("currency_sign")
    elif number.currency:
        return None
    if number.thousands and not plan.strip_thousands:
        return None
    if number.thousands:
        rules.append("thousands_separator")
    noise = float_noise(text)
    if noise is not None:
        text = noise
        rules.append("float_noise")
    if plan.whole_numbers and "." in text and (rules or plan.strip_unit):
        text = _integral(text)
        if not rules:
            rules.append("whole_number")
    if not rules:
        return None
    new = text + (suffix if suffix == "%" else (" " + suffix if suffix else ""))
    return (new, "+".join(rules)) if new != value else None
