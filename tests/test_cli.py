"""The `fieldcheck` command as an operator uses it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.cli import main

SECRET = "a-long-production-secret-0123456789abcdef"


@pytest.fixture
def fresh_env(tmp_path, monkeypatch):
    """An empty embedded database in a new data dir, as on a new machine."""
    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FIELDCHECK_DATABASE_URL", raising=False)
    monkeypatch.setenv("FIELDCHECK_SECRET_KEY", SECRET)
    return tmp_path / "data"


def _app():
    from server import create_app

    return create_app()


def test_init_no_demo_creates_the_first_admin_without_printing_the_password(fresh_env):
    password = "first-admin-password-9"
    r = CliRunner().invoke(main, ["init", "--no-demo", "--password-stdin"], input=password + "\n")
    assert r.exit_code == 0, r.output
    assert "first admin 'admin' created" in r.output
    assert password not in r.output
    assert (fresh_env / "fieldcheck.db").exists()
    app = _app()
    with app.app_context():
        from server.extensions import db
        from server.models import Park, User

        users = db.session.execute(sa.select(User)).scalars().all()
        assert [(u.username, u.role, u.is_demo) for u in users] == [("admin", "admin", False)]
        assert db.session.execute(sa.select(sa.func.count(Park.id))).scalar_one() == 0
    client = app.test_client()
    r2 = client.post("/api/auth/token", json={"username": "admin", "password": password})
    assert r2.status_code == 201
    again = CliRunner().invoke(main, ["init", "--no-demo", "--password-stdin"], input="x\n")
    assert again.exit_code == 0 and "exists already" in again.output


def test_init_refuses_a_weak_admin_password(fresh_env):
    r = CliRunner().invoke(main, ["init", "--no-demo", "--password-stdin"], input="short\n")
    assert r.exit_code != 0
    assert "at least 10 characters" in r.output


def test_users_create_disable_reset(fresh_env):
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--no-demo", "--password-stdin"], input="first-admin-password-9\n").exit_code == 0
    r = runner.invoke(main, ["users", "create", "wang", "--name", "王伟", "--role", "inspector",
                             "--certificate-no", "JS-1", "--certificate-expires", "2030-01-01",
                             "--password-stdin"], input="inspector-password-1\n")
    assert r.exit_code == 0, r.output
    client = _app().test_client()
    login = lambda pw: client.post("/api/auth/token", json={"username": "wang", "password": pw})  # noqa: E731
    token = login("inspector-password-1").get_json()["token"]
    assert runner.invoke(main, ["users", "disable", "wang"]).exit_code == 0
    assert login("inspector-password-1").status_code == 401
    assert client.delete("/api/auth/token", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert runner.invoke(main, ["users", "enable", "wang"]).exit_code == 0
    r = runner.invoke(main, ["users", "reset", "wang", "--password-stdin"], input="a-new-password-22\n")
    assert r.exit_code == 0
    assert login("inspector-password-1").status_code == 401
    assert login("a-new-password-22").status_code == 201
    dup = runner.invoke(main, ["users", "create", "wang", "--name", "x", "--role", "inspector", "--password-stdin"],
                        input="inspector-password-1\n")
    assert dup.exit_code != 0 and "taken" in dup.output
    listing = runner.invoke(main, ["users", "list"])
    assert "wang" in listing.output and "admin" in listing.output


def test_production_refuses_default_secret_and_demo_accounts(app, db_url, tmp_path):
    from server import create_app
    from server.extensions import db
    from server.models import User

    with pytest.raises(RuntimeError, match="secret key"):
        create_app({"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "p1"), "SECRET_KEY": "dev", "ENV": "production"})
    # A strong secret on a database without demo accounts starts.
    create_app({"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "p2"), "SECRET_KEY": SECRET, "ENV": "production"})
    with app.app_context():
        db.session.execute(sa.update(User).where(User.username == "insp1").values(is_demo=True))
        db.session.commit()
    with pytest.raises(RuntimeError, match="demo accounts"):
        create_app({"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "p3"), "SECRET_KEY": SECRET, "ENV": "production"})


def test_secret_key_is_made_once_and_kept(tmp_path, monkeypatch):
    from server.config import load_config

    monkeypatch.delenv("FIELDCHECK_SECRET_KEY", raising=False)
    a = load_config({"DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    b = load_config({"DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    assert a == b and len(a) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
