"""Workers: claim queued tasks, run them, and reap tasks whose worker died.

A claim is a compare-and-set on the task's status (`queued` -> `processing`), so any number
of workers on any number of processes can poll the same table and no task runs twice. A task
whose heartbeat stopped (its worker was killed, the machine restarted) is given one more try,
then fails with `INTERRUPTED` and every credit it took is given back (it wrote no report);
credits are never charged twice because each (task, agent) charge is unique in the ledger.

The same claim and reaper serve RQ workers (`core.rq_jobs`): there a job names its task and
`claim` does the compare-and-set, and the reaper hands a re-queued task (and a queued one whose
job the broker lost) back to the executor.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import billing
from core.errors import InvalidStateError
from core.executors import DatabaseQueueExecutor, Executor, QueueUnavailableError
from core.runner import run_task
from core.settings import Settings
from core.states import Status, transition
from db.models import Task, utcnow
from db.session import is_transient, session_scope
from storage.base import ObjectStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
MAX_ERROR_PAUSE_SECONDS = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parent_gone(parent_pid: int, is_child: bool) -> bool:
    """True once `parent_pid` has ended.

    A worker the app (or the CLI) started is its child (`is_child`): when the parent dies the
    worker is handed to another process, so `getppid()` changes at once, even while the dead
    parent is a zombie nobody has waited for yet (which `kill(pid, 0)` still finds alive).
    """
    return (is_child and os.getppid() != parent_pid) or not _pid_alive(parent_pid)


def _dead_on_this_host(worker_id: str | None) -> bool:
    """True when `worker_id` names a process on this machine that no longer exists."""
    if not worker_id or ":" not in worker_id:
        return False
    host, _, pid = worker_id.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        store: ObjectStore,
        settings: Settings,
        worker_id: str | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.factory = factory
        self.store = store
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.executor: Executor = executor or DatabaseQueueExecutor()

    def reap(self) -> list[str]:
        """Re-queue (once) or fail every processing task whose worker is gone; re-send lost jobs."""
        stale_before = utcnow() - timedelta(seconds=self.settings.stale_after_seconds)
        reaped = []
        requeued: list[tuple[str, str, int]] = []
        with session_scope(self.factory) as session:
            candidates = session.scalars(select(Task).where(Task.status == Status.PROCESSING.value)).all()
            for task in candidates:
                stale = task.heartbeat_at is None or task.heartbeat_at < stale_before
                if not (stale or _dead_on_this_host(task.worker_id)):
                    continue
                try:
                    if task.attempts < MAX_ATTEMPTS:
                        transition(
                            session,
                            task,
                            Status.QUEUED,
                            worker_id=None,
                            heartbeat_at=None,
                            progress_message="Restarting after an interruption",
                        )
                        requeued.append((task.task_id, task.tool_id, task.attempts))
                    else:
                        transition(
                            session,
                            task,
                            Status.FAILED,
                            error_code="INTERRUPTED",
                            error_message="The task was interrupted twice (the worker stopped) and "
                            "nothing was charged; please start it again.",
                            failed_agent=task.current_agent,
                        )
                        # no report was written, so none of its agents is paid for
                        billing.refund_task(session, task.task_id, note="task interrupted twice")
                    session.commit()
                    reaped.append(task.task_id)
                except InvalidStateError:
                    continue
        for task_id in reaped:
            log.warning("reaped interrupted task %s", task_id)
        for task_id, tool_id, attempt in requeued:
            self._send(task_id, tool_id, attempt)
        self._resend_lost(stale_before)
        return reaped

    def _send(self, task_id: str, tool_id: str, attempt: int) -> None:
        try:
            self.executor.submit(task_id, tool_id, attempt)
        except QueueUnavailableError:
            log.warning("task %s stays queued: the queue cannot be reached; the next reap retries", task_id)

    def _resend_lost(self, queued_before: datetime) -> list[str]:
        """Send again the queued tasks whose job the broker no longer has (Redis restarted or was
        down when the task was queued). The database says what is queued; the broker may forget."""
        with session_scope(self.factory) as session:
            waiting = session.execute(
                select(Task.task_id, Task.tool_id, Task.attempts).where(
                    Task.status == Status.QUEUED.value, Task.updated_at < queued_before
                )
            ).all()
        resent = []
        for task_id, tool_id, attempt in waiting:
            try:
                if self.executor.is_pending(task_id, attempt):
                    continue
            except Exception:  # the broker is down: nothing can be sent now
                log.warning("cannot check the queue for task %s; the next reap retries", task_id)
                return resent
            log.warning("task %s was queued but its job is gone; sending it again", task_id)
            self._send(task_id, tool_id, attempt)
            resent.append(task_id)
        return resent

    def _claim(self, session: Session, task: Task) -> bool:
        """The compare-and-set `queued -> processing` that makes this worker the task's only runner."""
        try:
            transition(
                session,
                task,
                Status.PROCESSING,
                worker_id=self.worker_id,
                heartbeat_at=utcnow(),
                attempts=task.attempts + 1,
                progress=0,
                progress_message="Starting",
            )
        except InvalidStateError:
            return False  # another worker was quicker, or the task was cancelled
        session.commit()
        return True

    def claim_next(self) -> str | None:
        """Claim the oldest queued task, or None when there is nothing to do."""
        with session_scope(self.factory) as session:
            candidates = session.scalars(
                select(Task)
                .where(Task.status == Status.QUEUED.value)
                .order_by(Task.files_verified_at)
                .limit(5)
            ).all()
            for task in candidates:
                if self._claim(session, task):
                    return task.task_id
        return None

    def claim(self, task_id: str) -> bool:
        """Claim one named task (an RQ job names its task); False when it is not queued any more."""
        with session_scope(self.factory) as session:
            task = session.get(Task, task_id)
            return task is not None and task.status == Status.QUEUED.value and self._claim(session, task)

    def run_once(self) -> str | None:
        task_id = self.claim_next()
        if task_id is not None:
            run_task(task_id, self.factory, self.store, self.settings)
        return task_id

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        exit_when_idle: bool = False,
        poll_interval: float = 0.5,
        parent_pid: int | None = None,
    ) -> None:
        """Work until `stop` is set (or, with `exit_when_idle`, until the queue is empty).

        A worker outlives the database going away: an error in a round (the server restarting
        under a claim, a reap or a run whose writes gave up waiting) is logged and the round is
        tried again after a pause that grows to MAX_ERROR_PAUSE_SECONDS. A task left behind by
        such a round is the reaper's once its heartbeat is stale.
        """
        stop = stop or threading.Event()
        last_reap = -float("inf")
        errors = 0
        is_child = parent_pid is not None and os.getppid() == parent_pid
        while not stop.is_set():
            if parent_pid is not None and _parent_gone(parent_pid, is_child):
                log.info("parent process %s is gone; worker stops", parent_pid)
                return
            try:
                if time.monotonic() - last_reap > self.settings.heartbeat_seconds * 2:
                    self.reap()
                    last_reap = time.monotonic()
                ran = self.run_once()
            except Exception as error:
                errors += 1
                pause = min(poll_interval * 2**errors, MAX_ERROR_PAUSE_SECONDS)
                if is_transient(error):
                    reason = getattr(error, "orig", error)  # the driver's one line, not SQLAlchemy's essay
                    log.warning("the database did not answer (%s); trying again in %.1f s", reason, pause)
                else:
                    log.exception("worker round failed; trying again in %.1f s", pause)
                stop.wait(pause)
                continue
            errors = 0
            if ran is None:
                if exit_when_idle:
                    return
                stop.wait(poll_interval)


def reap_periodically(
    worker: Worker, stop: threading.Event, interval: float | None = None
) -> threading.Thread:
    """A daemon thread that reaps every `interval` seconds until `stop` is set.

    RQ workers and the app (with EXECUTOR=rq) run one beside their real work, so a task whose
    worker died is noticed wherever something is still running.
    """
    every = interval if interval is not None else max(worker.settings.heartbeat_seconds * 2, 1.0)

    def loop() -> None:
        while True:
            try:
                worker.reap()
            except Exception:  # a database or broker hiccup: try again next round
                log.exception("reaping failed")
            if stop.wait(every):
                return

    thread = threading.Thread(target=loop, name="reaper", daemon=True)
    thread.start()
    return thread
