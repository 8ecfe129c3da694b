"""Bearer tokens that must not work, on every protected endpoint, and who reaches the objects
of another park.

tests/test_access.py walks every endpoint with a good token of every role; here every endpoint of
its POLICY table (so a new endpoint is covered as soon as it has its row there) is called with
tokens that must be refused with 401: expired, revoked (logout), disabled user, forged, the
stored hash instead of the token, a token sent in the query string, a form field or a cookie
instead of the Authorization header. Then the objects of one park (finding, its actions, photo,
site, park, a visit by sync) are tried by each user of the test world, reading and writing,
with exactly who gets what.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import pytest
import sqlalchemy as sa

from tests.photo_helpers import add_waiting, image_bytes, make_records, upload
from tests.test_access import POLICY, PUBLIC, _ids

PROTECTED = [(m, p, b) for m, p, allowed, b in POLICY if allowed != PUBLIC]


def _call(client, ids, method, path, body, headers=None, **kw):
    kwargs = {"headers": headers or {}, **kw}
    if body is not None:
        # Refused before the body is read; and the policy's body factories count (a site's place,
        # a park's code) on a counter tests/test_access.py relies on, so they are not called here.
        kwargs["json"] = {}
    url = path.format(**ids)
    if "?" in url and "query_string" in kwargs:  # a policy row with its own query: one query string for both
        from urllib.parse import urlencode

        url = f"{url}&{urlencode(kwargs.pop('query_string'))}"
    return client.open(url, method=method, **kwargs)


def _walk_refused(client, app, headers, why: str, **kw) -> None:
    """Every protected endpoint answers 401, in the error shape with a challenge and a reason."""
    ids = _ids(app)
    for method, path, body in PROTECTED:
        r = _call(client, ids, method, path, body, headers, **kw)
        assert r.status_code == 401, (method, path, r.status_code, why)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
        message = r.get_json()["message"]
        assert why in message, (method, path, message)


def _token_row(app, token: str):
    from server.extensions import db
    from server.models import AuthToken

    return db.session.execute(
        sa.select(AuthToken).where(AuthToken.token_hash == hashlib.sha256(token.encode()).hexdigest())).scalar_one()


def test_expired_token_is_refused_everywhere(client, auth, app):
    token = auth.token("admin1")
    with app.app_context():
        from server.extensions import db

        _token_row(app, token).expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        db.session.commit()
    _walk_refused(client, app, {"Authorization": f"Bearer {token}"}, "expired")


def test_revoked_token_is_refused_everywhere_and_only_that_one(client, auth, app):
    mine = client.post("/api/auth/token", json={"username": "admin1", "password": _password()}).get_json()["token"]
    other = auth.token("admin1")  # a second session of the same user
    assert client.delete("/api/auth/token", headers={"Authorization": f"Bearer {mine}"}).status_code == 204
    _walk_refused(client, app, {"Authorization": f"Bearer {mine}"}, "revoked")
    # Logging out ends this session only: the user's other token still works.
    assert client.get("/api/audit/verify", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_disabled_users_tokens_are_refused_everywhere(client, auth, app):
    """Disabling through the service revokes the tokens; a user made inactive any other way
    (straight in the database) is refused by the account check itself."""
    revoked = auth.token("sup1")
    inactive = auth.token("admin1")
    with app.app_context():
        from server.extensions import db
        from server.models import User
        from server.services.users import set_active

        set_active("sup1", False)
        db.session.execute(sa.update(User).where(User.username == "admin1").values(active=False))
        db.session.commit()
    _walk_refused(client, app, {"Authorization": f"Bearer {revoked}"}, "revoked")
    _walk_refused(client, app, {"Authorization": f"Bearer {inactive}"}, "disabled")


@pytest.mark.parametrize("forged", [
    "forged-but-plausible", "stored-hash", "token-with-a-changed-character", "token-plus-suffix", "truncated-token",
])
def test_forged_tokens_are_refused_everywhere(client, auth, app, forged):
    real = auth.token("admin1")
    token = {
        "forged-but-plausible": secrets.token_urlsafe(32),
        # Someone who read the tokens table holds hashes, not tokens.
        "stored-hash": hashlib.sha256(real.encode()).hexdigest(),
        "token-with-a-changed-character": real[:-1] + ("A" if real[-1] != "A" else "B"),
        "token-plus-suffix": real + "x",
        "truncated-token": real[:20],
    }[forged]
    _walk_refused(client, app, {"Authorization": f"Bearer {token}"}, "not known")


def test_token_anywhere_but_the_authorization_header_is_ignored(client, auth, app):
    token = auth.token("admin1")
    for name in ("token", "access_token", "bearer", "auth"):
        _walk_refused(client, app, {}, "log in first", query_string={name: token})
    client.set_cookie("token", token)
    client.set_cookie("session", token)
    _walk_refused(client, app, {}, "log in first")
    # Another scheme carrying the same token is not a bearer token either.
    _walk_refused(client, app, {"Authorization": f"Token {token}"}, "log in first")
    _walk_refused(client, app, {"X-Auth-Token": token}, "log in first")


def test_a_token_acts_for_its_own_user_only(client, auth, app):
    """Nothing in a request can make a token act for someone else: a CHEM inspector's token with
    headers naming an EDZ user, or another user's id in the query, still reads as the CHEM user."""
    ids = _ids(app)
    headers = {**auth.headers("insp_chem"), "X-User": "admin1", "X-Forwarded-User": "admin1",
               "X-Remote-User": "admin1"}
    assert client.get(f"/api/sites/{ids['site']}", headers=headers).status_code == 403
    assert client.get("/api/audit/verify", headers=headers).status_code == 403
    sites = client.get("/api/sites", headers=headers).get_json()["items"]
    assert {s["park_id"] for s in sites} == {ids["CHEM"]}


