"""Small seeded person files with known duplicates, shared by the master-my-data tests.

Each person is one entity; copies of a person carry the damage real files have (a typo, a
blank, a different phone format, accents and titles). `entity` is kept out of the files: it
is the truth the tests compare the agents' answers with.
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd

from core.agents.base import AgentContext, LoadedTable


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark "
    "Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol"
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts"
)
CITIES = _words(
    "Springfield Riverside Franklin Greenville Bristol Clinton Fairview Salem Madison Georgetown "
    "Arlington Ashland Burlington Manchester Milton Newport Oxford Dover Hudson Kingston"
)


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    at = rng.randrange(1, len(text) - 1)
    return (
        text[:at] + text[at + 1 :]
        if rng.random() < 0.5
        else text[:at] + text[at + 1] + text[at] + text[at + 2 :]
    )


def people(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` distinct people (the `entity` key is their truth id)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append(
            {
                "entity": n,
                "first_name": first,
                "last_name": last,
                "birth_date": f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.com",
                "phone": f"(555) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                "city": rng.choice(CITIES),
                "zip": f"{rng.randint(10000, 99999)}",
            }
        )
    return out


def damaged(person: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of `person` as another system would hold it: one or two fields damaged."""
    copy = dict(person)
    for field in rng.sample(["first_name", "last_name", "email", "phone", "city", "birth_date"], 2):
        roll = rng.random()
        if field == "phone":
            digits = "".join(ch for ch in copy["phone"] if ch.isdigit())
            copy["phone"] = f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}"
        elif field in ("first_name", "last_name") and roll < 0.3:
            copy[field] = copy[field].upper()
        elif roll < 0.8:
            copy[field] = typo(rng, copy[field])
        else:
            copy[field] = ""
    return copy


def frame_of(rows: list[dict[str, Any]], rename: dict[str, str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows).drop(columns=["entity"]).astype("str")
    return frame.rename(columns=rename or {})


def table(frame: pd.DataFrame, file_key: str, filename: str | None = None) -> LoadedTable:
    return LoadedTable(
        file_key, filename or f"{file_key}.csv", frame.astype("str").reset_index(drop=True), "csv", 0
    )


def context(*tables: LoadedTable, **parameters: Any) -> AgentContext:
    defaults = {"match_threshold": 0.95, "column_mapping": "", "survivorship": "", "recency_column": ""}
    return AgentContext(tables={t.file_key: t for t in tables}, parameters={**defaults, **parameters})


def pair_truth(entities: list[int]) -> set[tuple[int, int]]:
    """Every pair (i < j) of record positions that belong to one entity."""
    by_entity: dict[int, list[int]] = {}
    for position, entity in enumerate(entities):
        by_entity.setdefault(entity, []).append(position)
    return {(a, b) for members in by_entity.values() for i, a in enumerate(members) for b in members[i + 1 :]}
