// The one way the app talks to the server: JSON, the bearer token, errors as words.
import { formatWait, t } from "./i18n.js";

let token = null;
let unauthorized = () => {};

export function setToken(value) {
  token = value;
}

// Called on a 401 to an authenticated call: the token expired or was revoked.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, message, { retryAfter = null, errors = null } = {}) {
    super(message);
    this.status = status; // 0: the network, not the server, answered
    this.retryAfter = retryAfter;
    this.errors = errors;
  }

  get offline() {
    return this.status === 0;
  }
}

// The service worker marks an answer it served from its cache because the network failed,
// and its "nothing cached" answer, so the screens can say they are offline.
const CACHE_MARK = "X-Fieldcheck-Cache";

async function request(method, path, body, { auth = true, headers: extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "");
  }
  const mark = resp.headers.get(CACHE_MARK);
  if (mark === "miss") throw new ApiError(0, "");
  // A conditional read (If-None-Match) the server answered "unchanged": the caller keeps its copy.
  if (resp.status === 304) return { data: null, stale: false, status: 304, etag: resp.headers.get("ETag") };
  let data = null;
  if (resp.status !== 204) {
    try {
      data = await resp.json();
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401 && auth && token) unauthorized();
    const retry = Number(resp.headers.get("Retry-After"));
    throw new ApiError(resp.status, (data && data.message) || resp.statusText, {
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : null,
      errors: data && data.errors,
    });
  }
  return { data, stale: mark === "fallback", status: resp.status, etag: resp.headers.get("ETag") };
}

export const api = {
  // { data, stale }: stale when the service worker answered from its cache while offline.
  get: (path) => request("GET", path),
  // { data, stale, status, etag }: status 304 (data null) when the copy named by etag is current.
  getIfChanged: (path, etag) => request("GET", path, undefined, { headers: etag ? { "If-None-Match": etag } : {} }),
  post: async (path, body, opts) => (await request("POST", path, body, opts)).data,
  patch: async (path, body) => (await request("PATCH", path, body)).data,
  delete: async (path) => (await request("DELETE", path)).data,
};

// An error in words a person can act on; the server's own message is kept where it explains.
export function describeError(err) {
  if (!(err instanceof ApiError)) return t("error.server", { message: String(err && err.message) });
  if (err.offline) return t("error.offline");
  if (err.status === 429 && err.retryAfter) return t("login.throttled", { wait: formatWait(err.retryAfter) });
  if (err.status === 403) return t("error.forbidden", { message: err.message });
  return t("error.server", { message: err.message });
}
