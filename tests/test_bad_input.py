"""Hostile and broken requests get a 4xx with a message a person can act on, never a 500
(the `app` fixture also fails any test whose requests produced a 5xx)."""
from __future__ import annotations

import json


def _login(client, body, **kw):
    return client.post("/api/auth/token", **kw, **({"json": body} if body is not None else {}))


def test_deeply_nested_json_is_refused(client):
    deep = "[" * 10_000 + "]" * 10_000
    r = client.post("/api/auth/token", data=deep, content_type="application/json")
    assert 400 <= r.status_code < 500
    assert r.get_json()["message"]


def test_invalid_utf8_is_refused(client):
    r = client.post("/api/auth/token", data=b'{"username": "\xff\xfe", "password": "x"}', content_type="application/json")
    assert 400 <= r.status_code < 500
    assert r.get_json()["message"]


def test_body_over_the_limit_is_413(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    r = client.post("/api/auth/token", data=json.dumps({"username": "x" * 5000, "password": "y"}),
                    content_type="application/json")
    assert r.status_code == 413
    assert r.get_json()["message"]


def test_nul_character_is_refused_on_both_engines(client):
    r = _login(client, {"username": "insp\x001", "password": "x"})
    assert r.status_code == 422
    assert "NUL" in r.get_json()["message"]


def test_unknown_query_parameter_is_refused(client, auth):
    r = client.get("/api/sites", headers=auth.headers("insp1"), query_string={"prak": 1})
    assert r.status_code == 422
    assert "prak" in r.get_json()["message"]


def test_validation_message_names_the_field(client):
    r = _login(client, {"username": "insp1"})
    assert r.status_code == 422
    assert r.get_json()["message"].startswith("invalid input: password")


def test_wrong_content_type_is_refused(client):
    r = client.post("/api/auth/token", data="username=insp1&password=x",
                    content_type="application/x-www-form-urlencoded")
    assert 400 <= r.status_code < 500


def test_sql_in_text_is_stored_and_returned_as_text(client, auth):
    name = "x'); DROP TABLE sites; --"
    r = client.get("/api/sites", headers=auth.headers("admin1"), query_string={"q": name})
    assert r.status_code == 200 and r.get_json()["items"] == []
    assert client.get("/api/sites", headers=auth.headers("admin1")).get_json()["items"]
