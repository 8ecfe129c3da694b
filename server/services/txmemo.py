"""A memo that lives as long as one database transaction, for facts a transaction reads again
and again but cannot see change unless it changes them itself: the policy version in force,
the working-day calendar, the catalogue row in force on a day (a batch of findings asks for
them once per finding), and the audit chain's tail (services/audit.py).

The memo is kept in the session's `info` and is dropped:

- when the outermost transaction ends (commit, rollback or close): the next transaction
  reads the database again, so a change committed by another request is seen by the next one;
- when any transaction rolls back, a savepoint included: what was read or written inside it
  may be gone;
- per table, when this session writes that table: an ORM flush of a new, changed or deleted
  row, or an ORM-enabled insert, update or delete statement (`sa.delete(CalendarDay)...`).
  A memo entry names the tables it was read from.

Inside one transaction a memoised value is what the transaction would read again: SQLite's
transaction reads one snapshot; on PostgreSQL (read committed) another transaction's commit
could show between two statements, and the memo keeps the transaction on the first value it
read, which is what a batch should classify with anyway.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

_INFO_KEY = "fieldcheck.txmemo"


def _store(session: Session) -> dict:
    return session.info.setdefault(_INFO_KEY, {})


def remember(tables: tuple[str, ...], key: Any, compute: Callable[[], Any]) -> Any:
    """The value memoised under `key` in the current transaction, computed (and kept) when
    absent. `tables` are the tables it is read from: writing one of them forgets it."""
    session = db.session()
    store = _store(session)
    full_key = (tables, key)
    if full_key in store:
        return store[full_key]
    value = compute()
    # compute() may itself have written (policy.current() makes version 1) and so dropped the
    # memo: store into the memo as it is now.
    _store(session)[full_key] = value
    return value


def known(tables: tuple[str, ...], key: Any) -> bool:
    """Whether a value is memoised under `key` (read from `tables`) in the current transaction."""
    return (tables, key) in db.session().info.get(_INFO_KEY, {})


def keep(tables: tuple[str, ...], key: Any, value: Any) -> None:
    """Memoise a value read from `tables` (as remember() would have computed it)."""
    _store(db.session())[(tables, key)] = value


def peek(key: Any, default: Any = None, session: Session | None = None) -> Any:
    """A memoised value without computing it (`key` with no tables: set with put())."""
    session = session or db.session()
    return session.info.get(_INFO_KEY, {}).get(((), key), default)


def put(key: Any, value: Any, session: Session | None = None) -> None:
    """Memoise a value that no table write should drop (it is dropped with the transaction
    or by any rollback, like the rest)."""
    session = session or db.session()
    _store(session)[((), key)] = value


def forget_all(session: Session) -> None:
    session.info.pop(_INFO_KEY, None)


def forget_tables(session: Session, tables: set[str]) -> None:
    store = session.info.get(_INFO_KEY)
    if not store or not tables:
        return
    for full_key in [k for k in store if tables.intersection(k[0])]:
        del store[full_key]


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed, rolled back or closed
        forget_all(session)


@event.listens_for(Session, "after_soft_rollback")
def _rollback(session: Session, previous_transaction) -> None:
    forget_all(session)  # any rollback, a savepoint's included


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context) -> None:
    if _INFO_KEY not in session.info:
        return
    tables = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table:
            tables.add(table)
    forget_tables(session, tables)


@event.listens_for(Session, "do_orm_execute")
def _statement(state) -> None:
    if _INFO_KEY not in state.session.info or not (state.is_insert or state.is_update or state.is_delete):
        return
    tables = {m.local_table.name for m in state.all_mappers if getattr(m, "local_table", None) is not None}
    forget_tables(state.session, tables)
