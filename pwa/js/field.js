// What the inspector's field screens (today, site, visit, finding, outbox) share: words for the
// API's values, the on-site line, the preliminary tier card, a back link.
import { h } from "./dom.js";
import { lang, t } from "./i18n.js";
import { tierBadge } from "./tier.js";

// The word for a value of a vocabulary, or the value itself when the tables lack it.
export function word(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

// A text the server sent in both languages ({zh, en} or name_zh / name_en).
export function localized(pair) {
  if (!pair) return "";
  return (lang() === "en" ? pair.en : pair.zh) || pair.zh || pair.en || "";
}

export function named(row) {
  if (!row) return "";
  return (lang() === "en" && row.name_en) || row.name_zh || row.name_en || row.code || "";
}

export function itemText(item) {
  return (lang() === "en" && item.text_en) || item.text_zh || item.code;
}

export function metres(m) {
  if (m === null || m === undefined) return "";
  return m >= 1000 ? t("unit.km", { n: (m / 1000).toFixed(1) }) : t("unit.m", { n: Math.round(m) });
}

// "在现场 · 精度 8 米": the verdict, the distance when it matters, the accuracy.
export function proofText(proof, fixState) {
  if (fixState === "pending") return t("fix.pending");
  if (!proof || proof.verdict === "no_fix") return t(fixState === "denied" ? "fix.denied" : "fix.none");
  const accuracy = proof.accuracy_m === null || proof.accuracy_m === undefined ? t("fix.accuracy.unknown")
    : t("fix.accuracy", { m: metres(proof.accuracy_m) });
  const parts = [t(`verdict.${proof.verdict}`)];
  if (proof.verdict !== "on_site") parts.push(t("fix.distance", { m: metres(proof.distance_m) }));
  parts.push(accuracy);
  return parts.join(" · ");
}

// "预判 [执法 · X1] 安全生产领域不适用包容免罚", the full reason a tap away.
export function preliminaryCard(result, { id, compact = false } = {}) {
  if (!result) return h("div", { class: "prelim prelim-none", id, text: t("finding.prelim.none") });
  const head = h("div", { class: "prelim-head" },
    h("span", { class: "prelim-label", text: t("finding.prelim") }),
    tierBadge(result.tier, result.rule_id),
    result.title ? h("span", { class: "prelim-title", text: localized(result.title) }) : null);
  if (compact) return h("div", { class: "prelim compact", id, "data-tier": result.tier, "data-rule": result.rule_id }, head);
  return h("div", { class: "prelim", id, "data-tier": result.tier, "data-rule": result.rule_id },
    head,
    h("details", { class: "prelim-why" },
      h("summary", { text: t("finding.prelim.why") }),
      h("p", { text: lang() === "en" ? result.explanation_en : result.explanation_zh })));
}

export function back(href, label) {
  return h("a", { class: "back", href, text: `‹ ${label}` });
}
