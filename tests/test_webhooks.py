"""Webhooks against a real receiver on loopback: the delivery row is written with the change,
survives a receiver that refuses the connection and then answers 503, arrives signed (the test
checks the HMAC itself) once its backoff has passed (time is driven through the worker's `now`,
never slept), shows its last error in between, and a replay sends the same delivery id again.
Every event is emitted where it happens, and emitting costs nothing when nobody subscribed."""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import User, WebhookDelivery
from server.models.types import utcnow
from tests.findings_helpers import finding_at, load_reference
from tests.test_plans import clock, generate, world  # noqa: F401  (fixtures for plan.published)

SECRET = "a-receiver-secret-of-32-characters!"


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers each POST with the next code of `script`
    (the last one repeats) and keeps what it got. Until `up()`, its port is bound but not
    listening, so a connection is refused."""

    def __init__(self):
        self.got: list[dict] = []
        self.script: list[int] = [200]
        self.delay_s = 0.0
        self._hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hold.bind(("127.0.0.1", 0))
        self.port = self._hold.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = None

    def up(self, *script: int) -> None:
        self.script = list(script) or [200]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                code = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                text = b"receiver busy" if code >= 300 else b"ok"
                self.send_response(code)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self._hold.close()
        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        self._hold.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def ref(app):
    return load_reference(app)


def subscribe(client, auth, url, events=("finding.created",), **extra) -> dict:
    r = client.post("/api/webhooks", json={"url": url, "events": list(events), **extra}, headers=auth.headers("admin1"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def deliver(app, now):
    from server.services.webhooks import deliver_due

    with app.app_context():
        return deliver_due(now=now)


def deliveries(client, auth, hook_id) -> list[dict]:
    r = client.get(f"/api/webhooks/{hook_id}/deliveries", headers=auth.headers("admin1"))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does, written here without the server's code."""
    ts = headers["x-fieldcheck-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-fieldcheck-signature"])


def test_a_delivery_outlives_a_receiver_that_is_down_then_arrives_signed_and_replays(app, client, auth, ref, receiver):
    hook = subscribe(client, auth, receiver.url, secret=SECRET)
    assert hook["secret"] == SECRET and hook["secret_hint"] == "…" + SECRET[-4:]
    fid = finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    [pending] = deliveries(client, auth, hook["id"])
    assert (pending["status"], pending["attempts"], pending["event"]) == ("pending", 0, "finding.created")
    assert pending["payload"]["finding"]["id"] == str(fid)

    t0 = utcnow()
    # 1st try: the port is bound but nobody listens; the connection is refused.
    assert deliver(app, t0) == {"due": 1, "delivered": 0, "not_delivered": 1, "skipped": 0, "purged": 0}
    [d] = deliveries(client, auth, hook["id"])
    assert d["status"] == "pending" and d["attempts"] == 1 and "refused" in d["last_error"]
    assert d["next_attempt_at"] == (t0 + dt.timedelta(seconds=60)).isoformat()
    # The backoff is respected: a minute has not passed.
    assert deliver(app, t0 + dt.timedelta(seconds=59))["due"] == 0
    receiver.up(503, 200)
    # 2nd try: the receiver answers 503; the next try waits twice as long.
    assert deliver(app, t0 + dt.timedelta(seconds=60))["not_delivered"] == 1
    [d] = deliveries(client, auth, hook["id"])
    assert d["attempts"] == 2 and d["last_status_code"] == 503 and d["last_error"].startswith("HTTP 503")
    assert "receiver busy" in d["last_error"]
    listed = client.get("/api/webhooks", headers=auth.headers("admin1")).get_json()["items"]
    assert listed[0]["last_error"].startswith("HTTP 503") and listed[0]["secret"] is None
    assert deliver(app, t0 + dt.timedelta(seconds=60 + 119))["due"] == 0
    # 3rd try: accepted.
    assert deliver(app, t0 + dt.timedelta(seconds=180))["delivered"] == 1
    [d] = deliveries(client, auth, hook["id"])
    assert (d["status"], d["attempts"], d["last_error"], d["next_attempt_at"]) == ("delivered", 3, "", None)
    assert [a["status_code"] for a in d["log"]] == [None, 503, 200]
    assert len(receiver.got) == 2  # the refused connection never reached it
    first, ok = receiver.got
    for got in (first, ok):
        assert verify(SECRET, got["headers"], got["body"])
        assert not verify("another-secret-another-secret!!", got["headers"], got["body"])
        assert got["headers"]["x-fieldcheck-delivery"] == d["id"]
        assert got["headers"]["x-fieldcheck-event"] == "finding.created"
    assert ok["headers"]["x-fieldcheck-timestamp"] == str(int((t0 + dt.timedelta(seconds=180)).timestamp()))
    assert first["body"] == ok["body"]
    envelope = json.loads(ok["body"])
    assert envelope["id"] == d["id"] and envelope["event"] == "finding.created"
    assert envelope["data"]["finding"]["id"] == str(fid) and envelope["data"]["finding"]["final_tier"] == "management"
    # A tampered body fails the check.
    assert not verify(SECRET, ok["headers"], ok["body"].replace(b"management", b"service"))

    # Replay: the same delivery id and body, a new round of attempts.
    r = client.post(f"/api/webhooks/{hook['id']}/deliveries/{d['id']}/replay", headers=auth.headers("admin1"))
    assert r.status_code == 200 and r.get_json()["status"] == "pending" and r.get_json()["replays"] == 1
    assert deliver(app, utcnow() + dt.timedelta(seconds=1))["delivered"] == 1
    again = receiver.got[-1]
    assert len(receiver.got) == 3 and again["headers"]["x-fieldcheck-delivery"] == d["id"]
    assert again["body"] == ok["body"] and verify(SECRET, again["headers"], again["body"])
    [d] = deliveries(client, auth, hook["id"])
    assert d["status"] == "delivered" and d["replays"] == 1 and len(d["log"]) == 4
    # A replay of another webhook's delivery, or of one that does not exist, is 404.
    other = subscribe(client, auth, receiver.url)
    assert client.post(f"/api/webhooks/{other['id']}/deliveries/{d['id']}/replay",
                       headers=auth.headers("admin1")).status_code == 404


