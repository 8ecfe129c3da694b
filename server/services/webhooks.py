"""Webhooks: an admin's URLs told of events, reliably (docs/integrations.md).

The outbox. `emit(event, ...)` is called where the event happens, inside the transaction
that makes the change: it writes one `webhook_deliveries` row per active subscription to the
event, so the announcement commits with the change or not at all, and the request that
caused it never waits on a network. With no subscription it writes nothing; which
subscriptions exist is read once per transaction (a sync batch of fifty findings asks once).

The worker. `deliver_due(now)` (the scheduler's `webhook-deliveries` job, and `fieldcheck
webhooks-deliver` by hand) takes the pending deliveries that are due, leases each one (so a
second worker leaves it alone), POSTs it with a short timeout, and records the attempt:
2xx is delivered; anything else (another status, a timeout, a refused connection) is the
attempt's error, kept as `last_error` and in the delivery's log, and the next attempt waits
BACKOFF_S x 2^(attempts-1) (capped), until MAX_ATTEMPTS, when the delivery is `failed`.
An admin may replay any delivery: same id, same body, a new round of attempts.

The signature. Each POST carries X-Fieldcheck-Timestamp (Unix seconds) and
X-Fieldcheck-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body with the
subscription's secret>; receivers check it and the timestamp's age, and deduplicate on
X-Fieldcheck-Delivery (delivery is at least once).

SSRF. Only admins register URLs, and only http(s) ones; the worker follows no redirect, uses
no proxy from the environment, reads at most 1 KB of an answer and keeps 200 characters of it.
An admin can still point a webhook at an address inside the bureau's network: that is what
an admin is trusted with; the operations guide says to fence the scheduler's egress.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import User, WebhookDelivery, WebhookSubscription
from ..models.types import utcnow
from ..models.vocab import WEBHOOK_EVENTS
from . import audit
from .errors import Conflict, NotFound, ServiceError

log = logging.getLogger("fieldcheck.webhooks")

_CACHE = "fieldcheck.webhooks"
USER_AGENT = "fieldcheck-webhooks/1"
MAX_ANSWER_BYTES = 1024
MAX_LOG = 30  # attempts kept per delivery (the newest)
DEFAULTS = {"WEBHOOK_TIMEOUT_S": 5.0, "WEBHOOK_MAX_ATTEMPTS": 8, "WEBHOOK_BACKOFF_S": 60.0,
            "WEBHOOK_BACKOFF_MAX_S": 21600.0, "WEBHOOK_KEEP_DAYS": 30}


def settings() -> dict:
    cfg = current_app.config
    return {k: type(v)(cfg.get(k, v)) for k, v in DEFAULTS.items()}


# --- the outbox: one call where each event happens ------------------------------------------


def _iso(value):
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _finding(f) -> dict:
    return {"id": str(f.id), "park_id": f.park_id, "site_id": f.site_id, "visit_id": str(f.visit_id),
            "domain": f.domain, "status": f.status, "suggested_tier": f.suggested_tier, "final_tier": f.final_tier,
            "rule_id": f.rule_id, "discovered_at": _iso(f.discovered_at),
            "correction_deadline": _iso(f.correction_deadline)}


def _payload(event: str, subjects: dict) -> dict:
    if event == "finding.created":
        return {"finding": _finding(subjects["finding"])}
    if event == "finding.tier_changed":
        f = subjects["finding"]
        return {"finding": _finding(f), "from": subjects["before"], "to": f.final_tier,
                "by": subjects.get("by", "supervisor"), "reason": f.tier_reason or ""}
    if event == "order.overdue":
        o = subjects["order"]
        return {"order": {"id": o.id, "number": o.number, "deadline": _iso(o.deadline),
                          "reinspection_due": _iso(o.reinspection_due)}, "finding": _finding(subjects["finding"])}
    if event == "case.opened":
        c = subjects["case"]
        return {"case": {"id": c.id, "number": c.number, "filed_at": _iso(c.filed_at),
                         "decision_due": _iso(c.decision_due)}, "finding": _finding(subjects["finding"])}
    if event == "plan.published":
        p = subjects["plan"]
        return {"plan": {"id": p.id, "day": _iso(p.day), "published_at": _iso(p.published_at),
                         "routes": subjects.get("routes"), "stops": subjects.get("stops")}}
    raise ValueError(f"no webhook event {event!r}")


def _subscribed() -> list[tuple[int, tuple[str, ...]]]:
    """(id, events) of the active subscriptions, read once per transaction."""
    session = db.session()
    tx = session.get_transaction()
    cached = session.info.get(_CACHE)
    if tx is not None and cached is not None and cached[0] is tx:
        return cached[1]
    rows = [(i, tuple(ev or ())) for i, ev in session.execute(
        sa.select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active))]
    session.info[_CACHE] = (session.get_transaction(), rows)
    return rows


def emit(event: str, payload: dict | None = None, **subjects) -> int:
    """Queue `event` for every active subscription to it, in the caller's transaction.

    The payload is given, or made from the named subjects (finding=, order=, case=, plan=,
    before=, by=) only when someone subscribed. Answers the number of deliveries queued."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"no webhook event {event!r}")
    targets = [i for i, events in _subscribed() if event in events]
    if not targets:
        return 0
    data = payload if payload is not None else _payload(event, subjects)
    now = utcnow()
    for sub_id in targets:
        db.session.add(WebhookDelivery(id=uuid.uuid4(), subscription_id=sub_id, event=event, occurred_at=now,
                                       payload=data, status="pending", attempts=0, next_attempt_at=now, log=[]))
    return len(targets)


