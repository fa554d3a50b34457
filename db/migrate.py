"""Schema migrations, owned by Alembic: `python -m core db upgrade`, and the app on start."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from db.session import engine_for, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*(?::[^=]*)?=\s*(None|["']([^"']+)["'])\s*$""", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # Alembic is loaded only when the schema may change

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def script_head() -> str | None:
    """The newest revision in `migrations/versions`, read from the scripts' text.

    Loading Alembic and its script directory costs a tenth of a second or more on every start;
    this is the few lines it would read. None when the scripts are not one plain chain (a merge,
    several heads, a revision this reading does not understand): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0][1]:
            parents.add(down[0][1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revisions(url: str) -> set[str] | None:
    """The revisions the database says it is at; None when it cannot say (no version table yet)."""
    try:
        with engine_for(url).connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        return None


def upgrade_if_behind(url: str) -> None:
    """`upgrade(url)`, skipped when the database already stands at the scripts' head: the check
    every start makes, at the cost of one query instead of Alembic's whole machinery."""
    head = script_head()
    if head is not None and stored_revisions(url) == {head}:
        return
    upgrade(url)


def current_tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
