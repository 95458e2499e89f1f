// Sending an alarm exactly once. Each submission carries an idempotency key
// that stays in sessionStorage until the server has answered, so a retry
// after a lost answer (a tunnel, a dropped mobile connection, a reload) is
// recognised by the server as the same alarm rather than a second one.

import { ApiError, postJson } from "./api.js";
import { t } from "./config.js";

const KEY_STORAGE = "jingdi.alarm.idempotency_key";

/** A fresh random key: a UUID where the browser offers one. */
function newKey() {
  const crypto = window.crypto;
  // randomUUID exists only in secure contexts and newer WebViews.
  if (crypto && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  if (crypto && typeof crypto.getRandomValues === "function") {
    crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = Math.floor(Math.random() * 256);
    }
  }
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Storage may be missing or refuse writes (private modes, locked-down
// WebViews); the key then lives only as long as this page.
let memoryKey = null;

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return memoryKey;
  }
}

function keepKey(key) {
  memoryKey = key;
  try {
    window.sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // memoryKey holds it
  }
}

function forgetKey() {
  memoryKey = null;
  try {
    window.sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // nothing stored
  }
}

/**
 * Forgets the key of a submission whose alarm is known to exist (found
 * after a reload), so that the next report is a new one.
 */
export function forgetSubmission() {
  forgetKey();
}

/** The key of the submission under way, made on first use. */
function submissionKey() {
  let key = storedKey();
  if (!key) {
    key = newKey();
    keepKey(key);
  }
  return key;
}

/** The value of the `_xsrf` cookie (as api.js reads it for JSON calls). */
function xsrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "_xsrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

async function answerOf(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** POSTs fields and photos as multipart/form-data; errors as in api.js. */
async function postForm(path, fields, photos) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) form.append(name, String(value));
  }
  for (const photo of photos) form.append("photos", photo, photo.name);
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-XSRFToken": xsrfToken() },
    });
  } catch {
    throw new ApiError(t("error.network"), { status: 0, reason: "network" });
  }
  const data = await answerOf(response);
  if (!response.ok) {
    throw new ApiError((data && data.message) || t("error.generic"), {
      status: response.status,
      reason: (data && data.reason) || "http_" + response.status,
    });
  }
  return data;
}

// A refusal (4xx) is a final answer: the alarm was not created, and a new
// attempt is a new submission. No answer, or a server failure, may hide a
// stored alarm, so the key stays for the retry.
function isFinalAnswer(error) {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}

/**
 * Raises the alarm described by `fields` with `photos` (File objects);
 * returns the citizen's view of it. Throws ApiError.
 */
export async function sendAlarm(fields, photos = []) {
  const body = { ...fields, idempotency_key: submissionKey() };
  try {
    const answer = photos.length
      ? await postForm("/api/alarms", body, photos)
      : await postJson("/api/alarms", body);
    forgetKey();
    return answer.alarm;
  } catch (error) {
    if (isFinalAnswer(error)) forgetKey();
    throw error;
  }
}