def test_a_receiver_that_never_answers_times_out_and_the_delivery_gives_up(app, client, auth, ref, receiver):
    app.config.update(WEBHOOK_TIMEOUT_S=0.3, WEBHOOK_MAX_ATTEMPTS=2)
    receiver.up(200)
    receiver.delay_s = 1.0
    hook = subscribe(client, auth, receiver.url)
    finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    t0 = utcnow()
    started = time.monotonic()
    deliver(app, t0)
    assert time.monotonic() - started < 0.9, "the worker waited past its timeout"
    [d] = deliveries(client, auth, hook["id"])
    assert "timed out" in d["last_error"] and d["last_status_code"] is None
    receiver.delay_s = 0
    receiver.script = [500]
    deliver(app, t0 + dt.timedelta(seconds=60))
    [d] = deliveries(client, auth, hook["id"])
    assert (d["status"], d["attempts"], d["next_attempt_at"]) == ("failed", 2, None)
    assert d["last_error"].startswith("HTTP 500")
    assert client.get("/api/webhooks", headers=auth.headers("admin1")).get_json()["items"][0]["deliveries"] == {
        "pending": 0, "delivered": 0, "failed": 1}
    # Given up: the worker leaves it alone, until an admin replays it.
    assert deliver(app, t0 + dt.timedelta(days=1))["due"] == 0
    receiver.script = [204]
    client.post(f"/api/webhooks/{hook['id']}/deliveries/{d['id']}/replay", headers=auth.headers("admin1"))
    assert deliver(app, utcnow() + dt.timedelta(seconds=1))["delivered"] == 1


def test_no_redirect_is_followed(app, client, auth, ref, receiver):
    receiver.up(302)
    hook = subscribe(client, auth, receiver.url)
    finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    deliver(app, utcnow())
    [d] = deliveries(client, auth, hook["id"])
    assert d["status"] == "pending" and d["last_status_code"] == 302 and len(receiver.got) == 1


def _sup_and_finding(app, ref, code="FIRE-ELEC-WIRING", **facts):
    from server.services import lifecycle

    fid = finding_at(app, ref["sites"]["EDZ"][0], code, **facts)
    return fid, lifecycle


def _events(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(d.event, d.payload) for d in db.session.execute(
            sa.select(WebhookDelivery).order_by(WebhookDelivery.occurred_at, WebhookDelivery.event)).scalars()]


def _user(name):
    return db.session.execute(sa.select(User).where(User.username == name)).scalar_one()