# --- subscriptions ------------------------------------------------------------------------------


def check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError as e:  # e.g. an unclosed [ of an IPv6 address
        raise ServiceError(f"this is not a URL: {e}", ("url",)) from None
    if parts.scheme not in ("http", "https"):
        raise ServiceError("a webhook URL starts with http:// or https://", ("url",))
    if not parts.hostname:
        raise ServiceError("a webhook URL names a host, e.g. https://receiver.example/fieldcheck", ("url",))
    if parts.username or parts.password:
        raise ServiceError("put no user name or password in the URL: the signature authenticates the sender",
                           ("url",))
    try:
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        raise ServiceError("the URL's port is not a number from 1 to 65535", ("url",)) from None
    return url


def _events(events) -> list[str]:
    events = list(dict.fromkeys(events or ()))
    if not events:
        raise ServiceError(f"name at least one event: {', '.join(WEBHOOK_EVENTS)}", ("events",))
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown:
        raise ServiceError(f"no event {', '.join(unknown)}; the events are {', '.join(WEBHOOK_EVENTS)}", ("events",))
    return events


def _forget_cache() -> None:
    db.session.info.pop(_CACHE, None)


def get(hook_id: int) -> WebhookSubscription:
    row = db.session.get(WebhookSubscription, hook_id)
    if row is None:
        raise NotFound(f"there is no webhook {hook_id}")
    return row


def describe(row: WebhookSubscription, secret: str | None = None) -> dict:
    counts = dict(db.session.execute(sa.select(WebhookDelivery.status, sa.func.count()).where(
        WebhookDelivery.subscription_id == row.id).group_by(WebhookDelivery.status)).all())
    last = db.session.execute(sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id)
                              .order_by(WebhookDelivery.last_attempt_at.desc().nulls_last()).limit(1)).scalar()
    return {"id": row.id, "url": row.url, "events": list(row.events or ()), "description": row.description,
            "active": row.active, "created_at": row.created_at, "updated_at": row.updated_at,
            "secret_hint": "…" + row.secret[-4:], "secret": secret,
            "deliveries": {s: int(counts.get(s, 0)) for s in ("pending", "delivered", "failed")},
            "last_attempt_at": last.last_attempt_at if last else None,
            "last_error": last.last_error if last else ""}


def list_all() -> list[dict]:
    rows = db.session.execute(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)).scalars()
    return [describe(r) for r in rows]