def _password() -> str:
    from tests.world import PASSWORD

    return PASSWORD


# --- another park's objects: exactly who gets what ---------------------------------------------

EDZ_ALL = {"insp1", "insp2", "aux1", "sup1", "legal1", "sched1", "admin1"}
OTHERS = {"insp_chem", "sup_chem"}
EVERYONE = EDZ_ALL | OTHERS


@pytest.fixture
def edz_objects(app, auth):
    from server.services import catalogue

    with app.app_context():
        from server.extensions import db

        catalogue.load_bundled(record_audit=False)
        db.session.commit()
    rec = make_records(app, "EDZ")
    photo = uuid.uuid4()
    add_waiting(app, photo, finding_id=rec["finding_id"])
    r = upload(app.test_client(), auth.headers("insp1"), photo, image_bytes(fmt="JPEG"), finding_id=rec["finding_id"])
    assert r.status_code == 201, r.get_json()
    return {**rec, "photo_id": photo}


def test_reading_the_objects_of_a_park(client, auth, app, edz_objects):
    o = edz_objects
    reads = {
        f"/api/findings/{o['finding_id']}": {"sup1", "legal1", "admin1"},
        f"/api/findings/{o['finding_id']}/actions": {"sup1", "legal1", "admin1"},
        f"/api/photos/{o['photo_id']}": EDZ_ALL,
        f"/api/photos/{o['photo_id']}/thumb": EDZ_ALL,
        f"/api/photos/{o['photo_id']}/display": EDZ_ALL,
        f"/api/sites/{o['site_id']}": EDZ_ALL,
        f"/api/parks/{o['park_id']}": EDZ_ALL,
    }
    got = {}
    for url in reads:
        got[url] = {u for u in sorted(EVERYONE) if client.get(url, headers=auth.headers(u)).status_code == 200}
        refused = {u: client.get(url, headers=auth.headers(u)).status_code for u in EVERYONE - got[url]}
        assert set(refused.values()) <= {403}, (url, refused)
    assert got == reads
    # Lists never show another park's rows (the finding is EDZ's; sup_chem's queue is empty of it).
    for user in ("sup_chem",):
        items = client.get("/api/findings", headers=auth.headers(user)).get_json()["items"]
        assert str(o["finding_id"]) not in {i["id"] for i in items}
    items = client.get("/api/findings", headers=auth.headers("sup1")).get_json()["items"]
    assert str(o["finding_id"]) in {i["id"] for i in items}


def test_writing_the_objects_of_another_park_is_refused(client, auth, app, edz_objects):
    o = edz_objects
    # The CHEM supervisor cannot act on an EDZ finding (403: role fits, park does not).
    r = client.post(f"/api/findings/{o['finding_id']}/confirm-tier", json={}, headers=auth.headers("sup_chem"))
    assert r.status_code == 403 and "park" in r.get_json()["message"]
    # Inspectors of another park cannot add a photo to it, even under a new id.
    r = upload(client, auth.headers("insp_chem"), uuid.uuid4(), image_bytes(fmt="JPEG"), finding_id=o["finding_id"])
    assert r.status_code == 403
    # Only admins change sites and parks, whatever their park.
    for user in EVERYONE - {"admin1"}:
        r = client.patch(f"/api/sites/{o['site_id']}", json={"address": "x路1号"}, headers=auth.headers(user))
        assert r.status_code == 403, user
        r = client.patch(f"/api/parks/{o['park_id']}", json={"name_en": "x"}, headers=auth.headers(user))
        assert r.status_code == 403, user
    # A visit to an EDZ site sent by the CHEM inspector is rejected (the record, not the batch).
    from tests.sync_helpers import load_field_data, visit

    data = load_field_data(app)
    rec = visit(o["site_id"], [data["users"]["insp_chem"]])
    r = client.post("/api/sync", json={"device_id": "chem-phone", "visits": [rec]}, headers=auth.headers("insp_chem"))
    assert r.status_code == 200, r.get_json()
    result = r.get_json()["results"][0]
    assert result["status"] == "rejected", result
    assert "park you are not assigned to" in result["errors"]["site_id"][0], result
    with app.app_context():
        from server.extensions import db
        from server.models import Visit

        assert db.session.get(Visit, uuid.UUID(rec["id"])) is None
