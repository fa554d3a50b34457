"""The composition of the core: settings, database, storage, executor and task service,
built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from core.executors import build_executor
from core.settings import Settings, get_settings
from core.tasks import TaskService
from core.worker import Worker
from db.migrate import upgrade_if_behind
from db.session import session_factory
from storage.base import ObjectStore
from storage.factory import build_store


@dataclass(frozen=True)
class Services:
    settings: Settings
    factory: sessionmaker[Session]
    store: ObjectStore
    tasks: TaskService

    def worker(self, worker_id: str | None = None) -> Worker:
        return Worker(self.factory, self.store, self.settings, worker_id, executor=self.tasks.executor)


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Wire the core for `settings`; with `migrate`, bring the schema up to date first."""
    if migrate:
        upgrade_if_behind(settings.database_url)
    factory = session_factory(settings.database_url)
    store = build_store(settings)
    tasks = TaskService(factory, store, settings, build_executor(settings))
    return Services(settings, factory, store, tasks)


@lru_cache(maxsize=1)
def get_services() -> Services:
    """The process-wide services for the configured settings."""
    return build_services(get_settings())
