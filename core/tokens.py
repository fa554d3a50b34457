"""Personal API tokens: what a script or the CLI shows the REST API instead of a password.

A token is 32 random bytes, shown to its owner once when it is created. Only its SHA-256 is
stored (a random token needs no slow hash: nothing can be guessed), so a copy of the database
cannot call the API. A token is revoked, never edited; a revoked token and the token of a
deactivated or not yet approved account are refused. The last-used time tells the owner which
tokens are still in use; it is written at most once a minute per token, so a busy script does
not turn every read into a write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DQError, NotFoundError, ValidationError
from core.users import UserView
from db.models import ApiToken, User, utcnow
from db.session import session_scope

TOKEN_PREFIX = "dq_"
MAX_NAME_LENGTH = 100
MAX_ACTIVE_TOKENS = 20
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenView:
    """What the owner may see of a token: never the token or its hash."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenView:
        return cls(token.id, token.name, token.prefix, token.created_at, token.last_used_at, token.revoked_at)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(factory: sessionmaker[Session], user_id: int, name: str) -> tuple[str, TokenView]:
    """A new token for `user_id`: returns the token (to show once) and what is kept of it."""
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError(
            "Give the token a name, e.g. the script that will use it.", code="INVALID_TOKEN_NAME"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"A token name can be at most {MAX_NAME_LENGTH} characters.", code="INVALID_TOKEN_NAME"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope(factory) as session:
        active = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        ).all()
        if len(active) >= MAX_ACTIVE_TOKENS:
            raise ValidationError(
                f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.",
                code="TOO_MANY_TOKENS",
            )
        row = ApiToken(user_id=user_id, name=name, token_hash=hash_token(token), prefix=token[:10])
        session.add(row)
        session.flush()
        return token, TokenView.of(row)


def list_tokens(factory: sessionmaker[Session], user_id: int) -> list[TokenView]:
    """The user's tokens, newest first, revoked ones included (they say when)."""
    with session_scope(factory) as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        ).all()
        return [TokenView.of(t) for t in rows]


def revoke_token(factory: sessionmaker[Session], user_id: int, token_id: int) -> TokenView:
    """Revoke one of the user's own tokens; another user's token answers 'not found'."""
    with session_scope(factory) as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.user_id != user_id:
            raise NotFoundError("Token not found.", code="TOKEN_NOT_FOUND")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        session.flush()
        return TokenView.of(row)


def authenticate(factory: sessionmaker[Session], token: str | None) -> UserView:
    """The account a token belongs to, or an error saying why the token is refused."""
    if not token:
        raise DQError(
            "Send a personal API token as 'Authorization: Bearer <token>'; create one on your Account page.",
            code="AUTH_REQUIRED",
        )
    with session_scope(factory) as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        if row is None or row.revoked_at is not None:
            raise DQError("This API token is not valid or has been revoked.", code="INVALID_TOKEN")
        user = session.get(User, row.user_id)
        if user is None or not (user.is_active and user.is_verified):
            raise DQError(
                "This account is deactivated or not approved yet, so its tokens are refused.",
                code="ACCOUNT_INACTIVE",
            )
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        return UserView.of(user)