def create(actor: User, url: str, events, secret: str | None = None, description: str = "",
           active: bool = True) -> dict:
    url = check_url(url)
    events = _events(events)
    made = secret is None
    secret = secret if secret is not None else secrets.token_urlsafe(32)
    row = WebhookSubscription(url=url, events=events, secret=secret, description=description or "", active=active,
                              created_by=actor.id, created_at=utcnow(), updated_at=utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record("webhook.create", "webhook", row.id, {"url": url, "events": events, "active": active,
                                                       "secret_generated": made}, actor.id)
    db.session.commit()
    _forget_cache()
    return describe(row, secret=secret)


def update(actor: User, hook_id: int, **fields) -> dict:
    row = get(hook_id)
    changes = {}
    if "url" in fields:
        changes["url"] = row.url = check_url(fields["url"])
    if "events" in fields:
        changes["events"] = row.events = _events(fields["events"])
    if "description" in fields:
        changes["description"] = row.description = fields["description"] or ""
    if "active" in fields:
        changes["active"] = row.active = bool(fields["active"])
    secret = None
    if fields.get("rotate_secret"):
        secret = row.secret = secrets.token_urlsafe(32)
        changes["secret_rotated"] = True
    elif fields.get("secret") is not None:
        secret = row.secret = fields["secret"]
        changes["secret_rotated"] = True
    row.updated_at = utcnow()
    audit.record("webhook.update", "webhook", row.id, changes, actor.id)
    db.session.commit()
    _forget_cache()
    return describe(row, secret=secret)


def delete(actor: User, hook_id: int) -> None:
    row = get(hook_id)
    pending = db.session.execute(sa.select(sa.func.count()).where(
        WebhookDelivery.subscription_id == row.id, WebhookDelivery.status == "pending")).scalar_one()
    audit.record("webhook.delete", "webhook", row.id, {"url": row.url, "events": list(row.events or ()),
                                                       "pending_dropped": pending}, actor.id)
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id))
    db.session.delete(row)
    db.session.commit()
    _forget_cache()


# --- deliveries ------------------------------------------------------------------------------


def describe_delivery(d: WebhookDelivery) -> dict:
    return {"id": d.id, "subscription_id": d.subscription_id, "event": d.event, "occurred_at": d.occurred_at,
            "status": d.status, "attempts": d.attempts, "next_attempt_at": d.next_attempt_at if d.status == "pending"
            else None, "last_attempt_at": d.last_attempt_at, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "delivered_at": d.delivered_at, "replays": d.replays,
            "log": list(d.log or ()), "payload": d.payload}


def deliveries(hook_id: int, status: str | None = None, limit: int = 50) -> list[dict]:
    get(hook_id)
    q = sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == hook_id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    rows = db.session.execute(q.order_by(WebhookDelivery.occurred_at.desc(), WebhookDelivery.id).limit(limit)).scalars()
    return [describe_delivery(d) for d in rows]


def replay(actor: User, hook_id: int, delivery_id: uuid.UUID, now: dt.datetime | None = None) -> dict:
    """Send a delivery again, under the same id and with the same body: a new round of attempts."""
    sub = get(hook_id)
    d = db.session.get(WebhookDelivery, delivery_id)
    if d is None or d.subscription_id != sub.id:
        raise NotFound(f"webhook {hook_id} has no delivery {delivery_id}")
    if d.status == "pending" and d.attempts == 0:
        raise Conflict("this delivery has not been tried yet: it goes with the worker's next run")
    now = now or utcnow()
    before = d.status
    d.status = "pending"
    d.attempts = 0
    d.next_attempt_at = now
    d.replays += 1
    audit.record("webhook.replay", "webhook_delivery", d.id, {"webhook": sub.id, "event": d.event, "was": before},
                 actor.id)
    db.session.commit()
    return describe_delivery(d)


