// One finding of a visit: the violation (the catalogue filtered by the failed item's domain,
// with a search box), severity, harm, the circumstances, a note, photos from the camera, and
// the preliminary tier (预判) computed on the phone from the same rule table as the server.
import { catalogueRow, itemsByCode, keptDay } from "../day.js";
import { h } from "../dom.js";
import { lang, t } from "../i18n.js";
import { back, itemText, named, preliminaryCard, word } from "../field.js";
import { PhotoError, preparePhoto } from "../photos.js";
import {
  CIRCUMSTANCES, HARMS, SEVERITIES, change, earlierVisits, findingOf, keepPhoto, lastAction, loadDraft, photoOf,
  preliminary, undo,
} from "../visits.js";

function pressed(on) {
  return on ? "true" : "false";
}

export function render(root, ctx, visitId, findingId) {
  let alive = true;
  let day = null;
  let draft = null;
  let earlier = [];
  let query = "";
  const urls = new Map(); // photo id -> object URL of its Blob

  const box = h("div", { class: "screen finding-edit" });
  root.append(box);

  const search = h("input", {
    id: "violation-search", type: "search", placeholder: t("finding.search"), "aria-label": t("finding.search"),
    oninput: () => { query = search.value.trim().toLowerCase(); showViolations(); },
  });
  const violations = h("ul", { id: "violations", class: "violations" });
  const chosenRow = h("p", { id: "violation-basis", class: "muted" });
  const severity = h("div", { id: "severity", class: "segmented", role: "group", "aria-label": t("finding.severity") });
  const harm = h("div", { id: "harm", class: "segmented", role: "group", "aria-label": t("finding.harm") });
  const circumstances = h("div", { id: "circumstances", class: "toggles" });
  const note = h("textarea", { id: "finding-note", rows: "3", placeholder: t("finding.note.hint"),
    onchange: () => saveNote() });
  const photoInput = h("input", { id: "photo-input", type: "file", accept: "image/*", capture: "environment", hidden: true,
    onchange: () => takePhotos() });
  const photoButton = h("button", { id: "take-photo", type: "button", class: "secondary", onclick: () => photoInput.click() },
    t("finding.photo.take"));
  const photoStatus = h("p", { id: "photo-status", class: "muted", role: "status" });
  const photos = h("ul", { id: "photos", class: "photos" });
  const prelim = h("div", { id: "prelim-box" });
  const prelimWhy = h("section", { id: "prelim-why", class: "block", hidden: true },
    h("h3", { text: t("finding.prelim.why") }), h("p", {}));
  const undoButton = h("button", { id: "undo", type: "button", class: "secondary", onclick: () => undoLast() });

  const finding = () => findingOf(draft, findingId);

  async function act(action, fn, opts) {
    const next = await change(visitId, action, (d) => {
      const f = findingOf(d, findingId);
      if (f) fn(f, d);
    }, opts);
    if (!alive || !next) return;
    draft = next;
    update();
  }

  async function undoLast() {
    const next = await undo(visitId);
    if (!alive || !next) return;
    draft = next;
    if (!finding()) {
      ctx.go(`visit/${visitId}`); // the undo took back the fail that made this finding
      return;
    }
    note.value = finding().note;
    noteSaved = null;
    update();
  }

  // A note is one change when the field is left (one undo step, not one per letter); the app
  // going to the background or the screen being left saves it too.
  let noteSaved = null; // the value last saved: the field's change and the screen's leaving may both ask
  function saveNote() {
    const value = note.value;
    if (!draft || !finding() || value === (noteSaved ?? finding().note)) return;
    noteSaved = value;
    act("action.note", (f) => { f.note = value; });
  }
  const onHide = () => { if (document.visibilityState === "hidden") saveNote(); };
  document.addEventListener("visibilitychange", onHide);

  function item() {
    return itemsByCode(day).get(finding().item) || { code: finding().item, domain: finding().domain };
  }

  function showViolations() {
    const f = finding();
    const rows = (day.catalogue || []).filter((r) => r.domain === f.domain)
      .filter((r) => !query || `${r.code} ${r.name_zh} ${r.name_en}`.toLowerCase().includes(query));
    const choose = (code) => act("action.violation", (x) => {
      x.advisory = code === null;
      x.violation_code = code;
      if (code !== null && x.severity === "advisory") x.severity = null;
    });
    violations.replaceChildren(
      ...rows.map((r) => h("li", {}, h("button", {
        type: "button", class: "violation", "data-code": r.code, "aria-pressed": pressed(f.violation_code === r.code),
        onclick: () => choose(r.code),
      }, h("span", { class: "violation-name", text: named(r) }), h("span", { class: "violation-code", text: r.code })))),
      ...(rows.length ? [] : [h("li", { class: "empty", text: t("finding.violation.none") })]),
      h("li", {}, h("button", {
        type: "button", class: "violation advisory", "data-code": "", "aria-pressed": pressed(f.advisory),
        onclick: () => choose(null),
      }, h("span", { class: "violation-name", text: t("finding.advisory") }))));
    const row = f.violation_code && catalogueRow(day, f.violation_code);
    chosenRow.textContent = row ? t("finding.basis", {
      violated: row.violated_provision || "—", penalty: row.penalty_provision || "—",
      days: row.correction_days, unit: word("unit", row.correction_unit),
    }) : "";
  }

  function segmented(el, values, current, action, field) {
    el.replaceChildren(...values.map((v) => h("button", {
      type: "button", "data-value": v, "aria-pressed": pressed(current === v),
      onclick: () => act(action, (f) => { f[field] = v; }),
    }, word(field, v))));
  }

  function showPhotos() {
    const f = finding();
    photos.replaceChildren(...f.photo_ids.map((id) => {
      const img = h("img", { class: "photo-thumb", alt: t("finding.photo.alt") });
      if (urls.has(id)) img.src = urls.get(id);
      else {
        photoOf(id).then((p) => {
          if (!p || !alive) return;
          const url = URL.createObjectURL(p.blob);
          urls.set(id, url);
          img.src = url;
        });
      }
      return h("li", { class: "photo", "data-photo-id": id }, img,
        h("button", { type: "button", class: "secondary small photo-remove",
          onclick: () => act("action.photo_remove", (x) => { x.photo_ids = x.photo_ids.filter((p) => p !== id); }) },
        t("finding.photo.remove")));
    }));
    photoStatus.textContent = t("finding.photo.count", { n: f.photo_ids.length });
  }

  async function takePhotos() {
    const files = [...photoInput.files];
    photoInput.value = "";
    for (const file of files) {
      photoStatus.textContent = t("finding.photo.working");
      try {
        const prepared = await preparePhoto(file, day.limits || {});
        const photo = await keepPhoto(draft, prepared, { findingId, purpose: "finding", fix: draft.fix });
        await act("action.photo_add", (f) => { f.photo_ids = [...f.photo_ids, photo.id]; });
      } catch (err) {
        photoStatus.textContent = t(err instanceof PhotoError && err.reason === "too_large" ? "finding.photo.too_large"
          : "finding.photo.unreadable");
        return;
      }
    }
  }

  function update() {
    const f = finding();
    showViolations();
    segmented(severity, f.advisory ? ["advisory", ...SEVERITIES] : SEVERITIES, f.severity, "action.severity", "severity");
    segmented(harm, HARMS, f.harm, "action.harm", "harm");
    circumstances.replaceChildren(...CIRCUMSTANCES.map((c) => h("button", {
      type: "button", class: "toggle", "data-fact": c, "aria-pressed": pressed(f[c]),
      onclick: () => act("action.circumstance", (x) => { x[c] = !x[c]; }),
    }, t(`finding.fact.${c}`))));
    showPhotos();
    // The tier follows every tap: in the bar at the bottom, always in sight; the reason in full above it.
    const result = preliminary(day, draft, f, earlier);
    prelim.replaceChildren(preliminaryCard(result, { id: "prelim", compact: true }));
    prelimWhy.hidden = !result;
    prelimWhy.lastChild.textContent = result ? (lang() === "en" ? result.explanation_en : result.explanation_zh) : "";
    const action = lastAction(draft);
    undoButton.disabled = !action;
    undoButton.textContent = action ? t("visit.undo.action", { action: t(action) }) : t("visit.undo");
  }

  async function start() {
    const [kept, stored, known] = await Promise.all([keptDay(), loadDraft(visitId), earlierVisits()]);
    if (!alive) return;
    day = kept && kept.body;
    draft = stored;
    earlier = known;
    if (!day || !draft || !finding()) {
      box.replaceChildren(back(`#/visit/${visitId}`, t("nav.visit")), h("p", { class: "muted", text: t("visit.unknown") }));
      return;
    }
    note.value = finding().note;
    box.replaceChildren(
      back(`#/visit/${visitId}`, t("nav.visit")),
      h("p", { class: "muted", text: [draft.site_name, word("domain", finding().domain)].join(t("list.separator")) }),
      h("h2", { id: "finding-item" }, h("span", { class: "item-code", text: item().code }), itemText(item())),
      h("section", { class: "block" }, h("h3", { text: t("finding.violation") }), search, violations, chosenRow),
      h("section", { class: "block" }, h("h3", { text: t("finding.severity") }), severity),
      h("section", { class: "block" }, h("h3", { text: t("finding.harm") }), harm),
      h("section", { class: "block" }, h("h3", { text: t("finding.circumstances") }), circumstances),
      prelimWhy,
      h("section", { class: "block" }, h("h3", { text: t("finding.photos") }), photoInput, photoButton, photoStatus, photos),
      h("section", { class: "block" }, h("label", { for: "finding-note", text: t("finding.note") }), note),
      h("div", { class: "actions" },
        prelim,
        h("button", { id: "finding-done", type: "button", class: "primary", onclick: () => ctx.go(`visit/${visitId}`) },
          t("finding.done")),
        undoButton));
    update();
  }

  start();
  return () => {
    saveNote();
    alive = false;
    document.removeEventListener("visibilitychange", onHide);
    urls.forEach((u) => URL.revokeObjectURL(u));
  };
}
