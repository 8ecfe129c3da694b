"""Logging in and out: tokens, expiry, revocation, throttling, and 401 kept apart from 403."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.world import PASSWORD


def login(client, username, password=PASSWORD, addr="127.0.0.1"):
    return client.post("/api/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_login_answers_token_with_user_and_parks(client, app):
    r = login(client, "insp1")
    assert r.status_code == 201
    body = r.get_json()
    assert len(body["token"]) >= 40
    assert body["user"]["username"] == "insp1"
    assert body["user"]["role"] == "inspector"
    with app.app_context():
        from server.extensions import db
        from server.models import Park

        edz = db.session.execute(sa.select(Park.id).where(Park.code == "EDZ")).scalar_one()
    assert body["user"]["park_ids"] == [edz]
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires.tzinfo is not None and expires > dt.datetime.now(dt.timezone.utc)


def test_token_is_stored_hashed_not_in_clear(client, app):
    token = login(client, "insp1").get_json()["token"]
    with app.app_context():
        from server.extensions import db
        from server.models import AuthToken

        stored = db.session.execute(sa.select(AuthToken.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_wrong_password_and_unknown_user_answer_the_same_401(client):
    a = login(client, "insp1", "wrong-password")
    b = login(client, "nobody", "wrong-password")
    assert a.status_code == b.status_code == 401
    assert a.get_json()["message"] == b.get_json()["message"]
    assert "password" in a.get_json()["message"]


def test_missing_token_is_401_with_challenge_and_wrong_role_is_403(client, auth):
    r = client.get("/api/audit/verify")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "log in" in r.get_json()["message"]
    r = client.get("/api/audit/verify", headers=auth.headers("insp1"))
    assert r.status_code == 403
    assert "admin" in r.get_json()["message"]


def test_forged_and_malformed_tokens_are_401(client):
    for header in ("Bearer not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer\tx y"):
        r = client.get("/api/audit/verify", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_logout_revokes_the_token(client, auth):
    headers = auth.headers("admin1")
    assert client.get("/api/audit/verify", headers=headers).status_code == 200
    assert client.delete("/api/auth/token", headers=headers).status_code == 204
    r = client.get("/api/audit/verify", headers=headers)
    assert r.status_code == 401 and "revoked" in r.get_json()["message"]


def test_expired_token_is_refused(client, auth, app):
    headers = auth.headers("admin1")
    with app.app_context():
        from server.extensions import db
        from server.models import AuthToken

        db.session.execute(sa.update(AuthToken).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        db.session.commit()
    r = client.get("/api/audit/verify", headers=headers)
    assert r.status_code == 401 and "expired" in r.get_json()["message"]


def test_disabled_user_cannot_log_in_and_loses_tokens(client, auth, app):
    headers = auth.headers("insp1")
    with app.app_context():
        from server.extensions import db
        from server.services.users import set_active

        set_active("insp1", False)
        db.session.commit()
    r = client.delete("/api/auth/token", headers=headers)
    assert r.status_code == 401
    assert login(client, "insp1").status_code == 401


def test_failed_logins_are_throttled_per_username(client, app):
    limit = app.config["LOGIN_MAX_PER_USER"]
    for i in range(limit):
        assert login(client, "insp1", "bad", addr=f"10.0.0.{i}").status_code == 401
    r = login(client, "insp1", addr="10.0.1.1")  # even the right password waits now
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "try again in" in r.get_json()["message"]
    # Another user from the same addresses is not affected.
    assert login(client, "insp2", addr="10.0.0.1").status_code == 201


def test_failed_logins_are_throttled_per_address(client, app):
    app.config["LOGIN_MAX_PER_ADDR"] = 4
    for i in range(4):
        assert login(client, f"guess{i}", "bad", addr="10.9.9.9").status_code == 401
    r = login(client, "insp1", addr="10.9.9.9")
    assert r.status_code == 429 and "address" in r.get_json()["message"]
    assert login(client, "insp1", addr="10.9.9.8").status_code == 201


def test_login_refuses_bad_bodies_with_field_messages(client):
    r = client.post("/api/auth/token", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["message"]
    r = client.post("/api/auth/token", json={"username": "insp1"})
    assert r.status_code == 422 and "password" in r.get_json()["errors"]["json"]
    r = client.post("/api/auth/token", json={"username": "insp1", "password": PASSWORD, "admin": True})
    assert r.status_code == 422 and "admin" in r.get_json()["errors"]["json"]
    r = client.post("/api/auth/token", json={"username": 5, "password": ["x"]})
    assert r.status_code == 422


def test_login_and_logout_are_audited(client, auth, app):
    headers = auth.headers("insp1")
    client.delete("/api/auth/token", headers=headers)
    with app.app_context():
        from server.extensions import db
        from server.models import AuditEntry

        actions = db.session.execute(sa.select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["auth.login", "auth.revoke"]


def test_wrong_method_is_405_with_allow_header(client):
    r = client.get("/api/auth/token")
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"POST", "DELETE"}
    assert r.get_json()["message"]


def test_unknown_api_path_is_404_in_the_error_shape(client):
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404
    assert set(r.get_json()) >= {"code", "status", "message"}
