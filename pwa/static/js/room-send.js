// The composer's sending: each message gets a client_id once, goes over
// XMLHttpRequest (upload progress for files), and a failed one waits in the
// outbox with a Retry button that resends the same client_id, so the server
// stores it once however many times it is tried.

import { errorText } from "./api.js";
import { t } from "./config.js";
import { el } from "./dom.js";

const MEDIA_KINDS = ["image", "audio", "video"];

/** A fresh id for one message (random; the server keeps the first use). */
export function newClientId() {
  if (window.crypto && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The `_xsrf` cookie, as api.js reads it: XMLHttpRequest needs the header too.
function xsrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "_xsrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

function fileKind(file) {
  const major = (file.type || "").split("/")[0];
  return MEDIA_KINDS.includes(major) ? major : null;
}

function bodyOf({ clientId, text, file }) {
  if (!file) return JSON.stringify({ client_id: clientId, text });
  const form = new FormData();
  form.append("client_id", clientId);
  if (text) form.append("text", text);
  const kind = fileKind(file);
  if (kind) form.append("kind", kind);
  form.append("file", file, file.name);
  return form;
}

function failure(xhr) {
  let data = null;
  try {
    data = JSON.parse(xhr.responseText);
  } catch {
    // no JSON: the status says enough
  }
  return {
    status: xhr.status,
    reason:
      (data && data.reason) || (xhr.status ? "http_" + xhr.status : "network"),
    message:
      (data && data.message) ||
      t(xhr.status ? "error.generic" : "error.network"),
  };
}

/** Posts one outgoing message; `onProgress(fraction)` hears the upload. */
function post(url, item, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-XSRFToken", xsrfToken());
    if (!item.file) xhr.setRequestHeader("Content-Type", "application/json");
    if (xhr.upload) {
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
    }
    xhr.addEventListener("load", () => {
      if (xhr.status === 200 || xhr.status === 201) {
        resolve(JSON.parse(xhr.responseText).message);
      } else {
        reject(failure(xhr));
      }
    });
    xhr.addEventListener("error", () => reject(failure(xhr)));
    xhr.send(bodyOf(item));
  });
}

export class Outbox {
  /** `onSent(message)` hears each stored message (to show it at once). */
  constructor({ roomId, list, onSent }) {
    this.url = `/api/rooms/${encodeURIComponent(roomId)}/messages`;
    this.list = list;
    this.onSent = onSent;
  }

  /** Queues and sends a message; text, a file, or both. */
  send(text, file) {
    const item = { clientId: newClientId(), text, file };
    item.row = this.row(item);
    this.list.append(item.row.node);
    this.attempt(item);
  }

  row(item) {
    const label = item.file ? item.file.name : item.text;
    const progress = el("progress", { max: "1", value: "0" });
    const error = el("span", { class: "room-outbox-error", role: "alert" });
    const retry = el(
      "button",
      { type: "button", class: "btn btn-outline room-retry", hidden: "" },
      t("room.retry"),
    );
    retry.addEventListener("click", () => this.attempt(item));
    const node = el(
      "li",
      { class: "room-outbox-item", "data-client-id": item.clientId },
      el("span", { class: "room-outbox-label" }, label),
      progress,
      error,
      retry,
    );
    return { node, progress, error, retry };
  }

  async attempt(item) {
    const { node, progress, error, retry } = item.row;
    retry.hidden = true;
    error.textContent = "";
    progress.hidden = !item.file;
    progress.value = 0;
    try {
      const message = await post(this.url, item, (part) => {
        progress.value = part;
      });
      node.remove();
      this.onSent(message);
    } catch (problem) {
      progress.hidden = true;
      error.textContent = errorText(problem);
      retry.hidden = false;
    }
  }
}
