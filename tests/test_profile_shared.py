"""The work the profile agents share: per-column facts computed once even when two threads ask
at the same time, and table-wide facts started in the background by the types agent and
picked up (or their error raised) by the agent that needs them."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from core.agents.profile.inference import ColumnProfile, cached_property, per_table, prefetch
from core.agents.profile.types import TypesAgent
from core.agents.profile.uniqueness import CACHE_KEY as UNIQUENESS_KEY
from core.agents.profile.uniqueness import UniquenessAgent
from tests.profile_helpers import context_of, table_of


class _Slow:
    """Counts how often its cached value is computed; the computation takes a while, so a
    second thread asking meanwhile would compute it again without the lock."""

    def __init__(self) -> None:
        self.calls = 0

    @cached_property
    def value(self) -> int:
        self.calls += 1
        time.sleep(0.05)
        return 42


def test_a_cached_value_asked_for_by_many_threads_is_computed_once() -> None:
    slow = _Slow()
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(slow.value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [42] * 8
    assert slow.calls == 1


def test_column_profiles_computed_side_by_side_agree_with_one_thread() -> None:
    text = pd.Series([f"{i % 7}" for i in range(5000)] + ["x"], dtype="str", name="n")
    alone = ColumnProfile("primary", "n", text).column_type
    shared = ColumnProfile("primary", "n", text)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(shared.column_type)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(found is seen[0] for found in seen)  # one computation, handed to every thread
    assert seen[0] == alone


def test_a_prefetched_fact_is_computed_once_and_its_error_reaches_the_agent_that_asks() -> None:
    table = table_of({"a": ["1", "2"]})
    context = context_of(table)
    calls = []
    release = threading.Event()

    def compute(current: object) -> str:
        calls.append(current)
        release.wait(5)
        return "fact"

    prefetch(context, "test.fact", table, compute)
    prefetch(context, "test.fact", table, compute)  # already started: not started again
    release.set()
    assert per_table(context, "test.fact", table, compute) == "fact"
    assert len(calls) == 1
    assert calls[0].cache is context.cache and calls[0].tables is context.tables
    assert calls[0].progress is not context.progress  # the background reports no progress

    def broken(current: object) -> str:
        raise ValueError("bad column")

    prefetch(context, "test.broken", table, broken)
    with pytest.raises(ValueError, match="bad column"):
        per_table(context, "test.broken", table, broken)


def test_the_types_agent_starts_the_uniqueness_facts_only_when_that_agent_runs() -> None:
    columns = {"id": ["1", "2", "2"], "name": ["Ann", "Bob", "Bob"]}
    chosen = table_of(columns)
    context = context_of(chosen)
    context.agents = ("types", "uniqueness")
    TypesAgent().run(context)
    assert UNIQUENESS_KEY in context.cache  # started in the background
    result = UniquenessAgent().run(context)
    assert any(alert.code == "DUPLICATE_ROWS" for alert in result.alerts)

    alone = context_of(table_of(columns))
    alone.agents = ("types",)
    TypesAgent().run(alone)
    assert UNIQUENESS_KEY not in alone.cache
