"""Executors: how a queued task reaches a worker.

Two ways, picked by the `EXECUTOR` setting:

* `process` (embedded default) needs no broker: the `queued` row in the database *is* the
  queue, and worker processes (started by the app's lifespan, by the CLI, or by
  `python -m core worker`) claim rows atomically. `submit` has nothing to send.
* `rq` sends one RQ job per task attempt to Redis (`REDIS_URL`, queue `RQ_QUEUE`); RQ workers
  on any machine pick it up (`core.rq_jobs`). The database stays the source of truth: a job
  only runs its task if it wins the `queued -> processing` compare-and-set, so a job delivered
  twice runs once, and a job Redis lost is sent again by the reaper (`is_pending`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from core.errors import DQError
from core.registry import get_tool

if TYPE_CHECKING:
    from redis import Redis

    from core.settings import Settings

log = logging.getLogger(__name__)

RQ_JOB_FUNCTION = "core.rq_jobs.run_task_job"
# RQ's statuses in which a job will still (or does now) run.
PENDING_JOB_STATUSES = frozenset({"queued", "deferred", "scheduled", "started"})


class QueueUnavailableError(DQError):
    """The broker cannot be reached; queued tasks wait in the database until it is back."""

    code = "QUEUE_UNAVAILABLE"


class Executor(Protocol):
    name: str

    def submit(self, task_id: str, tool_id: str, attempt: int = 0) -> None:
        """Hand a queued task to the workers; must return at once."""
        ...

    def is_pending(self, task_id: str, attempt: int) -> bool:
        """Whether the workers will still get this queued task without being sent it again."""
        ...

    def check(self) -> dict[str, object]:
        """Facts about the queue for `/healthz`; raises QueueUnavailableError when unreachable."""
        ...


class DatabaseQueueExecutor:
    """Workers poll the tasks table for `queued` rows; see `core.worker`."""

    name = "process"

    def submit(self, task_id: str, tool_id: str, attempt: int = 0) -> None:
        return None

    def is_pending(self, task_id: str, attempt: int) -> bool:
        return True  # the row itself is the queue entry

    def check(self) -> dict[str, object]:
        return {"executor": self.name, "queue": "the tasks table"}


def rq_job_id(task_id: str, attempt: int) -> str:
    """One job id per task attempt: sending the same attempt twice overwrites, never duplicates work."""
    return f"task-{task_id}-{attempt}"


class RQExecutor:
    """One RQ job per task attempt, with the tool's time limit as the job timeout."""

    name = "rq"

    def __init__(self, redis_url: str, queue_name: str) -> None:
        from redis import Redis

        self.redis_url = redis_url
        self.queue_name = queue_name
        # short socket timeouts: a broker that is down must not hold up a page or a start request
        self.connection: Redis = Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=10)

    def queue(self):  # type: ignore[no-untyped-def]
        from rq import Queue

        return Queue(self.queue_name, connection=self.connection)

    def submit(self, task_id: str, tool_id: str, attempt: int = 0) -> None:
        from redis.exceptions import RedisError

        timeout = get_tool(tool_id).job_timeout_seconds
        try:
            self.queue().enqueue(
                RQ_JOB_FUNCTION,
                task_id,
                job_id=rq_job_id(task_id, attempt),
                job_timeout=timeout,
                result_ttl=24 * 3600,
                failure_ttl=7 * 24 * 3600,
                description=f"{tool_id} task {task_id} (attempt {attempt + 1})",
            )
        except RedisError as error:
            raise QueueUnavailableError(
                "The task queue cannot be reached right now; the task stays queued and will be sent "
                "to the workers when the queue is back.",
                task_id=task_id,
            ) from error

    def is_pending(self, task_id: str, attempt: int) -> bool:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(rq_job_id(task_id, attempt), connection=self.connection)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        return status is not None and str(getattr(status, "value", status)) in PENDING_JOB_STATUSES

    def check(self) -> dict[str, object]:
        from redis.exceptions import RedisError
        from rq import Worker

        try:
            self.connection.ping()
            queue = self.queue()
            return {
                "executor": self.name,
                "queue": self.queue_name,
                "jobs_waiting": queue.count,
                "workers": Worker.count(queue=queue),
            }
        except RedisError as error:
            raise QueueUnavailableError(f"Redis does not answer: {error}") from error


def build_executor(settings: Settings) -> Executor:
    if settings.executor == "rq":
        assert settings.redis_url is not None  # load_settings refuses EXECUTOR=rq without it
        return RQExecutor(settings.redis_url, settings.rq_queue)
    if settings.executor == "process":
        return DatabaseQueueExecutor()
    raise ValueError(f"Unknown executor {settings.executor!r}")


def redis_connection(settings: Settings) -> Redis:
    """The Redis connection RQ workers use (longer read timeout: workers block on the queue)."""
    from redis import Redis

    assert settings.redis_url is not None
    return Redis.from_url(settings.redis_url, socket_connect_timeout=5)
