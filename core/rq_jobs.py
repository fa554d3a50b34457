"""RQ jobs and the RQ worker: `EXECUTOR=rq` runs each task as one job on Redis.

The job carries only the task id. It claims the task with the same compare-and-set
(`queued -> processing`) the embedded workers use, so a job that Redis delivers twice (or a
duplicate sent by the reaper) finds the task already claimed and does nothing: a task never
runs twice at once, and its credits are charged once per agent by the ledger's unique key.

The worker runs jobs in its own process (`SimpleWorker`, no fork per job): the task's heartbeat
then names the process that really runs it, so a killed worker is noticed by the reaper, and
the SQLAlchemy connection pool is never shared across a fork. The tool's time limit is the
job timeout; when it fires the runner fails the task with `TIMEOUT` (see `TaskTimedOut`).
"""

from __future__ import annotations

import logging
import threading

from rq import Queue, SimpleWorker
from rq.timeouts import UnixSignalDeathPenalty

from core.executors import redis_connection
from core.runner import TaskTimedOut, run_task
from core.services import Services, get_services
from core.worker import reap_periodically

log = logging.getLogger(__name__)

RAN, SKIPPED = "ran", "skipped"


def run_task_job(task_id: str) -> str:
    """The RQ job: claim the task, run it; a task that is no longer queued is left alone."""
    services = get_services()
    worker = services.worker()
    if not worker.claim(task_id):
        log.info("job for task %s skipped: the task is no longer queued", task_id)
        return SKIPPED
    run_task(task_id, services.factory, services.store, services.settings)
    return RAN


class TaskTimeLimit(UnixSignalDeathPenalty):
    """RQ's alarm-based job timeout, raising `TaskTimedOut` so the runner ends the task itself."""

    def __init__(self, timeout, exception=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(timeout, TaskTimedOut, **kwargs)


class TaskWorker(SimpleWorker):
    death_penalty_class = TaskTimeLimit


def run_rq_worker(services: Services, *, burst: bool = False, log_level: str = "INFO") -> bool:
    """Work on the settings' RQ queue until stopped (SIGTERM lets the task in hand finish), with a
    reaper thread beside it. With `burst`, stop once the queue is empty."""
    settings = services.settings
    connection = redis_connection(settings)
    queue = Queue(settings.rq_queue, connection=connection)
    stop = threading.Event()
    reap_periodically(services.worker(), stop)
    try:
        worker = TaskWorker([queue], connection=connection)
        return worker.work(burst=burst, logging_level=log_level, with_scheduler=False)
    finally:
        stop.set()
