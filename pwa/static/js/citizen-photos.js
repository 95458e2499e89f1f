// Up to four photos for an alarm: chosen from the camera or the gallery,
// previewed, and checked here as the server will check them, so that the
// citizen learns of a problem before sending rather than after.

import { t } from "./config.js";
import { el, setStatus } from "./dom.js";

// The server's limits (server/media.py): four photos of at most 8 MiB each.
const MAX_PHOTOS = 4;
const MAX_PHOTO_BYTES = 8 * 1024 * 1024;
// The server refuses requests over 25 MiB; the form fields need a little room.
const MAX_TOTAL_BYTES = 24 * 1024 * 1024;
// What the server decodes. An empty type (some Android pickers) is let through
// for the server to judge by the content.
const ACCEPTED_TYPES = new Set(["image/jpeg", "image/png", "image/webp", ""]);

/** True when this browser can pick files at all (old iOS WebViews cannot). */
export function fileInputSupported() {
  const probe = document.createElement("input");
  probe.type = "file";
  return probe.type === "file" && !probe.disabled && "FileReader" in window;
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** The chosen photos, their previews and the checks on them. */
export class PhotoPicker {
  constructor({ input, list, status }) {
    this.input = input;
    this.list = list;
    this.status = status;
    this.items = []; // {file, url}
    input.addEventListener("change", () => this.add(input.files));
  }

  get files() {
    return this.items.map((item) => item.file);
  }

  /** Adds the files the citizen picked, refusing those that break a limit. */
  add(fileList) {
    const problems = [];
    let total = this.items.reduce((sum, item) => sum + item.file.size, 0);
    for (const file of Array.from(fileList || [])) {
      const problem = this.check(file, total);
      if (problem) {
        problems.push(problem);
        continue;
      }
      total += file.size;
      this.items.push({ file, url: URL.createObjectURL(file) });
    }
    // Clearing the input lets the same file be picked again after removal.
    this.input.value = "";
    setStatus(this.status, problems.join(" "), "warning");
    this.render();
  }

  check(file, total) {
    if (this.items.length >= MAX_PHOTOS) {
      return t("citizen.photos.too_many", { max: MAX_PHOTOS });
    }
    if (!ACCEPTED_TYPES.has(file.type)) {
      return t("citizen.photos.bad_type", { name: file.name });
    }
    if (file.size > MAX_PHOTO_BYTES) {
      return t("citizen.photos.too_big", {
        name: file.name,
        max: megabytes(MAX_PHOTO_BYTES),
      });
    }
    if (total + file.size > MAX_TOTAL_BYTES) {
      return t("citizen.photos.total_too_big", {
        max: megabytes(MAX_TOTAL_BYTES),
      });
    }
    return "";
  }

  remove(index) {
    const [item] = this.items.splice(index, 1);
    if (item) URL.revokeObjectURL(item.url);
    setStatus(this.status, "");
    this.render();
  }

  clear() {
    for (const item of this.items) URL.revokeObjectURL(item.url);
    this.items = [];
    setStatus(this.status, "");
    this.render();
  }

  render() {
    const rows = this.items.map((item, index) => {
      const remove = el(
        "button",
        {
          type: "button",
          class: "photo-remove",
          "aria-label": t("citizen.photos.remove", { n: index + 1 }),
        },
        "×",
      );
      remove.addEventListener("click", () => this.remove(index));
      const img = el("img", {
        src: item.url,
        alt: t("alarm.photo", { n: index + 1 }),
      });
      return el("li", { class: "photo-preview" }, img, remove);
    });
    this.list.replaceChildren(...rows);
    this.list.hidden = rows.length === 0;
    this.input.disabled = this.items.length >= MAX_PHOTOS;
  }
}
