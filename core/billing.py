"""Credits: grants, per-agent charges and refunds, each written to the ledger with the balance
after it.

A charge is one conditional UPDATE (`credits >= cost`), so the balance never goes below zero
even with several workers, and the ledger's unique (task, agent, kind) key makes a second
charge for the same agent of the same task impossible: a re-run task is never billed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import InsufficientCreditsError, NotFoundError, ValidationError
from db.models import CreditEntry, User
from db.session import session_scope


@dataclass(frozen=True)
class Charge:
    amount: int
    balance_after: int
    already_charged: bool = False


def _balance(session: Session, user_id: int) -> int:
    balance = session.scalar(select(User.credits).where(User.id == user_id))
    if balance is None:
        raise NotFoundError("User not found.", code="USER_NOT_FOUND")
    return int(balance)


def _existing(session: Session, task_id: str, agent_id: str, kind: str) -> CreditEntry | None:
    return session.scalar(
        select(CreditEntry).where(
            CreditEntry.task_id == task_id, CreditEntry.agent_id == agent_id, CreditEntry.kind == kind
        )
    )


def grant(factory: sessionmaker[Session], user_id: int, amount: int, note: str | None = None) -> int:
    """Add (or, with a negative amount, remove) credits; returns the new balance."""
    if amount == 0:
        raise ValidationError("A grant must change the balance.", code="INVALID_AMOUNT")
    with session_scope(factory) as session:
        condition = [User.id == user_id]
        if amount < 0:
            condition.append(User.credits >= -amount)
        result = session.execute(update(User).where(*condition).values(credits=User.credits + amount))
        if result.rowcount != 1:
            _balance(session, user_id)  # raises USER_NOT_FOUND if that was the reason
            raise InsufficientCreditsError("The balance cannot go below zero.")
        balance = _balance(session, user_id)
        session.add(
            CreditEntry(user_id=user_id, kind="grant", amount=amount, balance_after=balance, note=note)
        )
        return balance


def charge(factory: sessionmaker[Session], user_id: int, task_id: str, agent_id: str, cost: int) -> Charge:
    """Take `cost` credits for one agent of one task, exactly once."""
    with session_scope(factory) as session:
        previous = _existing(session, task_id, agent_id, "charge")
        if previous is not None:
            return Charge(-previous.amount, int(previous.balance_after), already_charged=True)
        if cost > 0:
            result = session.execute(
                update(User)
                .where(User.id == user_id, User.credits >= cost)
                .values(credits=User.credits - cost)
            )
            if result.rowcount != 1:
                balance = _balance(session, user_id)
                raise InsufficientCreditsError(
                    f"Not enough credits to run '{agent_id}': it costs {cost} and the balance is {balance}.",
                    agent=agent_id,
                    cost=cost,
                    balance=balance,
                )
        balance = _balance(session, user_id)
        session.add(
            CreditEntry(
                user_id=user_id,
                task_id=task_id,
                agent_id=agent_id,
                kind="charge",
                amount=-cost,
                balance_after=balance,
            )
        )
        try:
            session.flush()
        except IntegrityError:
            # Another worker charged this agent a moment ago; roll ours back entirely.
            session.rollback()
            with session_scope(factory) as again:
                previous = _existing(again, task_id, agent_id, "charge")
                assert previous is not None
                return Charge(-previous.amount, int(previous.balance_after), already_charged=True)
        return Charge(cost, balance)


def _give_back(session: Session, taken: CreditEntry, note: str | None) -> int | None:
    """Refund one charge in the caller's transaction, unless it is free or already refunded."""
    if taken.amount == 0 or _existing(session, taken.task_id or "", taken.agent_id or "", "refund"):
        return None
    amount = -int(taken.amount)
    session.execute(update(User).where(User.id == taken.user_id).values(credits=User.credits + amount))
    balance = _balance(session, taken.user_id)
    session.add(
        CreditEntry(
            user_id=taken.user_id,
            task_id=taken.task_id,
            agent_id=taken.agent_id,
            kind="refund",
            amount=amount,
            balance_after=balance,
            note=note,
        )
    )
    return amount


def refund(
    factory: sessionmaker[Session], task_id: str, agent_id: str, note: str | None = None
) -> int | None:
    """Give back what one agent of one task was charged, once; returns the amount refunded."""
    with session_scope(factory) as session:
        taken = _existing(session, task_id, agent_id, "charge")
        if taken is None:
            return None
        amount = _give_back(session, taken, note)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return None
        return amount


def refund_task(session: Session, task_id: str, note: str) -> int:
    """Give back every charge of a task that produced nothing, in the caller's transaction (the
    one that fails the task), so the failure and the refund are recorded together or not at all.
    Returns the total refunded; charges refunded before are skipped, so a repeat gives nothing."""
    charges = session.scalars(
        select(CreditEntry).where(CreditEntry.task_id == task_id, CreditEntry.kind == "charge")
    ).all()
    return sum(_give_back(session, taken, note) or 0 for taken in charges)


def ledger(factory: sessionmaker[Session], user_id: int, limit: int = 100) -> list[dict[str, object]]:
    """The user's most recent credit movements, newest first."""
    with session_scope(factory) as session:
        rows = session.scalars(
            select(CreditEntry)
            .where(CreditEntry.user_id == user_id)
            .order_by(CreditEntry.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "amount": int(r.amount),
                "balance_after": int(r.balance_after),
                "task_id": r.task_id,
                "agent_id": r.agent_id,
                "note": r.note,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
