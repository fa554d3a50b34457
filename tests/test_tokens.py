"""Personal API tokens on the real database: shown once, stored hashed, revoked for good,
refused for a deactivated account, with a last-used time."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import tokens, users
from core.errors import DQError, NotFoundError, ValidationError
from core.services import Services
from db.models import ApiToken, User
from db.session import session_scope

PASSWORD_HASH = users.hash_password("password123")  # once: bcrypt is slow on purpose


@pytest.fixture
def ann(services: Services) -> users.UserView:
    return users.create_user(services.factory, "ann", password_hash=PASSWORD_HASH, credits=10)


def test_a_token_is_stored_only_as_its_sha256(services: Services, ann: users.UserView) -> None:
    token, view = tokens.create_token(services.factory, ann.id, "  nightly   import ")
    assert token.startswith("dq_") and len(token) > 40
    assert view.name == "nightly import" and view.prefix == token[:10] and view.active
    with session_scope(services.factory) as session:
        row = session.scalar(select(ApiToken).where(ApiToken.id == view.id))
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        stored = [str(v) for v in (row.name, row.prefix, row.token_hash)]
    assert token not in stored
    assert tokens.authenticate(services.factory, token).id == ann.id


def test_last_used_is_recorded_and_throttled(services: Services, ann: users.UserView) -> None:
    token, view = tokens.create_token(services.factory, ann.id, "ci")
    assert view.last_used_at is None
    tokens.authenticate(services.factory, token)
    first = tokens.list_tokens(services.factory, ann.id)[0].last_used_at
    assert first is not None
    tokens.authenticate(services.factory, token)
    assert tokens.list_tokens(services.factory, ann.id)[0].last_used_at == first  # within a minute
    with session_scope(services.factory) as session:
        session.execute(update(ApiToken).values(last_used_at=first - timedelta(minutes=5)))
    tokens.authenticate(services.factory, token)
    assert tokens.list_tokens(services.factory, ann.id)[0].last_used_at > first - timedelta(minutes=5)


@pytest.mark.parametrize("presented", [None, "", "dq_not-a-real-token"])
def test_missing_or_unknown_tokens_are_refused(services: Services, presented: str | None) -> None:
    with pytest.raises(DQError) as caught:
        tokens.authenticate(services.factory, presented)
    assert caught.value.code == ("INVALID_TOKEN" if presented else "AUTH_REQUIRED")


def test_a_revoked_token_is_refused_and_listed_as_revoked(services: Services, ann: users.UserView) -> None:
    token, view = tokens.create_token(services.factory, ann.id, "laptop")
    keep, _ = tokens.create_token(services.factory, ann.id, "server")
    revoked = tokens.revoke_token(services.factory, ann.id, view.id)
    assert not revoked.active
    with pytest.raises(DQError) as caught:
        tokens.authenticate(services.factory, token)
    assert caught.value.code == "INVALID_TOKEN"
    assert tokens.authenticate(services.factory, keep).id == ann.id
    listed = tokens.list_tokens(services.factory, ann.id)
    assert [(t.name, t.active) for t in listed] == [("server", True), ("laptop", False)]


def test_another_users_token_cannot_be_revoked(services: Services, ann: users.UserView) -> None:
    bob = users.create_user(services.factory, "bob", password_hash=PASSWORD_HASH)
    token, view = tokens.create_token(services.factory, ann.id, "mine")
    with pytest.raises(NotFoundError) as caught:
        tokens.revoke_token(services.factory, bob.id, view.id)
    assert caught.value.code == "TOKEN_NOT_FOUND"
    assert tokens.authenticate(services.factory, token).id == ann.id


@pytest.mark.parametrize("flags", [{"is_active": False}, {"is_verified": False}])
def test_a_deactivated_or_unapproved_account_is_refused(
    services: Services, ann: users.UserView, flags: dict[str, bool]
) -> None:
    token, _ = tokens.create_token(services.factory, ann.id, "ci")
    users.set_flags(services.factory, ann.id, **flags)
    with pytest.raises(DQError) as caught:
        tokens.authenticate(services.factory, token)
    assert caught.value.code == "ACCOUNT_INACTIVE"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_sensible_name(services: Services, ann: users.UserView, name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        tokens.create_token(services.factory, ann.id, name)
    assert caught.value.code == "INVALID_TOKEN_NAME"


def test_active_tokens_are_capped(services: Services, ann: users.UserView) -> None:
    made = [
        tokens.create_token(services.factory, ann.id, f"t{i}")[1] for i in range(tokens.MAX_ACTIVE_TOKENS)
    ]
    with pytest.raises(ValidationError) as caught:
        tokens.create_token(services.factory, ann.id, "one too many")
    assert caught.value.code == "TOO_MANY_TOKENS"
    tokens.revoke_token(services.factory, ann.id, made[0].id)
    assert tokens.create_token(services.factory, ann.id, "now fits")[1].active


def test_deleting_the_user_deletes_their_tokens(services: Services, ann: users.UserView) -> None:
    tokens.create_token(services.factory, ann.id, "ci")
    with session_scope(services.factory) as session:
        session.delete(session.get(User, ann.id))
    with session_scope(services.factory) as session:
        assert session.scalars(select(ApiToken)).all() == []
