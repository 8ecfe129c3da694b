"""Appending to and verifying the audit chain.

Appends are serialised so the chain never forks: on SQLite every write transaction
already holds the database's write lock from BEGIN IMMEDIATE (and a read transaction's
first insert fails rather than write on a snapshot another writer has moved past); on
PostgreSQL a transaction-level advisory lock is taken before the last hash is read.

The chain's tail is read once per transaction. The first append of a transaction takes the
lock and reads the last stored hash; each append then keeps its own hash as the tail in the
session (services/txmemo.py), where the next append of the same transaction finds it instead
of reading the table again. The kept tail is trusted only while the lock that made it right
is held: it is dropped when the transaction ends and on any rollback, a savepoint's included
(a PostgreSQL lock taken inside a savepoint that rolls back is released with it, and the
entries appended inside are gone). Entries are not flushed one by one: the session inserts
the transaction's pending entries together, in the order they were appended, at its next
flush (the ids, and so the chain's order, follow that order on both engines). A sync run
appends inside `deferred()`: on SQLite its entries wait as plain rows and are inserted with
one Core statement (see there).
"""
from __future__ import annotations

import contextlib

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..domain.audit_chain import GENESIS, Break, entry_hash, verify
from ..extensions import db
from ..models import AuditEntry
from ..models.types import utcnow
from . import txmemo

AUDIT_LOCK_KEY = 0x6669656C64  # "field"
_TAIL = "audit.tail"
_PENDING = "audit.pending"  # deferred() rows waiting to be inserted (in the memo: a rollback drops them)
_DEFER = "fieldcheck.audit.deferred"


def _tail(session) -> tuple[int, str, str]:
    """The id and hash the next entry follows, and the engine's name: kept from this
    transaction's last append, or read (after taking the lock) on its first."""
    tail = txmemo.peek(_TAIL, session=session)
    if tail is not None:
        return tail
    engine = session.get_bind().dialect.name
    if engine == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    # The autoflush before this SELECT stores any pending entry first, so the last stored
    # entry is the tail.
    last = session.execute(sa.select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    return (last.id, last.hash, engine) if last is not None else (0, GENESIS, engine)


def record(action: str, entity_type: str, entity_id, summary: dict | None = None,
           actor_id: int | None = None) -> AuditEntry | None:
    """Append an entry inside the caller's transaction (committed with the change it describes;
    inserted at the session's next flush). Inside `deferred()` on SQLite the entry is kept as a
    row, inserted with the others (see there), and None is answered."""
    session = db.session()
    prev_id, prev, engine = _tail(session)
    at = utcnow()
    summary = summary or {}
    if engine == "sqlite" and session.info.get(_DEFER):
        entity_id = str(entity_id)
        digest = entry_hash(prev, at, actor_id, action, entity_type, entity_id, summary)
        pending = txmemo.peek(_PENDING, session=session)
        if pending is None:
            pending = []
            txmemo.put(_PENDING, pending, session=session)
        pending.append({"id": prev_id + 1, "at": at, "actor_id": actor_id, "action": action,
                        "entity_type": entity_type, "entity_id": entity_id, "summary": summary,
                        "prev_hash": prev, "hash": digest})
        txmemo.put(_TAIL, (prev_id + 1, digest, engine), session=session)
        return None
    entry = AuditEntry(
        at=at, actor_id=actor_id, action=action, entity_type=entity_type, entity_id=str(entity_id),
        summary=summary, prev_hash=prev,
        hash=entry_hash(prev, at, actor_id, action, entity_type, str(entity_id), summary),
    )
    if engine == "sqlite":
        # SQLite cannot tell which generated id RETURNING answers for which row of a multi-row
        # insert, so the session would insert entries one statement each; with their ids given
        # (the lock is held: nobody else appends) it inserts a flush's entries in one.
        # PostgreSQL numbers them in order in one statement by itself.
        entry.id = prev_id + 1
    session.add(entry)
    txmemo.put(_TAIL, (entry.id, entry.hash, engine), session=session)
    return entry


@contextlib.contextmanager
def deferred():
    """Within this block, on SQLite, the entries appended are kept as plain rows (their ids and
    hashes made from the tail as always: the write lock is held) and inserted together with one
    Core statement at its end, instead of as ORM objects at the session's flushes (a batch of
    sync appends 150 of them; the ORM's bookkeeping for each cost more than the insert).

    Nothing can see the difference: the rows are inserted before any statement the session
    executes (a read of the chain included), before any flush and before the commit; a rollback
    drops them with the tail (services/txmemo.py), just as it drops pending ORM entries. The
    block must not open a savepoint while rows wait (they would go into it and be lost with its
    rollback): `insert_pending()` first; a savepoint begun with rows waiting is refused. On
    PostgreSQL, which numbers entries itself, this changes nothing."""
    session = db.session()
    outer = session.info.get(_DEFER, False)
    session.info[_DEFER] = True
    try:
        yield
    finally:
        if not outer:
            session.info.pop(_DEFER, None)
    if not outer:
        insert_pending(session)


def insert_pending(session=None) -> None:
    """Insert the rows `deferred()` keeps, if any (one statement, in the order appended)."""
    session = session or db.session()
    pending = txmemo.peek(_PENDING, session=session)
    if pending:
        rows = list(pending)
        pending.clear()
        session.connection().execute(sa.insert(AuditEntry.__table__), rows)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state) -> None:
    if txmemo.peek(_PENDING, session=state.session):
        insert_pending(state.session)


@event.listens_for(Session, "before_flush")
def _before_flush(session, _context, _instances) -> None:
    if txmemo.peek(_PENDING, session=session):
        insert_pending(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session) -> None:
    if txmemo.peek(_PENDING, session=session):
        insert_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _savepoint(session, transaction) -> None:
    if transaction.nested and txmemo.peek(_PENDING, session=session):
        raise RuntimeError("audit entries are waiting to be inserted: insert_pending() before a savepoint")


def verify_chain() -> dict:
    """Walk the whole chain; answer the count verified and the first broken entry."""
    rows = db.session.execute(
        sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000)
    ).scalars()
    count, brk = verify(rows)
    total = db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one()
    return {
        "ok": brk is None,
        "entries": total,
        "verified": count,
        "first_broken": None if brk is None else {"id": brk.entry_id, "reason": brk.reason},
    }


def history(entity_type: str, entity_id) -> list[AuditEntry]:
    return list(db.session.execute(
        sa.select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    ).scalars())


__all__ = ["record", "verify_chain", "history", "entries", "Break"]


def entries(entity_type: str | None = None, entity_id=None, action: str | None = None, limit: int = 100,
            before_id: int | None = None) -> dict:
    """Audit entries, newest first, with the actor's name: an entity's history for the admin."""
    from ..models import User

    query = (sa.select(AuditEntry, User.name, User.username).outerjoin(User, User.id == AuditEntry.actor_id)
             .order_by(AuditEntry.id.desc()).limit(limit + 1))
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    rows = db.session.execute(query).all()
    items = [{"id": e.id, "at": e.at, "action": e.action, "entity_type": e.entity_type, "entity_id": e.entity_id,
              "actor_id": e.actor_id, "actor_name": name, "actor_username": username, "summary": e.summary}
             for e, name, username in rows[:limit]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}
