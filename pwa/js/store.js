// A small promise API over IndexedDB. The database is upgraded one step per entry of
// MIGRATIONS, so a later feature (the outbox, photos) appends a step and never edits one.
const DB_NAME = "fieldcheck";

const MIGRATIONS = [
  (db) => {
    // "session": the token and the user, read by the pages and, later, by the service worker.
    db.createObjectStore("session");
    // "data": the last good answer of each API read, keyed by its path, for offline rendering.
    db.createObjectStore("data");
  },
  (db) => {
    // Field capture. Logging out never touches these: what was recorded stays until the server has it.
    // "drafts": visits being recorded, saved on every change (a draft survives closing the app).
    db.createObjectStore("drafts", { keyPath: "id" });
    // "outbox": finished visit records waiting for the server's acknowledgement (js/sync-core.js).
    db.createObjectStore("outbox", { keyPath: "id" });
    // "photos": each photo's bytes (a Blob) and hash, with the visit it belongs to; leaves once uploaded.
    db.createObjectStore("photos", { keyPath: "id" }).createIndex("record_id", "record_id");
    // "receipts": what the server answered for each acknowledged visit (its tiers replace the 预判).
    db.createObjectStore("receipts", { keyPath: "id" });
    // "meta": the device id and the outbox's last attempt, success and error.
    db.createObjectStore("meta");
  },
];

let opening = null;

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, MIGRATIONS.length);
      req.onupgradeneeded = (event) => {
        const db = req.result;
        for (let v = event.oldVersion; v < MIGRATIONS.length; v += 1) MIGRATIONS[v](db, req.transaction);
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab carrying a newer version must not be blocked by this one.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => {
        opening = null;
        reject(req.error);
      };
    });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// Run fn(stores) in one transaction over the named stores; resolves with fn's result once
// the transaction has committed (so a write is durable when the promise settles).
export async function transaction(names, mode, fn) {
  const db = await openDb();
  const list = Array.isArray(names) ? names : [names];
  const tx = db.transaction(list, mode);
  const stores = Object.fromEntries(list.map((n) => [n, tx.objectStore(n)]));
  const committed = new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("aborted", "AbortError"));
  });
  committed.catch(() => {}); // awaited below; this only keeps an early abort from being "unhandled"
  const result = await fn(stores);
  await committed;
  return result;
}

const read = (name, op) => transaction(name, "readonly", (s) => done(op(s[name])));
const write = (name, op) => transaction(name, "readwrite", (s) => done(op(s[name])));

export const store = {
  get: (name, key) => read(name, (s) => s.get(key)),
  getAll: (name) => read(name, (s) => s.getAll()),
  keys: (name) => read(name, (s) => s.getAllKeys()),
  // key is for stores without a keyPath; leave it out where the store has one.
  put: (name, value, key) => write(name, (s) => (key === undefined ? s.put(value) : s.put(value, key))),
  delete: (name, key) => write(name, (s) => s.delete(key)),
  clear: (name) => write(name, (s) => s.clear()),
};
