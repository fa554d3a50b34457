"""Seeded person records with known duplicates, for the million-record `master-my-data` run.

Febrl's files stop at 10,000 records; this writes any number in Febrl's shape (given name,
surname, street number, address, suburb, postcode, state, date of birth, social security
number) with `rec-N-org` / `rec-N-dup-k` ids so the truth is known. A fifth of the records are
duplicates of another record with the damage real files carry: a typo (a letter changed,
dropped, doubled or two swapped; digits stay digits), a blank, a swapped first and last name, a day and month
exchanged, a different street number. Names come from syllables, so there are tens of
thousands of surnames with a realistic skew (a few very common ones make big blocks).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20240607
SYLLABLES = [
    "an",
    "ba",
    "be",
    "bo",
    "ca",
    "ce",
    "da",
    "de",
    "di",
    "do",
    "el",
    "en",
    "fa",
    "fe",
    "ga",
    "ge",
    "ha",
    "he",
    "in",
    "ja",
    "ka",
    "ke",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "ni",
    "no",
    "ol",
    "on",
    "pa",
    "pe",
    "ra",
    "re",
    "ri",
    "ro",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "va",
    "ve",
    "vi",
    "wa",
    "we",
    "wi",
    "ya",
    "yo",
    "za",
]
STREET_TYPES = ("street", "road", "avenue", "place", "crescent", "drive", "close", "court")
STATES = ("nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt")
FIELDS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def _words(rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
    parts = rng.integers(0, len(SYLLABLES), size=(count, high))
    lengths = rng.integers(low, high + 1, size=count)
    syllables = np.array(SYLLABLES)
    return np.unique(["".join(syllables[p[:n]]) for p, n in zip(parts, lengths, strict=True)])


def _zipf_pick(rng: np.random.Generator, vocabulary: np.ndarray, size: int, exponent: float) -> np.ndarray:
    ranks = np.arange(1, len(vocabulary) + 1, dtype=float)
    weights = ranks**-exponent
    return vocabulary[rng.choice(len(vocabulary), size=size, p=weights / weights.sum())]


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 2:
        return text + "a"
    at = int(rng.integers(0, len(text) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        alphabet = "0123456789" if text.isdigit() else "abcdefghijklmnopqrstuvwxyz"
        return text[:at] + alphabet[int(rng.integers(0, len(alphabet)))] + text[at + 1 :]
    if kind == 1:
        return text[:at] + text[at + 1 :]
    if kind == 2:
        return text[:at] + text[at] + text[at:]
    return text[:at] + text[at + 1] + text[at] + text[at + 2 :]


def generate(path: Path, records: int, duplicate_share: float = 0.2) -> None:
    rng = np.random.default_rng(SEED)
    originals = int(records * (1 - duplicate_share))
    given = _words(rng, 6000, 2, 3)
    surnames = _words(rng, 120_000, 2, 4)
    streets = _words(rng, 20_000, 2, 3)
    suburbs = _words(rng, 8_000, 2, 4)
    base = {
        "given_name": _zipf_pick(rng, given, originals, 0.9),
        "surname": _zipf_pick(rng, surnames, originals, 0.8),
        "street_number": rng.integers(1, 400, originals).astype(str),
        "address_1": np.char.add(
            np.char.add(_zipf_pick(rng, streets, originals, 0.5), " "),
            rng.choice(STREET_TYPES, originals),
        ),
        "suburb": _zipf_pick(rng, suburbs, originals, 0.6),
        "postcode": rng.integers(2000, 7999, originals).astype(str),
        "state": rng.choice(STATES, originals),
        "date_of_birth": np.char.add(
            np.char.add(
                rng.integers(1930, 2006, originals).astype(str),
                np.char.zfill(rng.integers(1, 13, originals).astype(str), 2),
            ),
            np.char.zfill(rng.integers(1, 29, originals).astype(str), 2),
        ),
        "soc_sec_id": rng.choice(np.arange(1_000_000, 9_999_999), originals, replace=False).astype(str),
    }
    columns = list(base)
    duplicates = records - originals
    sources = rng.integers(0, originals, duplicates)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for n in range(originals):
            writer.writerow([f"rec-{n}-org", *(base[c][n] for c in columns)])
        copies: dict[int, int] = {}
        for source in sources.tolist():
            k = copies.get(source, 0)
            copies[source] = k + 1
            row = {c: str(base[c][source]) for c in columns}
            for _ in range(int(rng.integers(1, 4))):
                _damage(rng, row)
            writer.writerow([f"rec-{source}-dup-{k}", *(row[c] for c in columns)])


def _damage(rng: np.random.Generator, row: dict[str, str]) -> None:
    field = FIELDS[1 + int(rng.integers(0, len(FIELDS) - 1))]
    roll = rng.random()
    if roll < 0.6:
        row[field] = _typo(rng, row[field])
    elif roll < 0.75:
        row[field] = ""
    elif roll < 0.85:
        row["given_name"], row["surname"] = row["surname"], row["given_name"]
    elif roll < 0.95 and len(row["date_of_birth"]) == 8:
        dob = row["date_of_birth"]
        row["date_of_birth"] = dob[:4] + dob[6:8] + dob[4:6]
    else:
        row["street_number"] = str(int(rng.integers(1, 400)))
