// The outbox's sending, shared by the pages and the service worker (Background Sync).
//
// This file is both a classic script and an ES module: it has no import or export, and puts
// its one object on globalThis. The pages load it with `import "./sync-core.js"` (js/outbox.js),
// the service worker with importScripts(), where modules cannot be imported.
//
// What it does (DESIGN.md "How data flows", step 3): finished visit records wait in the
// IndexedDB store "outbox", their photos in "photos". A drain sends the records in batches to
// POST /api/sync, then the photos of acknowledged records to PUT /api/photos/<id>. A record
// leaves the outbox only on `created` or `duplicate`; `conflict` and `rejected` stay, with the
// server's message, for a person. One drain at a time across every tab and the service worker
// (a Web Lock), and one per page (an in-flight promise), so nothing is sent twice at once; the
// server's idempotence covers the rest (an answer lost on the way is answered `duplicate`).
//
// It holds no user-visible words: errors are { kind, status, message } and the pages say them.
(function outboxCore(scope) {
  "use strict";

  const DB_NAME = "fieldcheck";
  const LOCK = "fieldcheck-outbox";
  const CHANNEL = "fieldcheck-outbox";
  const TODAY = "/api/me/today";
  const DEFAULT_BATCH = 20;
  const RECORD_TIMEOUT_MS = 60000;
  const PHOTO_TIMEOUT_MS = 120000;
  // What the server answered is shown for a week, then forgotten (the server keeps it for ever).
  const RECEIPT_DAYS = 7;

  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  function tx(db, names, mode, fn) {
    return new Promise((resolve, reject) => {
      const t = db.transaction(names, mode);
      const stores = {};
      for (const n of names) stores[n] = t.objectStore(n);
      let result;
      Promise.resolve(fn(stores)).then((r) => { result = r; }, (err) => { t.abort(); reject(err); });
      t.oncomplete = () => resolve(result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error("aborted"));
    });
  }

  // The service worker opens the database the pages made, never creates or upgrades it:
  // an upgrade here would skip the pages' migration steps.
  function openExisting() {
    return new Promise((resolve) => {
      const req = indexedDB.open(DB_NAME);
      req.onupgradeneeded = () => req.transaction.abort();
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => db.close();
        resolve(db.objectStoreNames.contains("outbox") ? db : (db.close(), null));
      };
      req.onerror = () => resolve(null);
    });
  }

  let channel = null;
  function broadcast(message) {
    try {
      if (!channel && typeof BroadcastChannel !== "undefined") channel = new BroadcastChannel(CHANNEL);
      if (channel) channel.postMessage(message);
    } catch (err) {
      channel = null; // a closed channel (a worker shutting down): the next drain opens another
    }
  }

  async function timedFetch(url, init, ms) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      return await fetch(url, { ...init, signal: abort.signal, cache: "no-store" });
    } finally {
      clearTimeout(timer);
    }
  }

  async function answerOf(resp) {
    try {
      return await resp.json();
    } catch (err) {
      return null;
    }
  }

  class Stop extends Error {
    constructor(kind, status = 0, message = "") {
      super(message || kind);
      this.kind = kind; // offline, unauthorized, server, signed_out
      this.status = status;
    }
  }

  async function deviceId(db) {
    return tx(db, ["meta"], "readwrite", async ({ meta }) => {
      const known = await done(meta.get("device"));
      if (known) return known;
      const id = `pwa-${(scope.crypto.randomUUID && scope.crypto.randomUUID()) || String(Date.now())}`;
      meta.put(id, "device");
      return id;
    });
  }

  async function context(db) {
    return tx(db, ["session", "data"], "readonly", async ({ session, data }) => {
      const [current, today] = await Promise.all([done(session.get("current")), done(data.get(TODAY))]);
      return { token: current && current.token, user: current && current.user && current.user.id,
        limits: (today && today.body && today.body.limits) || {} };
    });
  }

  function byQueued(a, b) {
    return (a.queued_at || "").localeCompare(b.queued_at || "") || a.id.localeCompare(b.id);
  }

  // A record goes under the token of the inspector who recorded it, never of whoever logs in next.
  async function waitingRecords(db, user) {
    const all = await tx(db, ["outbox"], "readonly", ({ outbox }) => done(outbox.getAll()));
    return all.filter((r) => r.state === "waiting" && (!r.user || r.user.id === user)).sort(byQueued);
  }

  // Photos ready to go: waiting, their record acknowledged (no longer in the outbox), taken by
  // the inspector now logged in.
  async function waitingPhotos(db, user) {
    return tx(db, ["photos", "outbox"], "readonly", async ({ photos, outbox }) => {
      const [all, records] = await Promise.all([done(photos.getAll()), done(outbox.getAllKeys())]);
      const held = new Set(records);
      return all.filter((p) => p.state === "waiting" && !held.has(p.record_id) && (!p.user || p.user.id === user))
        .sort(byQueued);
    });
  }

  async function postBatch(token, device, entries) {
    let resp;
    try {
      resp = await timedFetch("/api/sync", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ device_id: device, visits: entries.map((e) => e.record) }),
      }, RECORD_TIMEOUT_MS);
    } catch (err) {
      throw new Stop("offline");
    }
    const body = await answerOf(resp);
    if (resp.status === 401) throw new Stop("unauthorized", 401, body && body.message);
    if (resp.status === 413) return { tooLarge: true, message: (body && body.message) || "" };
    if (!resp.ok || !body || !Array.isArray(body.results)) {
      throw new Stop("server", resp.status, (body && body.message) || resp.statusText);
    }
    return body;
  }

  // Apply one batch's answer in one transaction: acknowledged records leave the outbox and
  // their receipt is kept; the others stay with the server's words.
  async function settle(db, entries, answer, now) {
    const counts = { acknowledged: 0, held: 0 };
    await tx(db, ["outbox", "receipts"], "readwrite", ({ outbox, receipts }) => {
      for (const result of answer.results) {
        const entry = entries[result.index];
        if (!entry || (result.id && result.id !== entry.id)) continue;
        if (result.status === "created" || result.status === "duplicate") {
          outbox.delete(entry.id);
          receipts.put({
            id: entry.id, status: result.status, receipt: result.visit || null, acked_at: now,
            site_id: entry.record.site_id, site_name: entry.site_name || "", day: entry.day,
            started_at: entry.record.started_at,
            preliminary: entry.preliminary || {}, queued_at: entry.queued_at,
          });
          counts.acknowledged += 1;
        } else {
          outbox.put({
            ...entry, state: result.status === "conflict" ? "conflict" : "rejected", message: result.message || "",
            errors: result.errors || null, stored_id: result.stored_id || null, answered_at: now,
          });
          counts.held += 1;
        }
      }
    });
    return counts;
  }

  async function refuseOversized(db, entry, message, now) {
    await tx(db, ["outbox"], "readwrite", ({ outbox }) => {
      outbox.put({ ...entry, state: "rejected", message, errors: null, answered_at: now });
    });
  }

  async function sendRecords(db, token, user, device, limits, progress) {
    let size = Math.max(1, Math.min(Number(limits.max_visits_per_batch) || DEFAULT_BATCH, DEFAULT_BATCH));
    const maxBytes = Number(limits.max_body_bytes) || 0;
    let sent = 0;
    for (;;) {
      const entries = await waitingRecords(db, user);
      if (!entries.length) return sent;
      progress({ phase: "records", done: sent, total: sent + entries.length });
      let batch = entries.slice(0, size);
      // Keep well under the advertised body limit: JSON of the records plus the envelope.
      while (maxBytes && batch.length > 1 && JSON.stringify(batch.map((e) => e.record)).length > maxBytes * 0.9) {
        batch = batch.slice(0, Math.ceil(batch.length / 2));
      }
      const now = new Date().toISOString();
      const answer = await postBatch(token, device, batch);
      if (answer.tooLarge) {
        if (batch.length === 1) await refuseOversized(db, batch[0], answer.message, now);
        else size = Math.max(1, Math.floor(batch.length / 2));
        continue;
      }
      const counts = await settle(db, batch, answer, now);
      sent += counts.acknowledged + counts.held;
    }
  }

  async function putPhoto(token, photo) {
    const form = new FormData();
    form.append(photo.finding_id ? "finding_id" : "visit_id", photo.finding_id || photo.record_id);
    form.append("sha256", photo.sha256);
    form.append("captured_at", photo.captured_at);
    if (photo.fix) {
      form.append("lon", String(photo.fix.lon));
      form.append("lat", String(photo.fix.lat));
      if (photo.fix.accuracy_m !== null && photo.fix.accuracy_m !== undefined) {
        form.append("accuracy_m", String(photo.fix.accuracy_m));
      }
    }
    form.append("purpose", photo.purpose || "");
    form.append("file", photo.blob, photo.filename || `${photo.id}.jpg`);
    let resp;
    try {
      resp = await timedFetch(`/api/photos/${photo.id}`, {
        method: "PUT", headers: { Accept: "application/json", Authorization: `Bearer ${token}` }, body: form,
      }, PHOTO_TIMEOUT_MS);
    } catch (err) {
      throw new Stop("offline");
    }
    const body = await answerOf(resp);
    if (resp.status === 401) throw new Stop("unauthorized", 401, body && body.message);
    if (resp.ok) return { ok: true, answer: body };
    if (resp.status >= 500 || resp.status === 429 || resp.status === 408) {
      throw new Stop("server", resp.status, (body && body.message) || resp.statusText);
    }
    // A 4xx about this photo (its hash, type, size, a clash): it stays, with the words, for a person.
    return { ok: false, state: resp.status === 409 ? "conflict" : "rejected", message: (body && body.message) || resp.statusText };
  }

  async function sendPhotos(db, token, user, progress) {
    const photos = await waitingPhotos(db, user);
    let sent = 0;
    for (const photo of photos) {
      progress({ phase: "photos", done: sent, total: photos.length });
      const result = await putPhoto(token, photo);
      const now = new Date().toISOString();
      await tx(db, ["photos", "receipts"], "readwrite", async ({ photos: store, receipts }) => {
        if (result.ok) {
          store.delete(photo.id);
          const receipt = await done(receipts.get(photo.record_id));
          if (receipt) receipts.put({ ...receipt, photos_sent: (receipt.photos_sent || 0) + 1 });
        } else {
          store.put({ ...photo, state: result.state, message: result.message, answered_at: now });
        }
      });
      sent += 1;
    }
    progress({ phase: "photos", done: sent, total: photos.length });
    return sent;
  }

  async function forgetOldReceipts(db) {
    const before = new Date(Date.now() - RECEIPT_DAYS * 86400000).toISOString();
    await tx(db, ["receipts"], "readwrite", async ({ receipts }) => {
      for (const r of await done(receipts.getAll())) if ((r.acked_at || "") < before) receipts.delete(r.id);
    });
  }

  async function note(db, fields) {
    await tx(db, ["meta"], "readwrite", async ({ meta }) => {
      const last = (await done(meta.get("outbox"))) || {};
      meta.put({ ...last, ...fields }, "outbox");
    });
  }

  async function run(db) {
    const started = new Date().toISOString();
    const progress = (p) => broadcast({ type: "progress", ...p });
    broadcast({ type: "start" });
    let outcome;
    try {
      const { token, user, limits } = await context(db);
      if (!token) throw new Stop("signed_out");
      const device = await deviceId(db);
      const records = await sendRecords(db, token, user, device, limits, progress);
      const photos = await sendPhotos(db, token, user, progress);
      await forgetOldReceipts(db);
      outcome = { ok: true, records, photos };
      // "Last sent" means something went: a drain that found nothing leaves the time as it was.
      await note(db, { last_attempt_at: started, last_error: null,
        ...(records || photos ? { last_success_at: new Date().toISOString() } : {}) });
    } catch (err) {
      const error = err instanceof Stop ? { kind: err.kind, status: err.status, message: err.message === err.kind ? "" : err.message }
        : { kind: "client", status: 0, message: String((err && err.message) || err) };
      outcome = { ok: false, error };
      await note(db, { last_attempt_at: started, last_error: { ...error, at: new Date().toISOString() } }).catch(() => {});
    }
    broadcast({ type: "end", ...outcome });
    return outcome;
  }

  let inflight = null;
  let again = false;

  // One drain per page (a second call while one runs joins it and asks for one more round),
  // one across pages and the service worker (the lock: a second waits, then finds what is left).
  function drain(db) {
    if (inflight) {
      again = true;
      return inflight;
    }
    const locked = () => (scope.navigator && scope.navigator.locks
      ? scope.navigator.locks.request(LOCK, () => run(db)) : run(db));
    inflight = (async () => {
      let outcome;
      do {
        again = false;
        outcome = await locked();
      } while (again && outcome.ok);
      return outcome;
    })().finally(() => { inflight = null; });
    return inflight;
  }

  scope.fieldcheckOutbox = { drain, openExisting, CHANNEL, LOCK, TODAY };
}(globalThis));
