// A tier looks the same everywhere (UI.md): service green, management amber, enforcement red,
// always with its word and, where one decided it, the rule id: never the colour alone.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const TIERS = ["service", "management", "enforcement"];

// <span class="tier tier-management">管理 · T4</span>
export function tierBadge(tier, ruleId = null) {
  const word = t(`tier.${tier}`);
  return h("span", {
    class: `tier tier-${tier}`, "data-tier": tier, title: t("tier.title", { tier: word }),
    text: ruleId ? `${word} · ${ruleId}` : word,
  });
}

// The classifier's suggestion and the final tier; one badge when they agree, "suggested → final" when not.
export function tierChange(suggested, final, ruleId) {
  if (!suggested || suggested === final) return tierBadge(final, ruleId);
  return h("span", { class: "tier-change", title: t("tier.changed.title") },
    tierBadge(suggested, ruleId), h("span", { class: "tier-arrow", "aria-label": t("tier.changed.to"), text: "→" }),
    tierBadge(final));
}
