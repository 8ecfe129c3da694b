// Log in: username, password, and the error in words (wrong password, too many tries, offline).
import { api, describeError } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

// Kept across a language switch, which redraws the screen.
let typedUsername = "";

export function render(root, ctx) {
  const error = h("p", { id: "login-error", class: "error", role: "alert" });
  if (ctx.notice) error.textContent = t(ctx.notice);

  const username = h("input", {
    id: "username", name: "username", type: "text", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false", required: true, value: typedUsername,
    oninput: () => { typedUsername = username.value; },
  });
  const password = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = h("button", { id: "login-submit", type: "submit", class: "primary", text: t("login.submit") });

  async function onSubmit(event) {
    event.preventDefault();
    const name = username.value.trim();
    if (!name || !password.value) {
      error.textContent = t("login.missing");
      (name ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t("login.busy");
    error.textContent = "";
    try {
      const answer = await api.post("/api/auth/token", { username: name, password: password.value }, { auth: false });
      typedUsername = "";
      await ctx.signIn(answer);
    } catch (err) {
      error.textContent = err.status === 401 ? t("login.wrong") : describeError(err);
      password.value = "";
      password.focus();
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  }

  root.append(
    h("form", { class: "screen login", novalidate: true, onsubmit: onSubmit },
      h("div", { class: "login-head" },
        h("img", { class: "login-logo", src: "/icons/icon-192.png", alt: "", width: "72", height: "72" }),
        h("h2", { text: t("login.heading") }),
        h("p", { class: "muted", text: t("login.intro") })),
      h("label", { for: "username", text: t("login.username") }),
      username,
      h("label", { for: "password", text: t("login.password") }),
      password,
      error,
      h("div", { class: "actions" }, submit)),
  );
  if (!typedUsername) username.focus();
}
