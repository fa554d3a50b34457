"""User accounts: creation, look-up and password checks (bcrypt)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core import billing
from core.errors import NotFoundError, ValidationError
from db.models import User, utcnow
from db.session import session_scope

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    email: str | None
    name: str | None
    is_active: bool
    is_verified: bool
    is_admin: bool
    credits: int
    failed_login_attempts: int = 0
    last_failed_login_at: datetime | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            user.id,
            user.username,
            user.email,
            user.name,
            bool(user.is_active),
            bool(user.is_verified),
            bool(user.is_admin),
            int(user.credits),
            int(user.failed_login_attempts or 0),
            user.last_failed_login_at,
            user.created_at,
        )

    @property
    def can_sign_in(self) -> bool:
        return self.is_active and self.is_verified

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "name": self.name,
            "is_active": self.is_active,
            "is_verified": self.is_verified,
            "is_admin": self.is_admin,
            "credits": self.credits,
        }


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", code="WEAK_PASSWORD"
        )
    if len(password.encode()) > 72:
        raise ValidationError("A password can be at most 72 bytes long.", code="PASSWORD_TOO_LONG")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    except ValueError:
        return False


def create_user(
    factory: sessionmaker[Session],
    username: str,
    password: str | None = None,
    *,
    password_hash: str | None = None,
    credits: int = 0,
    email: str | None = None,
    name: str | None = None,
    is_admin: bool = False,
    is_verified: bool = True,
) -> UserView:
    """Create an active account; starting credits are granted through the ledger."""
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "A user name has 2 to 64 letters, digits or the characters _ . @ -.", code="INVALID_USERNAME"
        )
    if credits < 0:
        raise ValidationError("Starting credits cannot be negative.", code="INVALID_AMOUNT")
    if password_hash is None:
        if password is None:
            raise ValidationError("A new account needs a password.", code="WEAK_PASSWORD")
        password_hash = hash_password(password)
    if email:
        with session_scope(factory) as session:
            if session.scalar(select(User.id).where(func.lower(User.email) == email.strip().lower())):
                raise ValidationError("An account with this e-mail address exists.", code="EMAIL_TAKEN")
    try:
        with session_scope(factory) as session:
            user = User(
                username=username,
                email=email,
                name=name or username,
                password_hash=password_hash,
                is_active=True,
                is_verified=is_verified,
                is_admin=is_admin,
                credits=0,
            )
            session.add(user)
            session.flush()
            user_id = user.id
    except IntegrityError:
        raise ValidationError(f"The user name '{username}' is taken.", code="USERNAME_TAKEN") from None
    if credits:
        billing.grant(factory, user_id, credits, note="starting credits")
    return get_user(factory, user_id)


def get_user(factory: sessionmaker[Session], user_id: int) -> UserView:
    with session_scope(factory) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("User not found.", code="USER_NOT_FOUND")
        return UserView.of(user)


def find_user(factory: sessionmaker[Session], username: str) -> UserView:
    with session_scope(factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"There is no user named '{username}'.", code="USER_NOT_FOUND")
        return UserView.of(user)


def count_users(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def list_users(factory: sessionmaker[Session]) -> list[UserView]:
    with session_scope(factory) as session:
        return [UserView.of(u) for u in session.scalars(select(User).order_by(User.id)).all()]


def set_password_hash(factory: sessionmaker[Session], username: str, password_hash: str) -> None:
    """Store a new bcrypt hash (made by the sign-in widget or by `hash_password`)."""
    if not password_hash.startswith("$2"):
        raise ValidationError("Only bcrypt password hashes are stored.", code="INVALID_PASSWORD_HASH")
    with session_scope(factory) as session:
        session.execute(update(User).where(User.username == username).values(password_hash=password_hash))


def failed_attempts(user: UserView, lockout_minutes: int) -> int:
    """Failed log-ins that still count: a lock-out ends by itself after `lockout_minutes`."""
    if user.last_failed_login_at is None:
        return user.failed_login_attempts
    if utcnow() - user.last_failed_login_at > timedelta(minutes=lockout_minutes):
        return 0
    return user.failed_login_attempts


def record_login(
    factory: sessionmaker[Session], username: str, *, succeeded: bool, lockout_minutes: int
) -> None:
    """Count a failed log-in (or clear the count after a good one)."""
    with session_scope(factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            return
        if succeeded:
            user.failed_login_attempts, user.last_failed_login_at = 0, None
            return
        still = failed_attempts(UserView.of(user), lockout_minutes)
        user.failed_login_attempts, user.last_failed_login_at = still + 1, utcnow()


def set_flags(
    factory: sessionmaker[Session],
    user_id: int,
    *,
    is_active: bool | None = None,
    is_verified: bool | None = None,
    is_admin: bool | None = None,
    unlock: bool = False,
) -> UserView:
    """Change an account's flags (administrators only: the caller checks)."""
    values: dict[str, object] = {}
    for name, value in (("is_active", is_active), ("is_verified", is_verified), ("is_admin", is_admin)):
        if value is not None:
            values[name] = value
    if unlock:
        values.update(failed_login_attempts=0, last_failed_login_at=None)
    if values:
        with session_scope(factory) as session:
            session.execute(update(User).where(User.id == user_id).values(**values))
    return get_user(factory, user_id)


def password_hashes(factory: sessionmaker[Session]) -> dict[str, str]:
    """User name -> bcrypt hash, for the sign-in widget only (UserView never carries hashes)."""
    with session_scope(factory) as session:
        return {
            name: hash_ or "" for name, hash_ in session.execute(select(User.username, User.password_hash))
        }
