"""Accounts: the failed sign-in count, its lock-out window, admin flags and stored hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import users
from core.errors import ValidationError
from db.models import User, utcnow
from db.session import session_factory, session_scope


@pytest.fixture
def factory(db_url: str):  # type: ignore[no-untyped-def]
    return session_factory(db_url)


def test_failed_sign_ins_count_up_and_expire(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "ann", "Secret#1234")
    for _ in range(3):
        users.record_login(factory, "ann", succeeded=False, lockout_minutes=15)
    assert users.failed_attempts(users.get_user(factory, user.id), 15) == 3
    with session_scope(factory) as s:
        s.get(User, user.id).last_failed_login_at = utcnow() - timedelta(minutes=16)
    assert users.failed_attempts(users.get_user(factory, user.id), 15) == 0  # the lock-out ended
    users.record_login(factory, "ann", succeeded=False, lockout_minutes=15)
    assert users.get_user(factory, user.id).failed_login_attempts == 1  # counting starts again
    users.record_login(factory, "ann", succeeded=True, lockout_minutes=15)
    assert users.get_user(factory, user.id).failed_login_attempts == 0


def test_admin_flags_and_unlock(factory) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(factory, "bob", "Secret#1234", is_verified=False)
    assert not users.get_user(factory, user.id).can_sign_in
    users.record_login(factory, "bob", succeeded=False, lockout_minutes=15)
    changed = users.set_flags(factory, user.id, is_verified=True, unlock=True)
    assert changed.can_sign_in and changed.failed_login_attempts == 0
    assert not users.set_flags(factory, user.id, is_active=False).can_sign_in


def test_password_hashes_are_bcrypt_only(factory) -> None:  # type: ignore[no-untyped-def]
    users.create_user(factory, "cy", "Secret#1234", email="cy@example.com")
    with pytest.raises(ValidationError):
        users.set_password_hash(factory, "cy", "plain-text")
    new_hash = users.hash_password("Another#5678")
    users.set_password_hash(factory, "cy", new_hash)
    assert users.check_password("Another#5678", users.password_hashes(factory)["cy"])
    with pytest.raises(ValidationError) as info:
        users.create_user(factory, "cy2", "Secret#1234", email="CY@example.com")
    assert info.value.code == "EMAIL_TAKEN"
