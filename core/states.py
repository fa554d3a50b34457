"""The task state machine: the one table of legal status changes.

Every status change in the product goes through `transition`, which refuses an illegal move
and writes the change as a compare-and-set (`WHERE status = <expected>`), so two processes that
race for the same task cannot both win. Being the one place, it also logs every change as one
structured line (event `task_transition`, see `core.logs`) once the change is committed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from core.errors import InvalidStateError
from core.logs import log_event
from db.models import Task, utcnow


class Status(StrEnum):
    CREATED = "created"
    UPLOADING = "uploading"
    UPLOAD_FAILED = "upload_failed"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.UPLOADING, Status.CANCELLED}),
    # uploading -> uploading: fresh upload URLs may be issued while uploading.
    Status.UPLOADING: frozenset({Status.UPLOADING, Status.QUEUED, Status.UPLOAD_FAILED, Status.CANCELLED}),
    Status.UPLOAD_FAILED: frozenset({Status.UPLOADING, Status.CANCELLED}),
    # queued -> failed: the worker could not even start it (e.g. its inputs vanished).
    Status.QUEUED: frozenset({Status.PROCESSING, Status.FAILED, Status.CANCELLED}),
    # processing -> queued: a worker died and the task is given one more try.
    Status.PROCESSING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}

log = logging.getLogger("dq.tasks")

TERMINAL = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
ACTIVE = frozenset({Status.QUEUED, Status.PROCESSING})

# The timestamp each status stamps when a task enters it.
_STAMPS: dict[Status, str] = {
    Status.UPLOADING: "upload_started_at",
    Status.QUEUED: "files_verified_at",
    Status.PROCESSING: "processing_started_at",
    Status.COMPLETED: "completed_at",
    Status.FAILED: "failed_at",
    Status.CANCELLED: "cancelled_at",
}


def can_transition(current: str, target: str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise InvalidStateError(
            f"A task that is {current.replace('_', ' ')} cannot become {target.replace('_', ' ')}.",
            current_status=current,
            requested_status=target,
        )


def transition(session: Session, task: Task, target: Status, **fields: Any) -> Task:
    """Move `task` to `target`, setting `fields` in the same write.

    Raises InvalidStateError if the move is illegal, or if another process changed the task's
    status since it was read (the compare-and-set found nothing to update).
    """
    current = Status(task.status)
    check_transition(current, target)
    now: datetime = utcnow()
    values: dict[str, Any] = {"status": target.value, "updated_at": now, **fields}
    stamp = _STAMPS.get(target)
    if stamp and stamp not in fields:
        values[stamp] = now
    result = session.execute(
        update(Task)
        .where(Task.task_id == task.task_id, Task.status == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise InvalidStateError(
            "The task changed while this step was running; reload it and try again.",
            current_status=current.value,
            requested_status=target.value,
        )
    entered = _entered_at(task, current)
    for name, value in values.items():
        setattr(task, name, value)
    # logged once the change is committed: a transition rolled back never happened
    session.info.setdefault(_PENDING_LOGS, []).append(
        {
            "task_id": task.task_id,
            "user_id": task.user_id,
            "tool": task.tool_id,
            "from": current.value,
            "to": target.value,
            "seconds_in_previous": None if entered is None else round((now - entered).total_seconds(), 3),
            "attempt": task.attempts,
            "error_code": values.get("error_code"),
        }
    )
    return task


_PENDING_LOGS = "dq_pending_transition_logs"


@event.listens_for(Session, "after_commit")
def _log_committed_transitions(session: Session) -> None:
    for fields in session.info.pop(_PENDING_LOGS, []):
        log_event(log, "task_transition", **fields)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_transitions(session: Session) -> None:
    session.info.pop(_PENDING_LOGS, None)


def _entered_at(task: Task, status: Status) -> datetime | None:
    """When `task` entered `status`, from the timestamp that status stamps."""
    stamp = "created_at" if status is Status.CREATED else _STAMPS.get(status, "updated_at")
    return getattr(task, stamp, None) or task.updated_at
