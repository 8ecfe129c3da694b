// The entry module: session, header, hash router, service worker.
import { api, onUnauthorized, setToken } from "./api.js";
import { h } from "./dom.js";
import { lang, onLangChange, setLang, t } from "./i18n.js";
import * as outbox from "./outbox.js";
import { store } from "./store.js";
import * as homeScreen from "./screens/home.js";
import * as loginScreen from "./screens/login.js";

const ROUTES = { login: loginScreen, home: homeScreen };
// Desk screens (supervisors, legal reviewers, admins) load on demand: a phone never fetches them
// on its first load. Each names the roles the API lets read it; #/finding/<id> passes the id.
const DESK = {
  queue: { roles: ["supervisor", "legal_reviewer", "admin"], load: () => import("./screens/queue.js") },
  finding: { roles: ["supervisor", "legal_reviewer", "admin"], load: () => import("./screens/finding_detail.js") },
  legal: { roles: ["legal_reviewer", "admin"], load: () => import("./screens/legal.js") },
  dashboard: { roles: ["supervisor", "admin"], load: () => import("./screens/dashboard.js") },
  // The scheduler's patrol plan: #/planner/<YYYY-MM-DD>.
  planner: { roles: ["scheduler", "admin"], load: () => import("./screens/planner.js") },
  // Each phone's outbox and storage as it reports them, and who needs attention.
  health: { roles: ["supervisor", "admin"], load: () => import("./screens/sync_health.js") },
  webhooks: { roles: ["admin"], load: () => import("./screens/webhooks.js") },
  // The admin's imports: a dry run, then apply.
  import: { roles: ["admin"], load: () => import("./screens/import.js") },
};
// The admin's screens (desktop first): parks on the map, enterprises, people, checklists, the
// violation catalogue, the policy. #/enterprises/<id> and #/people/<id> open one.
const ADMIN = ["admin"];
Object.assign(DESK, {
  parks: { roles: ADMIN, load: () => import("./screens/admin_parks.js") },
  enterprises: { roles: ADMIN, load: () => import("./screens/admin_sites.js") },
  people: { roles: ADMIN, load: () => import("./screens/admin_people.js") },
  checklists: { roles: ADMIN, load: () => import("./screens/admin_checklists.js") },
  catalogue: { roles: ADMIN, load: () => import("./screens/admin_catalogue.js") },
  policy: { roles: ADMIN, load: () => import("./screens/admin_policy.js") },
});
// Field screens (inspectors on the phone: today's route, a site, a visit and its findings, the
// outbox) load on demand the same way, from the table above: #/site/<id>, #/visit/<id>[/finding/<id>].
const FIELD = ["inspector"];
Object.assign(DESK, {
  today: { roles: FIELD, load: () => import("./screens/today.js") },
  site: { roles: FIELD, load: () => import("./screens/site.js") },
  visit: { roles: FIELD, load: () => import("./screens/visit.js") },
  outbox: { roles: FIELD, load: () => import("./screens/outbox.js") },
});
// The service worker's cache of API answers (sw.js names it too): emptied on log-out.
const API_CACHE = "fieldcheck-api";

const bar = document.getElementById("bar");
const root = document.getElementById("app");

const state = {
  session: null, // { token, expires_at, user: { id, username, name, role, park_ids } }
  offline: !navigator.onLine,
  notice: null, // an i18n key shown on the login screen (why the user is there)
  persistence: null, // the answer to navigator.storage.persist(), asked after login
};
let leaveScreen = null;
let renders = 0; // a desk screen still loading is not shown once another render began

function routeName() {
  return location.hash.replace(/^#\/?/, "").split("/")[0] || landing();
}

function routeArg() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, "").split("/").slice(1).join("/"));
}

function mayOpen(name) {
  return Boolean(state.session && DESK[name] && DESK[name].roles.includes(state.session.user.role));
}

// Where a user starts: a legal reviewer on the legal review queue, a scheduler on the patrol
// plan, supervisors and admins on the findings queue, everyone else on home.
function landing() {
  const role = state.session && state.session.user.role;
  if (role === "legal_reviewer") return "legal";
  if (role === "scheduler") return "planner";
  return mayOpen("queue") ? "queue" : "home";
}

