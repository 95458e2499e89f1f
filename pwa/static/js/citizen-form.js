// The alarm form: what happened (one of the tenant's categories), optional
// words and photos, and one large button that waits three seconds, during
// which a second tap cancels, before the alarm is sent.

import { errorText } from "./api.js";
import { categoryName, useCategories } from "./alarm-format.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { fileInputSupported, PhotoPicker } from "./citizen-photos.js";
import { sendAlarm } from "./citizen-send.js";

// Long enough to notice a mistaken tap, short enough not to feel like a delay.
const COUNTDOWN_S = 3;
// The server's limit on the description (server/alarms.py MAX_DESCRIPTION).
const MAX_DESCRIPTION = 1000;
// Refusals that depend on the place or the time: the place is checked again.
const PLACE_REASONS = new Set(["outside_hours", "outside_territory"]);

export class AlarmForm {
  /** `picker` is the LocationPicker; `onSent(view)` gets the new alarm. */
  constructor({ picker, onSent }) {
    this.picker = picker;
    this.onSent = onSent;
    this.form = byId("alarm-form");
    this.closed = byId("service-closed");
    this.categories = byId("categories");
    this.description = byId("description");
    this.counter = byId("description-count");
    this.button = byId("send-alarm");
    this.status = byId("send-status");
    this.serviceStatus = byId("service-status");
    this.available = false;
    this.countdown = null;
    this.sending = false;
    this.photos = this.setUpPhotos();
    this.description.maxLength = MAX_DESCRIPTION;
    this.description.addEventListener("input", () => this.count());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.press();
    });
    this.count();
  }

  setUpPhotos() {
    if (!fileInputSupported()) {
      byId("photos-field").hidden = true;
      return null;
    }
    return new PhotoPicker({
      input: byId("photos"),
      list: byId("photo-previews"),
      status: byId("photo-status"),
    });
  }

  count() {
    this.counter.textContent = t("citizen.form.count", {
      n: this.description.value.length,
      max: MAX_DESCRIPTION,
    });
  }

  // -- the service at the chosen place ----------------------------------------

  /** The LocationPicker's answer: open the form, or say why it is closed. */
  showService(place, service, error) {
    if (error) {
      this.available = false;
      setStatus(this.serviceStatus, errorText(error), "error");
      this.updateButton();
      return;
    }
    setStatus(this.serviceStatus, "");
    this.available = Boolean(service.available);
    document.body.dataset.service = this.available ? "open" : "closed";
    this.closed.hidden = this.available;
    this.form.hidden = !this.available;
    if (this.available) {
      useCategories(service.categories);
      this.showCategories(service.categories || []);
    } else {
      byId("service-closed-text").textContent = closedText(service);
      this.cancelCountdown();
    }
    this.updateButton();
  }

  showCategories(categories) {
    const chosen = this.chosenCategory();
    const choices = categories.map((category) => {
      const input = el("input", {
        type: "radio",
        name: "category",
        value: category.code,
        id: "category-" + category.code,
      });
      input.checked = category.code === chosen;
      return el(
        "label",
        { class: "choice", for: input.id },
        input,
        el("span", { class: "choice-text" }, categoryName(category.code)),
      );
    });
    this.categories.replaceChildren(...choices);
  }

  chosenCategory() {
    const checked = this.categories.querySelector("input:checked");
    return checked ? checked.value : null;
  }

  // -- sending ----------------------------------------------------------------

  updateButton() {
    if (this.countdown || this.sending) return;
    this.button.disabled = !this.available || !this.picker.fields();
  }

  press() {
    if (this.sending) return;
    if (this.countdown) {
      this.cancelCountdown();
      setStatus(this.status, t("citizen.send.cancelled"));
      return;
    }
    if (!this.chosenCategory()) {
      setStatus(this.status, t("citizen.send.need_category"), "warning");
      this.categories.querySelector("input")?.focus();
      return;
    }
    this.startCountdown();
  }

  startCountdown() {
    let left = COUNTDOWN_S;
    setStatus(this.status, "");
    this.button.classList.add("is-counting");
    this.button.textContent = t("citizen.send.countdown", { n: left });
    this.countdown = setInterval(() => {
      left -= 1;
      if (left > 0) {
        this.button.textContent = t("citizen.send.countdown", { n: left });
        return;
      }
      this.cancelCountdown();
      this.submit();
    }, 1000);
  }

  cancelCountdown() {
    if (!this.countdown) return;
    clearInterval(this.countdown);
    this.countdown = null;
    this.button.classList.remove("is-counting");
    this.button.textContent = t("citizen.send.button");
    this.updateButton();
  }

  async submit() {
    const location = this.picker.fields();
    if (!location) return;
    this.sending = true;
    this.button.disabled = true;
    this.button.textContent = t("citizen.send.sending");
    const fields = {
      category: this.chosenCategory(),
      description: this.description.value.trim(),
      ...location,
    };
    try {
      const alarm = await sendAlarm(
        fields,
        this.photos ? this.photos.files : [],
      );
      this.reset();
      this.onSent(alarm);
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
      this.button.textContent = t("citizen.send.retry");
      if (PLACE_REASONS.has(error.reason)) this.picker.recheck();
    } finally {
      this.sending = false;
      this.updateButton();
    }
  }

  reset() {
    this.description.value = "";
    this.count();
    if (this.photos) this.photos.clear();
    for (const input of this.categories.querySelectorAll("input")) {
      input.checked = false;
    }
    setStatus(this.status, "");
    this.button.textContent = t("citizen.send.button");
  }

  /** Hides the form (while an alarm is followed). */
  hide() {
    this.cancelCountdown();
    this.form.hidden = true;
    this.closed.hidden = true;
    setStatus(this.serviceStatus, "");
    delete document.body.dataset.service;
  }
}

/** Why alarms are not taken at this place now, and where to turn instead. */
function closedText(service) {
  if (service.reason === "outside_hours" && service.service_hours) {
    return t("citizen.service.outside_hours", service.service_hours);
  }
  if (service.reason === "outside_territory") {
    return t("citizen.service.outside_territory");
  }
  return t("citizen.service.unavailable");
}