def body_of(d: WebhookDelivery) -> bytes:
    """The bytes POSTed: the same for every attempt and replay of a delivery."""
    envelope = {"id": str(d.id), "event": d.event, "occurred_at": _iso(d.occurred_at), "data": d.payload}
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """The wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ... at most cap."""
    return min(cap_s, base_s * 2 ** max(0, attempts - 1))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx is the answer: a redirect could lead anywhere


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str]:
    """POST once: (status code or None, error text; empty on 2xx)."""
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            code = resp.status
            resp.read(MAX_ANSWER_BYTES)
        return code, "" if 200 <= code < 300 else f"HTTP {code}"
    except urllib.error.HTTPError as e:
        try:
            text = e.read(MAX_ANSWER_BYTES).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001  (the answer's body is only a hint)
            text = ""
        finally:
            e.close()
        return e.code, f"HTTP {e.code} {e.reason}" + (f": {text[:200]}" if text else "")
    except (TimeoutError, socket.timeout):
        return None, f"no answer within {timeout:g} s (timed out)"
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return None, f"no answer within {timeout:g} s (timed out)"
        if isinstance(reason, ConnectionRefusedError):
            return None, "connection refused: nothing listens at that address and port"
        if isinstance(reason, socket.gaierror):
            return None, f"the host name does not resolve ({reason})"
        return None, f"connection failed: {reason}"
    except (ConnectionError, OSError) as e:
        return None, f"connection failed: {e}"
    except Exception as e:  # noqa: BLE001  (a URL the HTTP client cannot send, ...: this attempt's error, never the run's)
        return None, f"the request could not be made: {type(e).__name__}: {e}"


def _attempt(d: WebhookDelivery, sub: WebhookSubscription, now: dt.datetime, cfg: dict) -> bool:
    body = body_of(d)
    ts = int(now.timestamp())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "X-Fieldcheck-Event": d.event, "X-Fieldcheck-Delivery": str(d.id),
               "X-Fieldcheck-Timestamp": str(ts), "X-Fieldcheck-Attempt": str(d.attempts + 1),
               "X-Fieldcheck-Signature": signature(sub.secret, ts, body)}
    started = dt.datetime.now(dt.timezone.utc)
    code, error = post(sub.url, body, headers, cfg["WEBHOOK_TIMEOUT_S"])
    ms = int((dt.datetime.now(dt.timezone.utc) - started).total_seconds() * 1000)
    d = db.session.get(WebhookDelivery, d.id, populate_existing=True)
    if d is None:  # its webhook was deleted meanwhile
        return False
    d.attempts += 1
    d.last_attempt_at = now
    d.last_status_code = code
    d.last_error = error[:500]
    d.log = (list(d.log or ()) + [{"at": now.isoformat(), "attempt": d.attempts, "status_code": code,
                                   "error": error[:500], "ms": ms}])[-MAX_LOG:]
    ok = not error
    if ok:
        d.status, d.delivered_at, d.next_attempt_at = "delivered", now, None
    elif d.attempts >= cfg["WEBHOOK_MAX_ATTEMPTS"]:
        d.status, d.next_attempt_at = "failed", None
    else:
        wait = backoff_s(d.attempts, cfg["WEBHOOK_BACKOFF_S"], cfg["WEBHOOK_BACKOFF_MAX_S"])
        d.next_attempt_at = now + dt.timedelta(seconds=wait)
    db.session.commit()
    log.info("webhook %s delivery %s (%s) attempt %d: %s", sub.id, d.id, d.event, d.attempts, error or f"HTTP {code}")
    return ok


def deliver_due(now: dt.datetime | None = None, limit: int = 100) -> dict:
    """Send what is due at `now` (the real clock unless given), oldest first; purge old rows.

    A receiver that fails once in a run is not tried again in that run (its other due
    deliveries stay due for the next run), so one dead receiver costs one timeout per run,
    not one per delivery.

    Each delivery is leased before it is sent (its next attempt moved past the timeout and
    committed), so another worker never sends it at the same time; a worker that dies while
    sending leaves it to be sent again when the lease ends (at least once)."""
    cfg = settings()
    injected = now is not None
    now = now or utcnow()
    lease = dt.timedelta(seconds=cfg["WEBHOOK_TIMEOUT_S"] + 60)
    due = list(db.session.execute(
        sa.select(WebhookDelivery.id).join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, WebhookSubscription.active)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).scalars())
    db.session.commit()
    sent = failed = skipped = 0
    down: set[int] = set()  # receivers that failed in this run: their other deliveries wait for the next
    for delivery_id in due:
        q = sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update(skip_locked=True)
        d = db.session.execute(q.execution_options(populate_existing=True)).scalar()
        if d is None or d.status != "pending" or d.next_attempt_at is None or d.next_attempt_at > now:
            db.session.commit()
            continue
        if d.subscription_id in down:
            skipped += 1
            db.session.commit()
            continue
        d.next_attempt_at = now + lease
        sub = db.session.get(WebhookSubscription, d.subscription_id)
        db.session.commit()
        # Signed with the time it is sent (a long run must not send stale timestamps), or the test's clock.
        if _attempt(d, sub, now if injected else utcnow(), cfg):
            sent += 1
        else:
            failed += 1
            down.add(sub.id)
    purged = db.session.execute(sa.delete(WebhookDelivery).where(
        WebhookDelivery.status.in_(("delivered", "failed")),
        WebhookDelivery.occurred_at < now - dt.timedelta(days=cfg["WEBHOOK_KEEP_DAYS"]))).rowcount
    db.session.commit()
    return {"due": len(due), "delivered": sent, "not_delivered": failed, "skipped": skipped, "purged": purged}
