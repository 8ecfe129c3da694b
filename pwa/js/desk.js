// What the desk screens (queue, finding, legal review, 721 dashboard) share: the navigation
// (to the screens the user's role may open), words for the API's vocabularies, deadlines in words, and photos
// fetched with the bearer token (an <img src> cannot send it).
import { api } from "./api.js";
import { h } from "./dom.js";
import { addStrings, formatDate, lang, t } from "./i18n.js";

const NAV = ["queue", "legal", "dashboard", "planner", "health", "webhooks", "import", "parks", "enterprises", "people",
  "checklists", "catalogue", "policy"];

// The admin's tabs and the certificate banner are part of every desk screen an admin opens.
addStrings({
  "zh-CN": {
    "desk.nav.parks": "园区",
    "desk.nav.enterprises": "企业",
    "desk.nav.people": "人员",
    "desk.nav.checklists": "检查表",
    "desk.nav.catalogue": "违法行为目录",
    "desk.nav.policy": "政策参数",
    "cert.banner": "执法证提醒：{expiring} 人将在 {days} 天内到期，{expired} 人已过期（过期者不计入执法人员）。",
    "cert.banner.open": "查看人员",
  },
  en: {
    "desk.nav.parks": "Parks",
    "desk.nav.enterprises": "Enterprises",
    "desk.nav.people": "People",
    "desk.nav.checklists": "Checklists",
    "desk.nav.catalogue": "Catalogue",
    "desk.nav.policy": "Policy",
    "cert.banner": "Certificates: {expiring} expire within {days} days, {expired} have expired (expired ones never count as officers).",
    "cert.banner.open": "See people",
  },
});

// An admin is warned on every desk screen, the landing included, while certificates run out
// within the policy's certificate_warning_days (GET /api/certificates/expiring).
function certificateBanner(ctx) {
  const box = h("div", { id: "cert-banner", class: "cert-banner", role: "status", hidden: true });
  api.get("/api/certificates/expiring").then(({ data }) => {
    if (!data || !data.items.length) return;
    box.append(h("span", { text: t("cert.banner", { expiring: data.expiring, expired: data.expired, days: data.warning_days }) }),
      h("a", { href: "#/people/expiring", class: "desk-tab", text: t("cert.banner.open") }));
    box.hidden = false;
  }, () => {});
  return box;
}

export function deskNav(ctx, current) {
  const { user } = ctx.session;
  const links = NAV.filter((name) => ctx.mayOpen(name)).map((name) => h("a", {
    href: `#/${name}`, class: "desk-tab", "aria-current": name === current ? "page" : null, text: t(`desk.nav.${name}`),
  }));
  links.push(h("a", { href: "#/home", class: "desk-tab", text: t("desk.nav.home") }));
  const nav = h("nav", { class: "desk-nav", "aria-label": t("desk.nav.label") },
    h("div", { class: "desk-tabs" }, links),
    h("div", { class: "desk-who" },
      h("span", { id: "user-name", text: user.name }),
      h("span", { id: "user-role", class: "role", text: t(`role.${user.role}`) }),
      h("button", { id: "logout", type: "button", class: "secondary small", onclick: () => ctx.signOut() },
        t("home.logout"))));
  if (user.role !== "admin") return nav;
  const frag = document.createDocumentFragment();
  frag.append(nav, certificateBanner(ctx));
  return frag;
}

// The word for a value of one of the API's vocabularies, or the value itself if the tables lack it.
export function word(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

// A list in the language's way (、 in Chinese).
export function joinList(items) {
  return items.join(t("list.sep"));
}

// "2026-11-26" is a day in the bureau's calendar: read it as that day, not as UTC midnight.
export function parseDay(day) {
  const [y, m, d] = String(day).split("-").map(Number);
  return new Date(y, m - 1, d);
}

export function formatDay(day) {
  return day ? formatDate(parseDay(day)) : "";
}

// The clock in words (UI.md: state always visible, never only colour): expired, today, or days left.
export function clockWords(daysLeft) {
  if (daysLeft === null || daysLeft === undefined) return t("clock.none");
  if (daysLeft < 0) return t(daysLeft === -1 ? "clock.overdue.one" : "clock.overdue", { n: -daysLeft });
  if (daysLeft === 0) return t("clock.today");
  return t(daysLeft === 1 ? "clock.left.one" : "clock.left", { n: daysLeft });
}

export function clockClass(daysLeft) {
  if (daysLeft === null || daysLeft === undefined) return "clock clock-none";
  if (daysLeft < 0) return "clock clock-overdue";
  return daysLeft <= 2 ? "clock clock-soon" : "clock";
}

// The deadline and its clock, e.g. "11月26日 周四" over "逾期 3 天".
export function deadline(day, daysLeft) {
  if (!day) return h("span", { class: clockClass(null), text: t("clock.none") });
  return h("span", { class: clockClass(daysLeft), "data-days-left": daysLeft },
    h("span", { class: "clock-day", text: formatDay(day) }),
    h("span", { class: "clock-words", text: clockWords(daysLeft) }));
}

// Park names by language; the API gives both.
export function parkName(park) {
  if (!park) return "";
  return (lang() === "en" && park.name_en) || park.name_zh || park.code || "";
}

export function violationName(v) {
  if (!v) return t("finding.advisory");
  return (lang() === "en" && v.name_en) || v.name_zh || v.code;
}

// Photos: fetched with the token when they come into view, shown from blob: URLs (the page's
// Content-Security-Policy allows them), released when the screen is left.
export function photoLoader(token) {
  const made = [];
  const seen = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        seen.unobserve(entry.target);
        load(entry.target, entry.target.dataset.src);
      }
    }, { rootMargin: "200px" })
    : null;

  async function blobUrl(src) {
    const resp = await fetch(src, { headers: { Authorization: `Bearer ${token}` } });
    if (!resp.ok) throw new Error(String(resp.status));
    const url = URL.createObjectURL(await resp.blob());
    made.push(url);
    return url;
  }

  async function load(img, src) {
    try {
      img.src = await blobUrl(src);
    } catch {
      img.classList.add("photo-missing");
    }
  }

  return {
    // An <img> that loads itself once near the viewport.
    img(src, alt, cls = "thumb") {
      const img = h("img", { class: cls, alt, "data-src": src, loading: "lazy", decoding: "async" });
      if (seen) seen.observe(img);
      else load(img, src);
      return img;
    },
    // A photo shown large in a dialog (Escape or the button closes it).
    async show(src, alt) {
      const img = h("img", { class: "photo-large", alt });
      const dialog = h("dialog", { class: "photo-dialog", onclose: () => dialog.remove() },
        h("form", { method: "dialog" }, h("button", { class: "secondary small", text: t("photo.close") })), img);
      document.body.append(dialog);
      dialog.showModal();
      await load(img, src);
    },
    destroy() {
      if (seen) seen.disconnect();
      for (const url of made) URL.revokeObjectURL(url);
    },
  };
}
