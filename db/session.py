"""Engines and sessions: SQLite in WAL mode with foreign keys on, or MySQL/MariaDB with a
pre-pinged, recycled pool; and a retry for units of work that meet a database going away."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MYSQL_POOL_RECYCLE_SECONDS = 1800
RETRY_FIRST_PAUSE_SECONDS = 0.25
RETRY_MAX_PAUSE_SECONDS = 2.0

log = logging.getLogger(__name__)
T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy's "begin" hook decide how a transaction starts (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    """Take SQLite's write lock when a transaction starts.

    With the default deferred BEGIN, two processes that both read and then write (the app and
    the worker) can meet SQLITE_BUSY without the busy timeout ever applying; starting every
    transaction with BEGIN IMMEDIATE makes them queue politely instead. Our transactions are
    short, so serialising them costs nothing noticeable.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its pragmas on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(
        url,
        # a pooled connection the server dropped (restart, wait_timeout) is replaced, not handed out
        pool_pre_ping=True,
        # and none is kept longer than this, below MariaDB's default wait_timeout of 8 hours and the
        # idle limits of most load balancers and proxies in front of managed databases
        pool_recycle=MYSQL_POOL_RECYCLE_SECONDS,
        pool_size=5,
        max_overflow=10,
        # the session clock is UTC, like every timestamp we write (db.models.utcnow)
        connect_args={"init_command": "SET time_zone = '+00:00'"},
    )


_ENGINES: list[Engine] = []  # every engine `engine_for` made, for `dispose_engines`


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per database URL per process."""
    engine = make_engine(url)
    _ENGINES.append(engine)
    return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine `engine_for` made: a process that ends
    without the interpreter's teardown still says goodbye to the database server."""
    for engine in _ENGINES:
        engine.dispose()


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_transient(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or dropped the connection.

    The server restarting (refused connections, "server has gone away", a connection lost in the
    middle of a query), a deadlock or a lock wait timeout all arrive as the driver's
    OperationalError or InterfaceError; constraint violations and bad SQL never do, so those
    are never retried.
    """
    return isinstance(error, OperationalError | InterfaceError)


def retry_transient(work: Callable[[], T], *, within: float, what: str) -> T:
    """Run `work` (a whole unit of work: it opens and commits its own session) until it gets
    through the database, for at most `within` seconds; then the last error is raised.

    Only units of work that are safe to run twice may be retried: a compare-and-set, or an
    insert guarded by a unique key (a charge commits and its acknowledgement is lost: the retry
    finds the charge and does not take it again). The pool's pre-ping replaces the connections
    the restart broke, so the first attempt after the server is back succeeds.
    """
    deadline = time.monotonic() + within
    pause = RETRY_FIRST_PAUSE_SECONDS
    while True:
        try:
            return work()
        except Exception as error:
            if not is_transient(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("the database did not answer while %s (%s); retrying", what, type(error).__name__)
        time.sleep(pause)
        pause = min(pause * 2, RETRY_MAX_PAUSE_SECONDS)
