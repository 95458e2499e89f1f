// JSON over fetch: same-origin credentials, the XSRF header on every write,
// and one error type carrying the server's {message, reason}.

import { hasMessage, t } from "./config.js";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A refused or failed API call; `reason` is the server's stable code. */
export class ApiError extends Error {
  constructor(message, { status, reason }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** The value of the `_xsrf` cookie that Tornado sets with each page. */
function xsrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "_xsrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null; // a truncated body: the status alone has to do
  }
}

/** Calls `path` and returns its JSON answer; throws ApiError on any failure. */
export async function request(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (WRITE_METHODS.has(method)) {
    headers["X-XSRFToken"] = xsrfToken();
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(t("error.network"), { status: 0, reason: "network" });
  }
  const data = await readJson(response);
  if (!response.ok) {
    const reason = (data && data.reason) || "http_" + response.status;
    const message = (data && data.message) || t("error.generic");
    throw new ApiError(message, { status: response.status, reason });
  }
  return data;
}

export function getJson(path) {
  return request(path);
}

export function postJson(path, body) {
  return request(path, { method: "POST", body });
}

/**
 * The sentence to show for an error: our own translation when the reason is
 * one we know, otherwise the server's message (which may carry details such
 * as how long an account stays locked).
 */
export function errorText(error) {
  if (error && error.reason && hasMessage("error." + error.reason)) {
    return t("error." + error.reason);
  }
  return (error && error.message) || t("error.generic");
}
