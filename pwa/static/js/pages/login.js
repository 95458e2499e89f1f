// Staff sign-in: posts the form as JSON and goes on to `next`, or to the desk
// of the user's main role.

import { errorText, postJson } from "../api.js";
import { t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { startPage } from "../shell.js";

// Where each role works, in order of preference for someone holding several.
const HOME_BY_ROLE = [
  ["commander", "/command"],
  ["officer", "/officer"],
  ["admin", "/admin"],
  ["platform_admin", "/admin"],
  ["expert", "/expert"],
];

/**
 * `next` if it is a path on this site, else null. Besides "//host", browsers
 * read "/\host" and paths with tabs or newlines as other hosts, so the final
 * word belongs to the URL parser.
 */
function safeNext(next) {
  if (!next || !next.startsWith("/") || next.startsWith("//")) return null;
  const url = new URL(next, location.origin);
  if (url.origin !== location.origin) return null;
  return url.pathname + url.search + url.hash;
}

function homeFor(user) {
  const roles = new Set(user.roles || []);
  const match = HOME_BY_ROLE.find(([role]) => roles.has(role));
  return match ? match[1] : "/";
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = byId("login-submit");
  const status = byId("login-status");
  button.disabled = true;
  button.textContent = t("login.working");
  setStatus(status, "");
  try {
    const { user } = await postJson("/api/auth/login", {
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
    });
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    location.assign(next || homeFor(user));
  } catch (error) {
    setStatus(status, errorText(error), "error");
    button.disabled = false;
    button.textContent = t("login.submit");
    form.elements.password.select();
  }
}

startPage();
byId("login-form").addEventListener("submit", submit);
