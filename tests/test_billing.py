"""Billing: exact charges, never below zero, never twice, refunds once, grants in the ledger."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from core import billing, users
from core.errors import InsufficientCreditsError
from db.models import CreditEntry, Task
from db.session import session_factory, session_scope


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    return session_factory(db_url)


def _task(factory, user_id: int) -> str:  # type: ignore[no-untyped-def]
    task_id = str(uuid.uuid4())
    with session_scope(factory) as s:
        s.add(Task(task_id=task_id, user_id=user_id, tool_id="profile-my-data", status="processing"))
    return task_id


def test_grant_and_charge_are_exact_and_recorded(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "ann", "password123", credits=10)
    task_id = _task(factory, user.id)
    first = billing.charge(factory, user.id, task_id, "types", 3)
    assert (first.amount, first.balance_after, first.already_charged) == (3, 7, False)
    assert users.get_user(factory, user.id).credits == 7
    entries = billing.ledger(factory, user.id)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("charge", -3, 7),
        ("grant", 10, 10),
    ]


def test_same_agent_of_same_task_is_never_charged_twice(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "bob", "password123", credits=10)
    task_id = _task(factory, user.id)
    billing.charge(factory, user.id, task_id, "types", 4)
    again = billing.charge(factory, user.id, task_id, "types", 4)
    assert again.already_charged and again.amount == 4
    assert users.get_user(factory, user.id).credits == 6


def test_concurrent_charges_for_one_agent_take_credits_once(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "cat", "password123", credits=100)
    task_id = _task(factory, user.id)
    results: list[billing.Charge] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(billing.charge(factory, user.id, task_id, "statistics", 5))
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(1 for r in results if not r.already_charged) == 1
    assert users.get_user(factory, user.id).credits == 95
    with session_scope(factory) as s:
        charges = s.scalars(select(CreditEntry).where(CreditEntry.kind == "charge")).all()
        assert len(charges) == 1


def test_charge_refuses_to_go_below_zero(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "dan", "password123", credits=2)
    task_id = _task(factory, user.id)
    with pytest.raises(InsufficientCreditsError) as info:
        billing.charge(factory, user.id, task_id, "types", 3)
    assert info.value.code == "INSUFFICIENT_CREDITS"
    assert info.value.details["balance"] == 2
    assert users.get_user(factory, user.id).credits == 2
    assert [e["kind"] for e in billing.ledger(factory, user.id)] == ["grant"]


def test_refund_gives_back_once(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "eve", "password123", credits=10)
    task_id = _task(factory, user.id)
    billing.charge(factory, user.id, task_id, "types", 4)
    assert billing.refund(factory, task_id, "types") == 4
    assert billing.refund(factory, task_id, "types") is None
    assert billing.refund(factory, task_id, "never-charged") is None
    assert users.get_user(factory, user.id).credits == 10
    kinds = [(e["kind"], e["balance_after"]) for e in billing.ledger(factory, user.id)]
    assert kinds == [("refund", 10), ("charge", 6), ("grant", 10)]


def test_negative_grant_cannot_overdraw(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "fay", "password123", credits=5)
    with pytest.raises(InsufficientCreditsError):
        billing.grant(factory, user.id, -6)
    assert billing.grant(factory, user.id, -5) == 0


def test_user_names_are_unique_and_passwords_hashed(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "gus", "password123")
    with pytest.raises(Exception) as info:
        users.create_user(factory, "gus", "password456")
    assert getattr(info.value, "code", None) == "USERNAME_TAKEN"
    from db.models import User

    with session_scope(factory) as s:
        stored = s.get(User, user.id).password_hash
    assert stored.startswith("$2") and "password123" not in stored
    assert users.check_password("password123", stored)
    assert not users.check_password("password124", stored)
