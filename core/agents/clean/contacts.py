"""Booleans, phones, emails and countries written one way, for `types_formats`.

Each rule reads the column's meaning from the profile's inference (a phone column is the one
the profile calls `phone`) and rewrites a value only when it knows the value for sure: a
phone `phonenumbers` validates, an email whose domain only changes case, a country name
that ISO lists. Guesses (a domain that looks like a typo of `gmail.com`) are suggestions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from core.agents.clean.common import Rewrite, filled_values
from core.agents.profile.inference import BOOLEAN_FALSE, BOOLEAN_TRUE, bool_mask
from core.agents.profile.patterns import shapes
from core.agents.profile.phones import check_phones

BOOLEAN_CONFIDENCE = 0.95
PHONE_CONFIDENCE = 0.9
EMAIL_CASE_CONFIDENCE = 0.95
EMAIL_TYPO_CONFIDENCE = 0.6
COUNTRY_CONFIDENCE = 0.9
PHONE_EXACT_LIMIT = 100_000  # distinct numbers without a country code formatted one by one
COUNTRY_SHARE = 0.9  # share of a column's filled cells that must be countries

_BOOLEAN_PAIRS = (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"))
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+\.[A-Za-z]{2,})$")
# common misspellings of the largest mail domains (a suggestion, never applied by default)
EMAIL_DOMAIN_TYPOS = {
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmail.co": "gmail.com",
    "gmail.con": "gmail.com",
    "gmaill.com": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmai.com": "hotmail.com",
    "hotmail.con": "hotmail.com",
    "yahoo.con": "yahoo.com",
    "yaho.com": "yahoo.com",
    "yahooo.com": "yahoo.com",
    "outlok.com": "outlook.com",
    "outlook.con": "outlook.com",
    "iclod.com": "icloud.com",
}
COUNTRY_ALIASES = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "russia": "RU",
    "south korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "vietnam": "VN",
    "syria": "SY",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "holland": "NL",
    "the netherlands": "NL",
    "taiwan": "TW",
}


# ---- booleans ---------------------------------------------------------------------------------
def boolean_rewriter(text: pd.Series) -> Callable[[str], Rewrite] | None:
    """Minority spellings of yes/no written like the column's majority pair (`Y` -> `yes`)."""
    counts = text[text != ""].value_counts()
    pair_rows: Counter[tuple[str, str]] = Counter()
    spelled: Counter[str] = Counter()
    for value, count in counts.items():
        low = str(value).strip().lower()
        for pair in _BOOLEAN_PAIRS:
            if low in pair:
                pair_rows[pair] += int(count)
                spelled[str(value).strip()] += int(count)
    if len(pair_rows) < 2:
        return None
    best = pair_rows.most_common(1)[0][0]
    # the majority's own case: the most frequent spelling of either word of the pair
    own = [s for s, _ in spelled.most_common() if s.lower() in best]
    styler = _case_of(own[0]) if own else (lambda s: s)

    def rewrite(value: str) -> Rewrite:
        low = value.strip().lower()
        if low in best or low not in BOOLEAN_TRUE | BOOLEAN_FALSE:
            return None
        target = best[0] if low in BOOLEAN_TRUE else best[1]
        return styler(target), "boolean_spelling", BOOLEAN_CONFIDENCE

    return rewrite


def _case_of(example: str) -> Callable[[str], str]:
    if example.isupper():
        return str.upper
    if example[:1].isupper():
        return str.capitalize
    return str.lower


# ---- phones -----------------------------------------------------------------------------------
def phone_rewriter(text: pd.Series, how: str, region: str) -> Callable[[str], Rewrite] | None:
    """Phones written one way. `auto`: in a column that writes its valid numbers in several
    shapes, the numbers in a minority shape are rewritten in the majority's (`415-555-0132`
    among `(415) 555-0199` becomes `(415) 555-0132`); a consistent column is left as it is.
    `e164`: every valid number as E.164 (`+14155550132`). Validity comes from the profile's
    vectorised check; numbers are parsed by `phonenumbers` one distinct value at a time (up
    to a limit)."""
    if how == "keep":
        return None
    counts = text[text.str.strip() != ""].str.strip().value_counts()
    if counts.empty:
        return None
    values = pa.array([str(v) for v in counts.index])
    checked = check_phones(values)
    if region == "auto":
        region = checked.region
    valid = values.filter(pa.array(checked.valid))
    if len(valid) == 0:
        return None
    valid_shapes = shapes(valid).to_pylist()
    rows_per_shape: Counter[str] = Counter()
    for shape, rows in zip(valid_shapes, counts.to_numpy()[checked.valid].tolist(), strict=True):
        rows_per_shape[shape] += rows
    template = rows_per_shape.most_common(1)[0][0]
    if how == "auto" and len(rows_per_shape) < 2:
        return None
    # letters are never read as keypad digits: `25x47x7xx0` is a damaged number, not a vanity one
    targets = [
        v
        for v, shape in zip(valid.to_pylist(), valid_shapes, strict=True)
        if (how == "e164" or shape != template) and not any(ch.isalpha() for ch in v)
    ]
    formatted: dict[str, str] = {}
    home_code = phonenumbers.country_code_for_region(region)
    for value in targets[:PHONE_EXACT_LIMIT]:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if how == "e164":
            formatted[value] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        else:
            shaped = _in_shape(number, template, home_code)
            if shaped is not None:
                formatted[value] = shaped
    rule = "phone_e164" if how == "e164" else "phone_format"

    def rewrite(value: str) -> Rewrite:
        new = formatted.get(value.strip())
        return None if new is None else (new, rule, PHONE_CONFIDENCE)

    return rewrite


