"""Isolation of users in the task service: every public method, called by a second user with the
first user's task id, answers exactly what a task that does not exist answers, and leaves the
first user's task (its row and its objects in storage) as it was.

The list of methods is read from `TaskService` itself, so a public method added without a case
here fails `test_every_public_method_has_an_isolation_case`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core import users
from core.errors import DQError, NotFoundError
from core.services import Services
from core.tasks import TaskService
from storage.keys import task_prefix

CSV = b"id,name\n1,Ann\n2,Bob\n"
PASSWORD_HASH = users.hash_password("password123")  # once: bcrypt is slow on purpose

# Each case calls one method as `user_id` on `task_id`; the arguments besides those two are
# valid ones, so only the owner check can refuse the call.
TaskCall = Callable[[TaskService, int, str], Any]
TASK_CASES: dict[str, TaskCall] = {
    "get_task": lambda svc, user_id, task_id: svc.get_task(user_id, task_id),
    "get_downloads": lambda svc, user_id, task_id: svc.get_downloads(user_id, task_id),
    "read_report": lambda svc, user_id, task_id: svc.read_report(user_id, task_id),
    "read_output": lambda svc, user_id, task_id: svc.read_output(user_id, task_id, "report.json"),
    "issue_upload_urls": lambda svc, user_id, task_id: svc.issue_upload_urls(user_id, task_id),
    "declare_file": lambda svc, user_id, task_id: svc.declare_file(
        user_id, task_id, "primary", "people.csv", len(CSV)
    ),
    "start_processing": lambda svc, user_id, task_id: svc.start_processing(user_id, task_id),
    "cancel_task": lambda svc, user_id, task_id: svc.cancel_task(user_id, task_id),
    "delete_task": lambda svc, user_id, task_id: svc.delete_task(user_id, task_id),
}
# Methods that take no task id; each has its own test below.
UNADDRESSED = {"create_task", "list_tasks"}


def public_methods() -> set[str]:
    return {
        name for name, _ in inspect.getmembers(TaskService, inspect.isfunction) if not name.startswith("_")
    }


def test_every_public_method_has_an_isolation_case() -> None:
    missing = public_methods() - set(TASK_CASES) - UNADDRESSED
    assert not missing, f"add an isolation case for {sorted(missing)}"
    assert not (set(TASK_CASES) | UNADDRESSED) - public_methods(), "a case names a method that is gone"


@pytest.fixture
def ann(services: Services) -> users.UserView:
    return users.create_user(services.factory, "ann", password_hash=PASSWORD_HASH, credits=100)


@pytest.fixture
def mallory(services: Services) -> users.UserView:
    return users.create_user(services.factory, "mallory", password_hash=PASSWORD_HASH, credits=100)


def uploaded_task(services: Services, user_id: int) -> str:
    """A task whose file has arrived and that is ready to start: the most a thief could use."""
    task = services.tasks.create_task(
        user_id,
        "profile-my-data",
        ["types"],
        None,
        {"primary": {"filename": "people.csv", "size_bytes": len(CSV)}},
    )
    url = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    services.store.write(url["key"], CSV, url["headers"]["Content-Type"])
    return task["task_id"]


def completed_task(services: Services, user_id: int) -> str:
    task_id = uploaded_task(services, user_id)
    services.tasks.start_processing(user_id, task_id)
    assert services.worker("isolation").run_once() == task_id
    assert services.tasks.get_task(user_id, task_id)["status"] == "completed"
    return task_id


def snapshot(
    services: Services, user_id: int, task_id: str
) -> tuple[dict[str, Any], list[tuple[str, int]], int]:
    """The owner's view of the task, every object stored under its prefix, and the balance."""
    objects = [(info.key, info.size) for info in services.store.list(task_prefix(user_id, task_id))]
    credits = users.get_user(services.factory, user_id).credits
    return services.tasks.get_task(user_id, task_id), objects, credits


def refusal(call: Callable[[], Any]) -> tuple[type, str, str, dict[str, object]]:
    with pytest.raises(DQError) as info:
        call()
    return type(info.value), info.value.code, info.value.message, info.value.details


@pytest.mark.parametrize("state", ["uploaded", "completed"])
@pytest.mark.parametrize("method", sorted(TASK_CASES))
def test_another_users_task_is_not_found_and_unchanged(
    services: Services, ann: users.UserView, mallory: users.UserView, method: str, state: str
) -> None:
    task_id = (uploaded_task if state == "uploaded" else completed_task)(services, ann.id)
    before = snapshot(services, ann.id, task_id)
    assert before[1], "the task has objects in storage to protect"
    call = TASK_CASES[method]

    stolen = refusal(lambda: call(services.tasks, mallory.id, task_id))
    absent = refusal(lambda: call(services.tasks, mallory.id, str(uuid.uuid4())))
    assert stolen[0] is NotFoundError and stolen[1] == "TASK_NOT_FOUND"
    assert stolen == absent  # the same error, word for word: nothing tells "yours" from "none"

    assert snapshot(services, ann.id, task_id) == before
    assert list(services.store.list(f"users/{mallory.id}/")) == []
    assert services.worker("isolation").run_once() is None  # nothing was queued by the attempt
    assert snapshot(services, ann.id, task_id) == before  # and the worker found nothing to run


def test_another_users_task_is_never_listed(
    services: Services, ann: users.UserView, mallory: users.UserView
) -> None:
    task_id = completed_task(services, ann.id)
    own = uploaded_task(services, mallory.id)
    for filters in ({}, {"status": "completed"}, {"tool_id": "profile-my-data"}, {"limit": 200}):
        listing = services.tasks.list_tasks(mallory.id, **filters)
        ids = [t["task_id"] for t in listing["tasks"]]
        assert task_id not in ids
        assert listing["total"] == len(ids) and set(ids) <= {own}
    assert [t["task_id"] for t in services.tasks.list_tasks(ann.id)["tasks"]] == [task_id]


def test_creating_a_task_never_reaches_into_another_users_folder(
    services: Services, ann: users.UserView, mallory: users.UserView
) -> None:
    """A file name made to climb out of the task folder lands under the creator's own task."""
    task_id = completed_task(services, ann.id)
    before = snapshot(services, ann.id, task_id)
    climb = f"../../../{ann.id}/tasks/{task_id}/outputs/report.json.csv"
    task = services.tasks.create_task(
        mallory.id, "profile-my-data", ["types"], None, {"primary": {"filename": climb, "size_bytes": 3}}
    )
    own = task_prefix(mallory.id, task["task_id"])
    assert task["input_keys"]["primary"].startswith(own + "inputs/")
    url = services.tasks.issue_upload_urls(mallory.id, task["task_id"])["primary"]
    assert url["key"].startswith(own + "inputs/")
    replaced = services.tasks.declare_file(
        mallory.id, task["task_id"], "primary", climb.replace("/", "\\"), 3
    )
    assert replaced["key"].startswith(own + "inputs/")
    assert snapshot(services, ann.id, task_id) == before