function go(name) {
  if ((location.hash.replace(/^#\/?/, "") || routeName()) === name) render();
  else location.hash = `#/${name}`;
}

function setOffline(offline) {
  state.offline = offline;
  const badge = document.getElementById("offline-badge");
  if (badge) badge.hidden = !offline;
}

function renderBar() {
  const other = lang() === "zh-CN" ? "en" : "zh-CN";
  bar.replaceChildren(
    h("h1", { class: "bar-title", text: t("app.title") }),
    h("span", {
      id: "offline-badge", class: "badge badge-offline", role: "status", hidden: !state.offline,
      title: t("badge.offline.title"), text: t("badge.offline"),
    }),
    // replaceChildren writes a null as the text "null": an empty string where there is no outbox.
    mayOpen("outbox") ? h("a", { id: "outbox-badge", class: "badge badge-outbox", href: "#/outbox", "aria-live": "polite" }) : "",
    h("button", {
      id: "lang-switch", class: "bar-button", type: "button", lang: other,
      "aria-label": t("lang.switch.label"), onclick: () => setLang(other), text: t("lang.switch"),
    }),
  );
}

// The outbox's state in the header, on every screen: waiting, sending, held, or all sent.
function paintOutbox(s) {
  const badge = document.getElementById("outbox-badge");
  if (!badge || !s || s.records === undefined) return;
  badge.textContent = outbox.badgeText(s);
  badge.dataset.state = outbox.badgeState(s);
  badge.title = outbox.summary(s);
  badge.setAttribute("aria-label", `${t("outbox.heading")}: ${outbox.summary(s)}`);
}
let lastOutbox = null;

// The outbox drains from the moment an inspector is known (on start, online, visible, ...).
function startOutbox() {
  if (!mayOpen("outbox")) return;
  if (lastOutbox) {
    outbox.drain(); // another inspector logged in on this page: what is theirs goes now
    return;
  }
  lastOutbox = {};
  outbox.subscribe((s) => {
    lastOutbox = s;
    paintOutbox(s);
  });
  outbox.start();
}

function render() {
  if (leaveScreen) leaveScreen();
  leaveScreen = null;
  const shown = ++renders;
  document.title = t("app.title");
  renderBar();
  paintOutbox(lastOutbox);
  const asked = routeName();
  const name = ROUTES[asked] || DESK[asked] ? asked : "home";
  if (!state.session && name !== "login") return go("login");
  if (state.session && name === "login") return go(landing());
  if (DESK[name] && !mayOpen(name)) return go(landing());
  root.replaceChildren();
  if (ROUTES[name]) {
    leaveScreen = ROUTES[name].render(root, ctx) || null;
    return undefined;
  }
  DESK[name].load().then((screen) => {
    if (shown === renders) leaveScreen = screen.render(root, ctx, routeArg()) || null;
  }, () => {
    if (shown === renders) root.replaceChildren(h("p", { class: "screen error", role: "alert", text: t("error.offline") }));
  });
  return undefined;
}

async function askPersistence() {
  if (!navigator.storage || !navigator.storage.persist) return false;
  try {
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return false;
  }
}

// Forget everything this user left on the phone (a later outbox keeps its own store, untouched).
async function forget() {
  state.session = null;
  state.persistence = null;
  setToken(null);
  await store.clear("session");
  await store.clear("data");
  if ("caches" in window) await caches.delete(API_CACHE);
}

// What screens may use; they never reach into app state otherwise.
const ctx = {
  get session() {
    return state.session;
  },
  get notice() {
    return state.notice;
  },
  get offline() {
    return state.offline;
  },
  setOffline,
  go,
  mayOpen,
  // Whether the browser keeps our storage. Asked right after login only (Firefox asks the
  // user each time), read back without asking when the app starts already logged in.
  persistence() {
    if (!state.persistence) {
      state.persistence = navigator.storage && navigator.storage.persisted
        ? navigator.storage.persisted().catch(() => false) : Promise.resolve(false);
    }
    return state.persistence;
  },
  async signIn({ token, expires_at: expiresAt, user }) {
    state.session = { token, expires_at: expiresAt, user };
    state.notice = null;
    setToken(token);
    await store.put("session", state.session, "current");
    state.persistence = askPersistence();
    startOutbox();
    go(landing());
  },
  async signOut() {
    try {
      await api.delete("/api/auth/token");
    } catch {
      // Offline or already revoked: the phone forgets the token all the same; it expires on the server.
    }
    await forget();
    go("login");
  },
};

async function boot() {
  onUnauthorized(async () => {
    if (!state.session) return;
    await forget();
    state.notice = "login.expired";
    go("login");
  });
  try {
    state.session = (await store.get("session", "current")) || null;
  } catch {
    state.session = null; // private mode without IndexedDB: the user logs in each time
  }
  // An expired token is not dropped here: offline in the field, the cached day stays usable,
  // and the first answered call with it comes back 401 and leads to the login.
  setToken(state.session && state.session.token);
  window.addEventListener("hashchange", render);
  window.addEventListener("online", () => setOffline(false));
  window.addEventListener("offline", () => setOffline(true));
  onLangChange(render);
  render();
  startOutbox();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch((err) => console.warn("service worker not registered", err));
  }
}

boot();