def _in_shape(number: phonenumbers.PhoneNumber, template: str, home_code: int) -> str | None:
    """The number's digits poured into a shape such as `(999) 999-9999` or `+9 999-999-9999`,
    with or without its country code; None when neither fits the shape's digit count.

    The shape is the column's majority, written for numbers of its own country (`home_code`):
    a number from elsewhere keeps its country code, so it only fits a shape that marks the
    code with a '+'. Poured into `(999) 999-9999`, `+44 20 7946 7379` would become a US
    number that nobody can call."""
    slots = template.count("9")
    national = str(number.national_number)
    international = f"{number.country_code}{national}"
    if number.country_code == home_code:
        candidates: tuple[str, ...] = (national, international)
    elif template.lstrip().startswith("+"):
        candidates = (international,)
    else:
        return None
    for digits in candidates:
        if len(digits) == slots:
            feed = iter(digits)
            return "".join(next(feed) if ch == "9" else ch for ch in template)
    return None


# ---- emails -----------------------------------------------------------------------------------
_TYPO_DOMAINS = "@(?:" + "|".join(re.escape(d) for d in EMAIL_DOMAIN_TYPOS) + ")"


def email_may_change(values: pa.Array) -> np.ndarray:
    """Per value, False where `email_rewrite` certainly leaves it alone: ASCII text without a
    capital letter (its domain is lower case already) and without a misspelt domain."""
    odd = pc.or_(
        pc.invert(pc.string_is_ascii(values)),
        pc.or_(pc.match_substring_regex(values, "[A-Z]"), pc.match_substring_regex(values, _TYPO_DOMAINS)),
    )
    return bool_mask(odd)


def email_rewrite(value: str) -> Rewrite:
    """The domain in lower case (it is case-insensitive; the local part may not be); a known
    misspelt mail domain offered as a suggestion."""
    match = _EMAIL.match(value.strip())
    if not match:
        return None
    local, domain = match.groups()
    lowered = domain.lower()
    if lowered in EMAIL_DOMAIN_TYPOS:
        return f"{local}@{EMAIL_DOMAIN_TYPOS[lowered]}", "email_domain_typo", EMAIL_TYPO_CONFIDENCE
    if lowered != domain:
        return f"{local}@{lowered}", "email_domain_case", EMAIL_CASE_CONFIDENCE
    return None


# ---- countries --------------------------------------------------------------------------------
def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Lower-case country names (ISO name, official and common names, and a few everyday
    aliases) -> ISO 3166 alpha-2 code."""
    names: dict[str, str] = dict(COUNTRY_ALIASES)
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if name:
                names[_key(name)] = country.alpha_2
    return names


@lru_cache(maxsize=1)
def country_codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        codes[country.alpha_2.lower()] = country.alpha_2
        codes[country.alpha_3.lower()] = country.alpha_2
    return codes


def country_rewriter(text: pd.Series, how: str) -> Callable[[str], Rewrite] | None:
    """Country names as ISO codes in a column of countries (90% of its filled cells are
    country names or codes, at least one a name). `auto` converts the names only where codes
    are already the column's usual form (a column written in names keeps its names); `iso2`
    and `iso3` convert every name."""
    if how == "keep":
        return None
    counts = filled_values(text).value_counts()
    if counts.empty:
        return None
    names, codes = country_names(), country_codes()
    named = two = three = 0
    for value, count in counts.items():
        key = _key(str(value))
        if key in names:
            named += int(count)
        elif key in codes and len(key) == 2:
            two += int(count)
        elif key in codes and len(key) == 3:
            three += int(count)
    if named + two + three < COUNTRY_SHARE * counts.sum() or not named:
        return None
    if how == "auto":
        if named >= max(two, three):
            return None  # names are the column's own form
        how = "iso2" if two >= three else "iso3"
    alpha3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}

    def rewrite(value: str) -> Rewrite:
        code = names.get(_key(value))
        if code is None:
            return None
        return (alpha3[code] if how == "iso3" else code), "country_code", COUNTRY_CONFIDENCE

    return rewrite
