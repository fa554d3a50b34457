"""Faults while a task runs: storage answering errors or timing out, and a full disk while the
outputs are written. A fault-injecting wrapper stands between the runner and the real store.

Each case ends with the task in a clear state: completed when a retry was safe and worked,
otherwise failed with a stable code and a plain message, with no partial output left behind
or offered as a result, and no credits taken for work that never ran.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, BinaryIO

import pytest

from core import billing, users
from core.errors import StorageError
from core.services import Services
from core.worker import Worker
from storage.base import ObjectStore
from storage.keys import task_prefix

CSV = b"id,name,amount\n1,Ann,10.5\n2,Bob,\n3,N/A,7\n"


class FaultyStore:
    """An `ObjectStore` that passes every call to `inner`, except that `faults[method]` is
    called first (with the call's arguments) and may raise."""

    def __init__(self, inner: ObjectStore, **faults: Callable[..., None]) -> None:
        self.inner = inner
        self.faults = faults
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target) or name not in self.faults:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.faults[name](self.calls[name], *args, **kwargs)
            return target(*args, **kwargs)

        return call


def unavailable(times: int | None = None, what: str = "write") -> Callable[..., None]:
    """Raise the error an unreachable or timing-out S3 endpoint gives, the first `times` calls
    (every call when None)."""

    def fault(n: int, *_: Any, **__: Any) -> None:
        if times is None or n <= times:
            message = f"Storage is unreachable, could not {what} (ReadTimeoutError)."
            raise StorageError(message, code="STORAGE_UNAVAILABLE")

    return fault


def disk_full_on(call: int) -> Callable[..., None]:
    def fault(n: int, key: str, data: bytes | BinaryIO, *_: Any) -> None:
        if n >= call:
            raise OSError(errno.ENOSPC, "No space left on device", key)

    return fault


@pytest.fixture
def user(services: Services) -> users.UserView:
    return users.create_user(services.factory, "faulty", "password123", credits=100)


def queued_task(services: Services, user_id: int) -> str:
    task = services.tasks.create_task(
        user_id,
        "profile-my-data",
        ["types", "completeness"],
        None,
        {"primary": {"filename": "people.csv", "size_bytes": len(CSV)}},
    )
    upload = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    services.store.write(upload["key"], CSV, upload["headers"]["Content-Type"])
    services.tasks.start_processing(user_id, task["task_id"])
    return task["task_id"]


def run_with(services: Services, store: FaultyStore, user_id: int, task_id: str) -> dict[str, Any]:
    executor = services.tasks.executor
    worker = Worker(services.factory, store, services.settings, "faulty-worker", executor=executor)
    assert worker.run_once() == task_id
    return services.tasks.get_task(user_id, task_id)


def outputs_in_storage(services: Services, user_id: int, task_id: str) -> list[str]:
    return [o.key for o in services.store.list(task_prefix(user_id, task_id) + "outputs/")]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.runner.WRITE_RETRY_SECONDS", 0.01)


def test_an_output_write_that_fails_once_is_retried_and_the_task_completes(
    services: Services, user: users.UserView
) -> None:
    task_id = queued_task(services, user.id)
    store = FaultyStore(services.store, write=unavailable(times=1))
    task = run_with(services, store, user.id, task_id)
    assert task["status"] == "completed", task
    assert store.calls["write"] > len(task["output_keys"])  # the failed write was tried again
    stored = sorted(key.rsplit("/", 1)[1] for key in outputs_in_storage(services, user.id, task_id))
    assert sorted(task["output_keys"]) == stored


def test_storage_that_stays_unavailable_fails_the_task_and_leaves_no_partial_output(
    services: Services, user: users.UserView
) -> None:
    task_id = queued_task(services, user.id)
    store = FaultyStore(services.store, write=unavailable(times=None))
    task = run_with(services, store, user.id, task_id)
    assert (task["status"], task["error_code"]) == ("failed", "STORAGE_UNAVAILABLE")
    assert "unreachable" in task["error_message"]
    assert task["output_keys"] == {} and outputs_in_storage(services, user.id, task_id) == []
    assert task["partial_results"]["types"]["status"] == "completed"  # what finished is still shown


def test_a_full_disk_while_writing_outputs_fails_clearly_and_keeps_nothing(
    services: Services, user: users.UserView
) -> None:
    task_id = queued_task(services, user.id)
    store = FaultyStore(services.store, write=disk_full_on(call=2))  # one output lands, then the disk fills
    task = run_with(services, store, user.id, task_id)
    assert (task["status"], task["error_code"]) == ("failed", "DISK_FULL")
    assert "disk space" in task["error_message"] and "Errno" not in task["error_message"]
    assert task["output_keys"] == {} and outputs_in_storage(services, user.id, task_id) == []


def test_an_input_that_cannot_be_read_fails_before_anything_is_charged(
    services: Services, user: users.UserView
) -> None:
    task_id = queued_task(services, user.id)
    store = FaultyStore(services.store, save_to=unavailable(times=None, what="read"))
    task = run_with(services, store, user.id, task_id)
    assert (task["status"], task["error_code"]) == ("failed", "STORAGE_UNAVAILABLE")
    assert users.find_user(services.factory, "faulty").credits == 100
    assert not [e for e in billing.ledger(services.factory, user.id) if e["kind"] == "charge"]


def test_a_store_that_is_down_when_processing_starts_leaves_the_task_waiting(
    services: Services, user: users.UserView
) -> None:
    """Checking the upload fails: the task is not lost and can be started again."""
    task = services.tasks.create_task(
        user.id, "profile-my-data", None, None, {"primary": {"filename": "p.csv", "size_bytes": len(CSV)}}
    )
    upload = services.tasks.issue_upload_urls(user.id, task["task_id"])["primary"]
    services.store.write(upload["key"], CSV, upload["headers"]["Content-Type"])
    healthy = services.tasks.store
    down = unavailable(what="check")
    services.tasks.store = FaultyStore(healthy, exists=down, info=down)
    try:
        with pytest.raises(StorageError) as error:
            services.tasks.start_processing(user.id, task["task_id"])
        assert error.value.code == "STORAGE_UNAVAILABLE"
    finally:
        services.tasks.store = healthy
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "uploading"
    assert services.tasks.start_processing(user.id, task["task_id"])["status"] == "queued"
