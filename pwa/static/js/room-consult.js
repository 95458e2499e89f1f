// "Consult experts" on the officer's job screen: pick experts from the
// agency's directory and open a consultation room about the alarm.

import { errorText, getJson, postJson } from "./api.js";
import { categoryName } from "./alarm-format.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";

function expertChoice(expert) {
  const label = expert.category
    ? `${expert.name} · ${expert.category}`
    : expert.name;
  return el(
    "label",
    { class: "check consult-choice" },
    el("input", { type: "checkbox", name: "expert", value: expert.id }),
    ` ${label}`,
  );
}

export class ConsultButton {
  /** `alarm()` gives the alarm of the job now on screen (or null). */
  constructor({ alarm }) {
    this.alarm = alarm;
    this.status = byId("consult-status");
    byId("consult-open").addEventListener("click", () => this.pick());
    byId("consult-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.open();
    });
  }

  async pick() {
    try {
      const { experts } = await getJson("/api/experts");
      const usable = experts.filter((e) => !e.suspended);
      byId("consult-experts").replaceChildren(...usable.map(expertChoice));
      setStatus(this.status, usable.length ? "" : t("officer.consult.none"), "info");
      byId("consult-form").hidden = usable.length === 0;
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }

  async open() {
    const alarm = this.alarm();
    if (!alarm) return;
    const boxes = byId("consult-experts").querySelectorAll("input:checked");
    const invite = [...boxes].map((box) => box.value);
    if (!invite.length) {
      setStatus(this.status, t("room.invite_none"), "warning");
      return;
    }
    const title = t("officer.consult.room_title", {
      category: categoryName(alarm.category),
    });
    byId("consult-start").disabled = true;
    try {
      const { room } = await postJson("/api/rooms", {
        title,
        description: alarm.description || "",
        alarm_id: alarm.id,
        invite,
      });
      location.assign(`/rooms/${encodeURIComponent(room.id)}`);
    } catch (error) {
      byId("consult-start").disabled = false;
      setStatus(this.status, errorText(error), "error");
    }
  }
}