def test_every_event_is_queued_where_it_happens(app, client, auth, ref):
    from server.services import lifecycle

    subscribe(client, auth, "https://receiver.example/all", events=(
        "finding.created", "finding.tier_changed", "order.overdue", "case.opened"))
    # A supervisor's tier change.
    fid = finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    with app.app_context():
        lifecycle.change_tier(lifecycle.load(fid), _user("sup1"), "enforcement", "repeat offender")
    events = _events(app)
    assert [e for e, _ in events] == ["finding.created", "finding.tier_changed"]
    changed = events[1][1]
    assert (changed["from"], changed["to"], changed["by"]) == ("management", "enforcement", "supervisor")
    # An order that goes overdue escalates: order.overdue, then the escalation's tier change.
    fid2 = finding_at(app, ref["sites"]["EDZ"][1], "FIRE-ELEC-WIRING", severity="general")
    with app.app_context():
        f = lifecycle.load(fid2)
        lifecycle.confirm_tier(f, _user("sup1"))
        order = lifecycle.issue_order(f, _user("sup1"))
        due = order.reinspection_due
        lifecycle.sweep_clocks(today=due + dt.timedelta(days=1))
        lifecycle.sweep_clocks(today=due + dt.timedelta(days=1))  # idempotent: nothing twice
    events = _events(app)[2:]
    assert [e for e, _ in events] == ["finding.created", "order.overdue", "finding.tier_changed"]
    assert events[1][1]["order"]["reinspection_due"] == due.isoformat()
    assert events[1][1]["finding"]["id"] == str(fid2)
    assert (events[2][1]["to"], events[2][1]["by"]) == ("enforcement", "escalation")
    # A case filed on the first (now enforcement) finding.
    with app.app_context():
        f = lifecycle.load(fid)  # open at enforcement since the supervisor's change
        case = lifecycle.file_case(f, _user("sup1"), [_user("insp1").id, _user("insp2").id])
        number = case.number
    event, payload = _events(app)[-1]
    assert event == "case.opened" and payload["case"]["number"] == number and payload["finding"]["id"] == str(fid)


def test_a_published_plan_is_announced(app, client, auth, world):  # noqa: F811
    subscribe(client, auth, "https://receiver.example/plans", events=("plan.published",))
    day = world["today"]
    generate(client, auth, day)
    assert _events(app) == []
    r = client.post(f"/api/plans/{day}/publish", headers=auth.headers("sched1"))
    assert r.status_code == 200
    [(event, payload)] = _events(app)
    assert event == "plan.published" and payload["plan"]["day"] == day.isoformat() and payload["plan"]["stops"] > 0


@contextlib.contextmanager
def statements(app):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.engines[None] if hasattr(db, "engines") else db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_emitting_is_one_lookup_per_transaction_and_nothing_without_subscribers(app, client, auth, ref):
    from server.services import webhooks

    with app.app_context():
        with statements(app) as seen:
            for _ in range(3):
                assert webhooks.emit("finding.created", payload={"x": 1}) == 0
        db.session.rollback()
    assert sum("webhook_subscriptions" in s for s in seen) == 1
    assert not any("webhook_deliveries" in s for s in seen)
    subscribe(client, auth, "https://receiver.example/a")
    subscribe(client, auth, "https://receiver.example/b", events=("finding.created", "case.opened"))
    subscribe(client, auth, "https://receiver.example/c", events=("case.opened",))
    subscribe(client, auth, "https://receiver.example/d", active=False)
    with app.app_context():
        with statements(app) as seen:
            assert webhooks.emit("finding.created", payload={"x": 1}) == 2
            assert webhooks.emit("finding.created", payload={"x": 2}) == 2
        db.session.rollback()  # the deliveries go with the transaction that made them
        assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookDelivery)).scalar() == 0
    assert sum("webhook_subscriptions" in s for s in seen) == 1


