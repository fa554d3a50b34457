"""Executors: how a queued task reaches a worker.

The embedded default needs no broker: the `queued` row in the database *is* the queue, and
worker processes (started by the app's lifespan, by the CLI, or by `python -m core worker`)
claim rows atomically. `submit` therefore has nothing to send; it exists so that an executor
with a real broker can be dropped in without touching the task service.
"""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    def submit(self, task_id: str) -> None:
        """Hand a queued task to the workers; must return at once."""
        ...


class DatabaseQueueExecutor:
    """Workers poll the tasks table for `queued` rows; see `core.worker`."""

    def submit(self, task_id: str) -> None:
        return None


def build_executor(name: str) -> Executor:
    if name == "process":
        return DatabaseQueueExecutor()
    raise ValueError(f"Unknown executor {name!r}")
