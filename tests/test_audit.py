"""The audit trail: every write appends a hash-chained entry; tampering is found and named."""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner


def _entries(app):
    from server.extensions import db
    from server.models import AuditEntry

    with app.app_context():
        return db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()


def test_intact_chain_verifies_through_the_api(client, auth, app):
    auth.headers("insp1")  # a login appends an entry
    r = client.get("/api/audit/verify", headers=auth.headers("admin1"))
    assert r.status_code == 200
    body = r.get_json()
    assert body["ok"] is True and body["first_broken"] is None
    assert body["entries"] == body["verified"] == len(_entries(app)) >= 10


def test_edited_entry_is_named_by_api_and_cli(client, auth, app, db_url, monkeypatch, tmp_path):
    headers = auth.headers("admin1")
    victim = _entries(app)[3]
    from server.extensions import db

    with app.app_context():
        db.session.execute(sa.text("UPDATE audit_entries SET action = 'user.delete' WHERE id = :i"), {"i": victim.id})
        db.session.commit()
    body = client.get("/api/audit/verify", headers=headers).get_json()
    assert body["ok"] is False
    assert body["first_broken"]["id"] == victim.id
    assert "edited" in body["first_broken"]["reason"]
    assert body["verified"] == 3

    from server.cli import main

    monkeypatch.setenv("FIELDCHECK_DATABASE_URL", db_url)
    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(tmp_path / "cli"))
    result = CliRunner().invoke(main, ["audit-verify"])
    assert result.exit_code == 1
    assert f"BROKEN at entry {victim.id}" in result.output


def test_deleted_entry_breaks_the_chain_at_its_successor(client, auth, app):
    entries = _entries(app)
    from server.extensions import db

    with app.app_context():
        db.session.execute(sa.text("DELETE FROM audit_entries WHERE id = :i"), {"i": entries[2].id})
        db.session.commit()
    body = client.get("/api/audit/verify", headers=auth.headers("admin1")).get_json()
    assert body["ok"] is False
    assert body["first_broken"]["id"] == entries[3].id
    assert "prev_hash" in body["first_broken"]["reason"]


def test_cli_reports_an_intact_chain(app, db_url, monkeypatch, tmp_path):
    from server.cli import main

    monkeypatch.setenv("FIELDCHECK_DATABASE_URL", db_url)
    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(tmp_path / "cli"))
    result = CliRunner().invoke(main, ["audit-verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_appends_of_one_transaction_chain_on_each_other_and_a_rolled_back_savepoint_leaves_no_gap(app):
    """The chain's tail is kept in the session between appends of one transaction; an entry
    appended in a savepoint that rolls back is gone, and the next one follows the entry before it."""
    import pytest

    from server.extensions import db
    from server.services import audit

    with app.app_context():
        audit.record("test.first", "test", 1, {"n": 1})
        audit.record("test.second", "test", 2, {"n": 2})
        with pytest.raises(RuntimeError):
            with db.session.begin_nested():
                audit.record("test.undone", "test", 3, {"n": 3})
                db.session.flush()
                raise RuntimeError("the savepoint rolls back")
        audit.record("test.third", "test", 4, {"n": 4})
        db.session.commit()
    entries = _entries(app)
    assert [e.action for e in entries[-3:]] == ["test.first", "test.second", "test.third"]
    assert entries[-1].prev_hash == entries[-2].hash and entries[-2].prev_hash == entries[-3].hash
    with app.app_context():
        report = audit.verify_chain()
        db.session.rollback()
    assert report["ok"] and report["verified"] == len(entries)


def test_the_kept_tail_does_not_outlive_its_transaction(app):
    """Another session appends between two transactions of this one: this one's next entry
    follows the other's, not the tail it kept before its commit."""
    from server.extensions import db
    from server.services import audit

    with app.app_context():
        audit.record("test.mine", "test", 1)
        db.session.commit()
        with app.app_context():  # another request: its own session and connection
            audit.record("test.theirs", "test", 2)
            db.session.commit()
        audit.record("test.mine_again", "test", 3)
        db.session.commit()
        report = audit.verify_chain()
        db.session.rollback()
    entries = _entries(app)
    assert [e.action for e in entries[-3:]] == ["test.mine", "test.theirs", "test.mine_again"]
    assert entries[-1].prev_hash == entries[-2].hash
    assert report["ok"], report


def test_deferred_entries_are_seen_by_the_next_statement_and_rolled_back_with_their_savepoint(app):
    """audit.deferred (a sync run's entries, inserted together): an entry waiting in it is
    stored before any statement the session runs, so a read of the chain finds it; a savepoint
    rolled back takes its waiting entries with it and the next entry follows the one before;
    the commit stores what still waits; a savepoint begun while entries wait is refused."""
    import pytest

    from server.extensions import db
    from server.models import AuditEntry
    from server.services import audit

    def stored(action: str) -> int:
        return db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == action)).scalar_one()

    with app.app_context():
        audit.record("test.before", "test", 0)
        db.session.commit()
        with audit.deferred():
            audit.record("test.waiting", "test", 1, {"n": 1})
            assert stored("test.waiting") == 1  # the read ran after the waiting entry was stored
            with pytest.raises(RuntimeError):
                with db.session.begin_nested():
                    audit.record("test.undone", "test", 2, {"n": 2})
                    raise RuntimeError("the savepoint rolls back")
            audit.record("test.after_undone", "test", 3)
            if db.engine.dialect.name == "sqlite":  # only there do entries wait
                with pytest.raises(RuntimeError, match="insert_pending"):
                    db.session.begin_nested()
                db.session.rollback()
                audit.record("test.after_refused", "test", 4)
            audit.insert_pending()
            with db.session.begin_nested():
                audit.record("test.in_savepoint", "test", 5)
            audit.record("test.last", "test", 6)
        assert stored("test.last") == 1  # the block's end stored it
        audit.record("test.committed", "test", 7)
        db.session.commit()
        report = audit.verify_chain()
        db.session.rollback()
    assert report["ok"], report
    actions = [e.action for e in _entries(app) if e.action.startswith("test.")]
    if "test.after_refused" in actions:  # SQLite: the refused savepoint, then the transaction rolled back
        assert actions == ["test.before", "test.after_refused", "test.in_savepoint", "test.last", "test.committed"]
    else:
        assert actions == ["test.before", "test.waiting", "test.after_undone", "test.in_savepoint", "test.last",
                           "test.committed"]
