"""Match keys: each value rewritten the way two spellings of the same thing agree.

"Dr. José  O'Neil" and "jose oneil" must compare equal, "+44 20 7946 0958" and "020 7946 0958"
too. The keys are what the model compares; the output values (golden records, clusters) are
always the file's own text, so standardising never alters what the user gets back.

Each rule runs once per distinct value of a column (through the shared column profile's
encoding), so a million rows with 5,000 surnames cost 5,000 rewrites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.base import AgentContext, LoadedTable
from core.agents.profile.inference import ColumnProfile, column_profile, matching_keys, typed_values
from core.agents.profile.phones import detect_region

TITLES = (
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "jr", "sr", "ii", "iii", "iv",
    "herr", "frau", "mme", "mlle", "m", "sra", "sr", "dott",
)  # fmt: skip
ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "crescent": "cres",
    "boulevard": "blvd",
    "highway": "hwy",
    "terrace": "tce",
    "square": "sq",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "suite": "ste",
}
_TITLES_PATTERN = r"(^| )(" + "|".join(TITLES) + r")( |$)"


def _squeeze(array: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(array, r"\s+", " "))


def name_keys(values: pa.Array) -> pa.Array:
    """Lower case, accents and punctuation gone, titles dropped, apostrophes joined
    ("O'Neil" -> "oneil")."""
    joined = pc.replace_substring_regex(values, r"['’`]", "")
    keys = matching_keys(joined)
    for _ in range(2):  # "mr dr smith": a second pass takes the title the first one exposed
        keys = pc.replace_substring_regex(keys, _TITLES_PATTERN, " ")
    return _squeeze(keys)


def text_keys(values: pa.Array) -> pa.Array:
    return matching_keys(values)


def address_keys(values: pa.Array) -> pa.Array:
    """Text keys with the usual street words shortened the same way ("street" -> "st")."""
    keys = matching_keys(values)
    for word, short in ADDRESS_WORDS.items():
        keys = pc.replace_substring_regex(keys, rf"(^| ){word}( |$)", rf"\1{short}\2")
    return keys


def identifier_keys(values: pa.Array) -> pa.Array:
    """Letters and digits only, upper case: "ab-123 45" and "AB12345" are one identifier."""
    return pc.utf8_upper(pc.replace_substring_regex(values, r"[^0-9A-Za-z]+", ""))


def postcode_keys(values: pa.Array) -> pa.Array:
    return pc.utf8_upper(pc.replace_substring_regex(values, r"[\s-]+", ""))


def email_keys(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def phone_keys(values: pa.Array) -> pa.Array:
    """E.164 ("+442079460958") by `phonenumbers`, in the region most numbers are from; numbers
    it cannot parse keep their digits, so they still compare with themselves."""
    texts = values.to_pylist()
    region = detect_region([t for t in texts if t][:500])
    out: list[str] = []
    for text in texts:
        key = ""
        if text:
            try:
                number = phonenumbers.parse(text, region)
                key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            except phonenumbers.NumberParseException:
                key = "".join(ch for ch in text if ch.isdigit())
        out.append(key)
    return pa.array(out, type=pa.large_string())


def _typed_dates(profile: ColumnProfile, values: pa.Array, column: str) -> pd.Series | None:
    """The distinct values parsed with the column's date format (its inferred one, or that of
    the majority when typos kept the column from being typed as dates)."""
    column_type = profile.column_type
    if column_type.inferred_type not in ("date", "datetime"):
        if column_type.mismatch_type not in ("date", "datetime"):
            return None
        column_type = replace(
            column_type, inferred_type=column_type.mismatch_type, date_format=column_type.mismatch_date_format
        )
    return typed_values(pd.Series(values.to_pandas(), dtype="str", name=column), column_type)


def date_keys_from(typed: pd.Series | None, values: pa.Array) -> pa.Array:
    """ISO dates (YYYY-MM-DD) where the column's date format reads the value; otherwise
    eight-digit dates (YYYYMMDD) cut into ISO, and anything else kept as its digits, so a typo
    is still one edit away from the right date."""
    fallback = _digit_dates(values)
    if typed is None:
        return fallback
    stamps = pd.to_datetime(typed, errors="coerce")
    iso = pa.array(stamps.dt.strftime("%Y-%m-%d").astype("str").fillna(""), type=pa.large_string())
    return pc.if_else(pc.equal(iso, ""), fallback, iso)


def _digit_dates(values: pa.Array) -> pa.Array:
    digits = pc.replace_substring_regex(values, r"\D", "")
    compact = pc.match_substring_regex(digits, r"^\d{8}$")
    cut = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(digits, 0, 4),
        pc.utf8_slice_codeunits(digits, 4, 6),
        pc.utf8_slice_codeunits(digits, 6, 8),
        pa.scalar("-", pa.large_string()),
    )
    return pc.if_else(compact, cut, digits)


KEY_RULES: dict[str, Callable[[pa.Array], pa.Array]] = {
    "name": name_keys,
    "identifier": identifier_keys,
    "email": email_keys,
    "phone": phone_keys,
    "postcode": postcode_keys,
    "address": address_keys,
    "text": text_keys,
    "category": text_keys,
    "number": identifier_keys,
}


def column_keys(context: AgentContext, table: LoadedTable, column: str, kind: str) -> pd.Series:
    """The match key of every row of one column (None where the cell is missing)."""
    profile = column_profile(context, table, column)
    encoded = profile.encoded
    distinct = pc.cast(encoded.values, pa.large_string())
    if kind == "date":
        keys = date_keys_from(_typed_dates(profile, encoded.values, column), distinct)
    else:
        keys = KEY_RULES[kind](distinct)
    per_value = np.asarray(pc.fill_null(keys, "").to_pylist(), dtype=object)
    per_value[profile.missing_codes] = ""
    per_value[per_value == ""] = None
    return pd.Series(per_value[encoded.codes], index=table.frame.index, dtype="str")
