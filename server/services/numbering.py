"""Document numbers: one counter per kind of document and year (table document_counters).

`next_seq` gives the next number of a kind in a year inside the caller's transaction: the
counter row is created if the year has none yet, then raised by one. The UPDATE locks the
row on PostgreSQL (a second writer waits for the first to commit, then counts on from its
number) and SQLite's writers hold the database's write lock already, so two documents never
get one number, and a transaction rolled back gives its number back: the numbers of a year
follow each other without gaps.

A counter created for a year in which numbers of that kind already exist (a database that
numbered orders before the counters existed) starts after the highest of them (`seed`).
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import DocumentCounter
from ..models.vocab import DOCUMENT_KINDS


def next_seq(kind: str, year: int, seed: Callable[[], int] | None = None) -> int:
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    where = (DocumentCounter.kind == kind, DocumentCounter.year == year)
    exists = db.session.execute(sa.select(DocumentCounter.last_seq).where(*where)).first()
    if exists is None:
        start = seed() if seed is not None else 0
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        # A writer that created the row meanwhile wins; this one then counts on from its number.
        db.session.execute(insert(DocumentCounter).values(kind=kind, year=year, last_seq=start)
                           .on_conflict_do_nothing(index_elements=["kind", "year"]))
    db.session.execute(sa.update(DocumentCounter).where(*where).values(last_seq=DocumentCounter.last_seq + 1)
                       .execution_options(synchronize_session=False))
    return db.session.execute(sa.select(DocumentCounter.last_seq).where(*where)
                              .execution_options(populate_existing=True)).scalar_one()
