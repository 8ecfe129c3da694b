// The outbox: what waits for the server and why, what the server answered (its tiers replace
// the phone's 预判), visits still being recorded, and the ways out: send now, export to a file.
import { h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { named, word } from "../field.js";
import { keptDay } from "../day.js";
import {
  drain, exportUnsent, retry, retryPhoto, status, storageHealth, subscribe, summary, why,
} from "../outbox.js";
import { store } from "../store.js";
import { tierBadge } from "../tier.js";

const RECEIPTS_SHOWN = 30;

export function render(root, ctx) {
  let alive = true;
  let day = null;
  const summaryLine = h("p", { id: "outbox-summary", role: "status" });
  const progress = h("p", { id: "outbox-progress", class: "muted", "aria-live": "polite" });
  const errorLine = h("p", { id: "outbox-error", class: "error" });
  const warnings = h("div", { id: "outbox-warnings" });
  const waiting = h("ul", { id: "outbox-records", class: "records" });
  const heldPhotos = h("ul", { id: "outbox-photos", class: "records" });
  const drafts = h("ul", { id: "outbox-drafts", class: "records" });
  const receipts = h("ul", { id: "outbox-receipts", class: "records" });
  const sendButton = h("button", { id: "outbox-send", type: "button", class: "primary", onclick: () => drain() },
    t("outbox.send"));
  const exportButton = h("button", { id: "outbox-export", type: "button", class: "secondary", onclick: () => save() },
    t("outbox.export"));
  const exportNote = h("p", { id: "outbox-export-note", class: "muted", role: "status" });

  root.append(h("div", { class: "screen outbox" },
    h("h2", { text: t("outbox.heading") }),
    summaryLine, progress, errorLine, warnings,
    h("section", {}, h("h3", { text: t("outbox.waiting") }), waiting, heldPhotos),
    h("section", {}, h("h3", { text: t("outbox.drafts") }), drafts),
    h("section", {}, h("h3", { text: t("outbox.acknowledged") }), receipts),
    exportNote,
    h("div", { class: "actions" }, sendButton, exportButton)));

  async function save() {
    const n = await exportUnsent(ctx.session.user);
    exportNote.textContent = t("outbox.exported", n);
  }

  function findingLine(f, prelim, server) {
    const row = day && (day.catalogue || []).find((r) => r.code === f.violation_code);
    return h("li", { class: "finding-line", "data-finding-id": f.id },
      h("span", { text: f.violation_code ? (row ? named(row) : f.violation_code) : t("finding.advisory") }),
      server ? h("span", { class: "server-tier", "data-tier": server.final_tier, "data-rule": server.rule_id },
        h("span", { class: "prelim-label", text: t("outbox.server_tier") }), tierBadge(server.final_tier, server.rule_id))
        : prelim ? h("span", { class: "prelim-tier", "data-tier": prelim.tier, "data-rule": prelim.rule_id },
          h("span", { class: "prelim-label", text: t("finding.prelim") }), tierBadge(prelim.tier, prelim.rule_id)) : null);
  }

  function recordRow(entry) {
    const { record } = entry;
    const state = entry.state || "waiting";
    return h("li", { class: "outbox-record", "data-record-id": entry.id, "data-state": state },
      h("div", { class: "record-head" },
        h("strong", { text: entry.site_name || String(record.site_id) }),
        h("span", { class: `record-state state-${state}`, text: t(`outbox.state.${state}`) })),
      h("span", { class: "muted", text: [formatDateTime(record.finished_at), t("outbox.record.counts", {
        findings: record.findings.length, results: record.results.length })].join(t("list.separator")) }),
      h("ul", { class: "finding-lines" }, record.findings.map((f) => findingLine(f, (entry.preliminary || {})[f.id], null))),
      entry.message ? h("p", { class: "error", text: t("outbox.server_said", { message: entry.message }) }) : null,
      entry.user && entry.user.id !== ctx.session.user.id
        ? h("p", { class: "warning", text: t("outbox.other_user", { name: entry.user.name }) }) : null,
      state !== "waiting" ? h("button", { type: "button", class: "secondary small", onclick: () => retry(entry.id) },
        t("outbox.retry")) : null);
  }

  function photoRow(photo) {
    return h("li", { class: "outbox-record", "data-photo-id": photo.id, "data-state": photo.state },
      h("div", { class: "record-head" },
        h("strong", { text: t("outbox.photo") }),
        h("span", { class: `record-state state-${photo.state}`, text: t(`outbox.state.${photo.state}`) })),
      photo.message ? h("p", { class: "error", text: t("outbox.server_said", { message: photo.message }) }) : null,
      h("button", { type: "button", class: "secondary small", onclick: () => retryPhoto(photo.id) }, t("outbox.retry")));
  }

  function receiptRow(r) {
    const findings = (r.receipt && r.receipt.findings) || [];
    const proof = r.receipt && r.receipt.on_site;
    return h("li", { class: "outbox-record", "data-record-id": r.id, "data-state": "acknowledged" },
      h("div", { class: "record-head" },
        h("strong", { text: r.site_name || String(r.site_id) }),
        h("span", { class: "record-state state-acknowledged", text: t("outbox.state.acknowledged") })),
      h("span", { class: "muted", text: [formatDateTime(r.acked_at), proof ? word("verdict", proof.verdict) : null]
        .filter(Boolean).join(t("list.separator")) }),
      h("ul", { class: "finding-lines" }, findings.map((f) => findingLine(f, (r.preliminary || {})[f.id], f))),
      findings.some((f) => f.photos_waiting) && !r.photos_sent ? h("p", { class: "muted", text: t("outbox.photos_follow") }) : null);
  }

  async function show() {
    const [records, photos, draftList, acked] = await Promise.all([
      store.getAll("outbox"), store.getAll("photos"), store.getAll("drafts"), store.getAll("receipts")]);
    if (!alive) return;
    const queued = records.sort((a, b) => a.queued_at.localeCompare(b.queued_at));
    waiting.replaceChildren(...queued.map(recordRow));
    if (!queued.length) waiting.replaceChildren(h("li", { class: "empty", text: t("outbox.waiting.none") }));
    heldPhotos.replaceChildren(...photos.filter((p) => p.state === "rejected" || p.state === "conflict").map(photoRow));
    drafts.replaceChildren(...draftList.map((d) => h("li", { class: "outbox-record" },
      h("a", { href: `#/visit/${d.id}` }, h("strong", { text: d.site_name }),
        h("span", { class: "muted", text: t("outbox.draft.since", { when: formatDateTime(d.started_at) }) })))));
    if (!draftList.length) drafts.replaceChildren(h("li", { class: "empty", text: t("outbox.drafts.none") }));
    const recent = acked.sort((a, b) => b.acked_at.localeCompare(a.acked_at)).slice(0, RECEIPTS_SHOWN);
    receipts.replaceChildren(...recent.map(receiptRow));
    if (!recent.length) receipts.replaceChildren(h("li", { class: "empty", text: t("outbox.acknowledged.none") }));
  }

  function onStatus(s) {
    if (!alive) return;
    summaryLine.textContent = summary(s, { withWhy: false });
    progress.textContent = s.sending ? (s.sending.total ? t(`outbox.progress.${s.sending.phase}`, s.sending)
      : t("outbox.badge.sending.start")) : (s.lastSuccessAt ? t("outbox.last_success", { when: formatDateTime(s.lastSuccessAt) }) : "");
    errorLine.textContent = why(s);
    sendButton.disabled = Boolean(s.sending);
    sendButton.textContent = s.sending ? t("outbox.sending") : t("outbox.send");
    warningsFor(s);
    show();
  }

  let health = null;
  function warningsFor(s) {
    const notes = [];
    if (s.earlierDay) notes.push(t("outbox.earlier_day"));
    if (health && health.persisted === false) notes.push(t("storage.not_persistent"));
    if (health && health.nearQuota) notes.push(t("storage.near_quota", { pct: Math.round((health.usage / health.quota) * 100) }));
    warnings.replaceChildren(...notes.map((n) => h("p", { class: "warning", text: n })));
  }

  keptDay().then((kept) => { day = kept && kept.body; });
  const stop = subscribe(onStatus);
  storageHealth().then((hl) => {
    health = hl;
    status().then(onStatus, () => {});
  });
  return () => {
    alive = false;
    stop();
  };
}
