"""The state machine: every legal transition works, every illegal one is refused, and a stale
read cannot overwrite a newer status."""

from __future__ import annotations

import itertools
import uuid

import pytest

from core.errors import InvalidStateError
from core.states import TRANSITIONS, Status, can_transition, transition
from db.models import Task, User
from db.session import session_factory, session_scope

ALL_PAIRS = list(itertools.product(Status, Status))


@pytest.fixture
def make_task(db_url: str):  # type: ignore[no-untyped-def]
    factory = session_factory(db_url)
    with session_scope(factory) as s:
        owner = User(username=f"u{uuid.uuid4().hex[:8]}")
        s.add(owner)
        s.flush()

    def make(status: Status) -> str:
        task_id = str(uuid.uuid4())
        with session_scope(factory) as s:
            s.add(Task(task_id=task_id, user_id=owner.id, tool_id="profile-my-data", status=status.value))
        return task_id

    make.factory = factory  # type: ignore[attr-defined]
    return make


def test_every_status_has_a_row_and_terminal_states_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    for status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
        assert not TRANSITIONS[status]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_transition_obeys_the_table(make_task, source: Status, target: Status) -> None:  # type: ignore[no-untyped-def]
    factory = make_task.factory
    task_id = make_task(source)
    with session_scope(factory) as s:
        task = s.get(Task, task_id)
        if can_transition(source, target):
            transition(s, task, target)
        else:
            with pytest.raises(InvalidStateError):
                transition(s, task, target)
    with session_scope(factory) as s:
        stored = s.get(Task, task_id)
        expected = target if can_transition(source, target) else source
        assert stored.status == expected.value
        stamps = {
            Status.UPLOADING: stored.upload_started_at,
            Status.QUEUED: stored.files_verified_at,
            Status.PROCESSING: stored.processing_started_at,
            Status.COMPLETED: stored.completed_at,
            Status.FAILED: stored.failed_at,
            Status.CANCELLED: stored.cancelled_at,
        }
        if expected != source and expected in stamps:
            assert stamps[expected] is not None


def test_a_stale_read_cannot_overwrite_a_newer_status(make_task) -> None:  # type: ignore[no-untyped-def]
    factory = make_task.factory
    task_id = make_task(Status.QUEUED)
    stale_session = factory()
    stale = stale_session.get(Task, task_id)
    stale_session.expunge(stale)
    stale_session.close()
    with session_scope(factory) as s:
        transition(s, s.get(Task, task_id), Status.PROCESSING)
    with session_scope(factory) as s, pytest.raises(InvalidStateError):
        transition(s, stale, Status.CANCELLED)  # it still believes the task is queued
    with session_scope(factory) as s:
        assert s.get(Task, task_id).status == Status.PROCESSING.value