def test_urls_events_and_secrets_are_checked(client, auth):
    for url in ("ftp://receiver.example/x", "javascript:alert(1)", "file:///etc/passwd", "http://", "receiver.example",
                "https://user:pw@receiver.example/", "http://receiver.example:99999/", "http://[::1/x"):
        r = client.post("/api/webhooks", json={"url": url, "events": ["finding.created"]}, headers=auth.headers("admin1"))
        assert r.status_code == 422 and "url" in r.get_json()["errors"]["json"], (url, r.get_json())
    r = client.post("/api/webhooks", json={"url": "https://r.example/", "events": ["finding.deleted"]},
                    headers=auth.headers("admin1"))
    assert r.status_code == 422 and "events" in r.get_json()["errors"]["json"]
    r = client.post("/api/webhooks", json={"url": "https://r.example/", "events": ["case.opened"], "secret": "short"},
                    headers=auth.headers("admin1"))
    assert r.status_code == 422 and "secret" in r.get_json()["errors"]["json"]
    made = subscribe(client, auth, "https://r.example/", events=("case.opened",))
    assert len(made["secret"]) >= 32  # generated, shown this once
    listed = client.get("/api/webhooks", headers=auth.headers("admin1")).get_json()
    assert listed["items"][0]["secret"] is None and "plan.published" in listed["events"]
    rotated = client.patch(f"/api/webhooks/{made['id']}", json={"rotate_secret": True}, headers=auth.headers("admin1"))
    assert rotated.status_code == 200 and rotated.get_json()["secret"] not in (None, made["secret"])
    off = client.patch(f"/api/webhooks/{made['id']}", json={"active": False, "url": "http://r.example:8080/x"},
                       headers=auth.headers("admin1")).get_json()
    assert off["active"] is False and off["url"] == "http://r.example:8080/x"
    assert client.patch(f"/api/webhooks/{made['id']}", json={"url": "gopher://x"},
                        headers=auth.headers("admin1")).status_code == 422
    assert client.delete(f"/api/webhooks/{made['id']}", headers=auth.headers("admin1")).status_code == 204
    assert client.get(f"/api/webhooks/{made['id']}/deliveries", headers=auth.headers("admin1")).status_code == 404


def test_the_worker_is_a_scheduled_job_and_a_command(app, ref, client, auth, receiver, monkeypatch, tmp_path):
    from apscheduler.triggers.interval import IntervalTrigger
    from click.testing import CliRunner

    from server import cli, jobs
    from server.services.webhooks import deliver_due

    [(name, trigger, fn)] = [j for j in jobs.jobs(app) if j[0] == "webhook-deliveries"]
    assert fn is deliver_due and isinstance(trigger, IntervalTrigger)
    receiver.up(200)
    subscribe(client, auth, receiver.url)
    finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    monkeypatch.setattr(cli, "_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["webhooks-deliver"])
    assert result.exit_code == 0, result.output
    assert "1 delivered" in result.output and len(receiver.got) == 1
    assert uuid.UUID(receiver.got[0]["headers"]["x-fieldcheck-delivery"])


def test_a_rejected_sync_record_takes_its_deliveries_with_it(app, client, auth):
    from tests.sync_helpers import HENGDA, JIANGHAI, failing, finding, load_field_data, post_sync, visit

    field = load_field_data(app)
    pair = [field["users"]["insp1"], field["users"]["insp2"]]
    subscribe(client, auth, "https://receiver.example/sync")
    good = failing(visit(field["sites"][HENGDA], pair, findings=[finding()]), "SAF-012")
    # Its first finding is stored (and announced) before its second one breaks a rule.
    bad = failing(visit(field["sites"][JIANGHAI], pair, findings=[finding(), finding(domain="fire")]), "SAF-012")
    r = post_sync(client, auth.headers("insp1"), [good, bad])
    assert [x["status"] for x in r.get_json()["results"]] == ["created", "rejected"], r.get_json()
    events = _events(app)
    assert [(e, p["finding"]["id"]) for e, p in events] == [("finding.created", good["findings"][0]["id"])]


def test_a_dead_receiver_costs_one_attempt_per_run(app, client, auth, ref, receiver):
    hook = subscribe(client, auth, receiver.url)
    healthy = Receiver()
    try:
        healthy.up(200)
        subscribe(client, auth, healthy.url)
        for site in ref["sites"]["EDZ"][:3]:
            finding_at(app, site, "FIRE-ELEC-WIRING", severity="general")
        result = deliver(app, utcnow())
        assert (result["due"], result["delivered"], result["not_delivered"], result["skipped"]) == (6, 3, 1, 2)
        assert len(healthy.got) == 3
        assert sorted(d["attempts"] for d in deliveries(client, auth, hook["id"])) == [0, 0, 1]
    finally:
        healthy.close()


def test_a_url_the_client_cannot_send_is_an_attempts_error_not_the_runs(app, client, auth, ref):
    hook = subscribe(client, auth, "http://127.0.0.1:9/路径 with spaces")
    finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    assert deliver(app, utcnow())["not_delivered"] == 1
    [d] = deliveries(client, auth, hook["id"])
    assert d["attempts"] == 1 and d["last_error"]
