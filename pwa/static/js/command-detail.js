// The selected alarm in the command room: what the citizen reported, its
// history with who did what, the officers suggested for it with a dispatch
// button each, and closing with a note.

import { ApiError, errorText, getJson, postJson } from "./api.js";
import { t } from "./config.js";
import { el, formatAge, setStatus } from "./dom.js";
import {
  ACTIVE,
  CLOSABLE,
  REASSIGNABLE,
  ageSeconds,
} from "./command-alarms.js";
import { clockTime, distanceText } from "./command-labels.js";

function alarmPath(id, action = "") {
  return `/api/alarms/${encodeURIComponent(id)}${action ? "/" + action : ""}`;
}

/** The detail panel; `onChanged(view)` hears every newer view it obtains. */
export class AlarmDetail {
  /** `elements`: the ids' elements of the panel in command.html. */
  constructor(elements, labels, onChanged) {
    this.ui = elements;
    this.labels = labels;
    this.onChanged = onChanged;
    this.alarm = null;
    this.suggestionsFor = null; // "<id>/<status>" the list was fetched for
    this.fetchSeq = 0;
    this.busy = false;
    elements.refresh.addEventListener("click", () => this.loadSuggestions());
    elements.closeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.close();
    });
  }

  get id() {
    return this.alarm ? this.alarm.id : null;
  }

  /** Shows `alarm`: a new selection starts afresh, the same one updates. */
  show(alarm) {
    const fresh = alarm.id !== this.id;
    this.alarm = alarm;
    const ui = this.ui;
    if (fresh) {
      setStatus(ui.status, "");
      ui.note.value = "";
      ui.suggestions.replaceChildren();
      this.suggestionsFor = null;
    }
    ui.panel.hidden = false;
    this.drawBody();
    const active = ACTIVE.includes(alarm.status);
    ui.closeForm.hidden = !CLOSABLE.includes(alarm.status);
    ui.suggestionsBox.hidden = !REASSIGNABLE.includes(alarm.status);
    if (!active) {
      setStatus(
        ui.status,
        t("command.detail.ended", {
          status: this.labels.status(alarm.status),
        }),
      );
    }
    const key = `${alarm.id}/${alarm.status}`;
    if (!ui.suggestionsBox.hidden && this.suggestionsFor !== key) {
      this.suggestionsFor = key;
      this.loadSuggestions();
    }
  }

  hide() {
    this.alarm = null;
    this.ui.panel.hidden = true;
  }

  /** Recounts the age in the panel's facts. */
  tick(now = Date.now()) {
    const age = this.ui.body.querySelector("[data-age]");
    if (!age || !this.alarm) return;
    const text = t("command.queue.age", {
      age: formatAge(ageSeconds(this.alarm, now)),
    });
    if (age.textContent !== text) age.textContent = text;
  }

  // -- what the alarm is ----------------------------------------------------

  drawBody() {
    const { alarm, labels, ui } = this;
    ui.title.replaceChildren(
      el("span", {}, labels.category(alarm.category)),
      el(
        "span",
        { class: `cmd-badge cmd-badge-${alarm.status}` },
        labels.status(alarm.status),
      ),
    );
    const description = alarm.description
      ? el("p", { class: "cmd-description" }, alarm.description)
      : el("p", { class: "muted" }, t("command.detail.no_description"));
    ui.body.replaceChildren(
      this.facts(),
      this.contact(),
      description,
      this.photos(),
      el("h3", {}, t("command.detail.history")),
      this.history(),
    );
    this.tick();
  }

  /**
   * The citizen's phone number, shown only when asked for: the server
   * records every read of it, so it is not fetched for each alarm viewed.
   */
  contact() {
    const box = el("p", { class: "cmd-contact" });
    const known = this.phone && this.phone.id === this.alarm.id;
    if (known) {
      box.append(this.phoneText(this.phone.value));
      return box;
    }
    const button = el(
      "button",
      { class: "btn btn-small", type: "button", id: "detail-contact" },
      t("command.detail.contact"),
    );
    button.addEventListener("click", async () => {
      const id = this.alarm.id;
      button.disabled = true;
      try {
        const { phone } = await getJson(
          `/api/alarms/${encodeURIComponent(id)}/contact`,
        );
        this.phone = { id, value: phone };
        if (this.alarm && this.alarm.id === id) box.replaceChildren(this.phoneText(phone));
      } catch (error) {
        button.disabled = false;
        setStatus(this.ui.status, errorText(error), "error");
      }
    });
    box.append(button);
    return box;
  }

  phoneText(phone) {
    if (!phone) return el("span", { class: "muted" }, t("command.detail.no_phone"));
    return el("a", { href: `tel:${phone}`, class: "cmd-phone" }, phone);
  }

  facts() {
    const { alarm, labels } = this;
    const rows = [
      [
        t("command.detail.address"),
        alarm.address || t("command.alarm.no_address"),
      ],
      [
        t("command.detail.raised"),
        el(
          "span",
          {},
          clockTime(alarm.created_at) + " · ",
          el("span", { "data-age": "" }),
        ),
      ],
      [t("command.detail.source"), labels.source(alarm.location_source)],
      [t("command.detail.notified"), String(alarm.officers_notified || 0)],
    ];
    if (alarm.suggested_station || alarm.status === "escalated") {
      rows.push([
        t("command.detail.suggested"),
        labels.station(alarm.suggested_station) ||
          t("command.queue.no_station"),
      ]);
    }
    if (alarm.assignee) {
      const via = t("command.via." + (alarm.assignee.via || "dispatch"));
      const station = labels.station(alarm.assignee.station_id);
      rows.push([
        t("command.detail.assignee"),
        [alarm.assignee.name, station, via].filter(Boolean).join(" · "),
      ]);
    }
    if (alarm.outcome) rows.push([t("command.detail.outcome"), alarm.outcome]);
    const list = el("dl", { class: "cmd-facts" });
    for (const [term, value] of rows) {
      list.append(el("dt", {}, term), el("dd", {}, value));
    }
    return list;
  }

  photos() {
    const urls = this.alarm.photos || [];
    const box = el("div", { class: "cmd-photos" });
    urls.forEach((url, index) => {
      const alt = t("command.detail.photo", { n: index + 1 });
      box.append(
        el(
          "a",
          { href: url, target: "_blank", rel: "noopener" },
          el("img", { src: url, alt, loading: "lazy", class: "cmd-photo" }),
        ),
      );
    });
    return box;
  }

  history() {
    const list = el("ol", { class: "cmd-history" });
    for (const entry of this.alarm.history || []) {
      const line = el(
        "li",
        {},
        el("span", { class: "cmd-history-time" }, clockTime(entry.at)),
        el(
          "span",
          { class: "cmd-history-status" },
          this.labels.status(entry.status),
        ),
        el(
          "span",
          { class: "cmd-history-actor" },
          this.labels.actor(entry.actor),
        ),
      );
      if (entry.note)
        line.append(el("span", { class: "cmd-history-note" }, entry.note));
      list.append(line);
    }
    return list;
  }

  // -- who to send ------------------------------------------------------------

  async loadSuggestions() {
    const alarm = this.alarm;
    if (!alarm || !REASSIGNABLE.includes(alarm.status)) return;
    const seq = ++this.fetchSeq;
    this.ui.suggestionsNote.textContent = t("common.loading");
    try {
      const { officers } = await getJson(alarmPath(alarm.id, "suggestions"));
      if (seq !== this.fetchSeq || this.id !== alarm.id) return;
      this.drawSuggestions(officers);
    } catch (error) {
      if (seq !== this.fetchSeq) return;
      this.ui.suggestionsNote.textContent = "";
      setStatus(this.ui.status, errorText(error), "error");
    }
  }

  drawSuggestions(officers) {
    const ui = this.ui;
    ui.suggestionsNote.textContent = officers.length
      ? t("command.suggestions.order")
      : t("command.suggestions.none");
    ui.suggestions.replaceChildren(...officers.map((o) => this.suggestion(o)));
  }

  suggestion(officer) {
    const labels = this.labels;
    const current = (this.alarm.assignee || {}).officer_id === officer.id;
    const meta = [
      labels.station(officer.station_id) || t("command.suggestions.no_station"),
      t("duty." + officer.duty),
      t(
        officer.connected
          ? "command.suggestions.online"
          : "command.suggestions.offline",
      ),
      distanceText(officer.distance_m),
    ].join(" · ");
    const verb = this.alarm.status === "escalated" ? "dispatch" : "reassign";
    const button = el(
      "button",
      {
        type: "button",
        class: "btn btn-primary btn-small cmd-dispatch",
        "data-officer-id": officer.id,
      },
      t(current ? "command.suggestions.current" : "command.action." + verb),
    );
    button.disabled = current || this.busy;
    button.addEventListener("click", () => this.dispatch(officer, verb));
    const name = el(
      "span",
      { class: "cmd-suggestion-name" },
      officer.name || "",
    );
    if (officer.in_zone) {
      name.append(
        el(
          "span",
          { class: "cmd-zone-badge" },
          t("command.suggestions.in_zone"),
        ),
      );
    }
    return el(
      "li",
      {
        class: `cmd-suggestion cmd-duty-${officer.duty}`,
        "data-officer-id": officer.id,
      },
      el(
        "span",
        { class: "cmd-suggestion-text" },
        name,
        el("span", { class: "cmd-suggestion-meta" }, meta),
      ),
      button,
    );
  }

  /**
   * While an action runs nothing else may be sent; afterwards anyone but
   * the officer who has the alarm may be chosen.
   */
  setBusy(busy) {
    this.busy = busy;
    const assignee = this.alarm && (this.alarm.assignee || {}).officer_id;
    for (const button of this.ui.suggestions.querySelectorAll(
      "button.cmd-dispatch",
    )) {
      button.disabled = busy || button.dataset.officerId === assignee;
    }
    this.ui.closeSubmit.disabled = busy;
  }

  async dispatch(officer, verb) {
    const alarm = this.alarm;
    if (verb === "reassign") {
      const question = t("command.confirm.reassign", {
        from: (alarm.assignee || {}).name || "",
        to: officer.name || "",
      });
      if (!window.confirm(question)) return;
    }
    const ok = await this.act(
      () =>
        postJson(alarmPath(alarm.id, "dispatch"), { officer_id: officer.id }),
      t("command.done." + verb, { name: officer.name || "" }),
    );
    // A new status refetches by itself (see show); a reassignment does not,
    // yet duties changed: the old officer is free, the new one busy.
    if (ok && this.alarm && this.alarm.status === alarm.status) {
      this.loadSuggestions();
    }
  }

  async close() {
    const ui = this.ui;
    const note = ui.note.value.trim();
    if (!note) {
      setStatus(ui.status, t("error.note_required"), "error");
      ui.note.focus();
      return;
    }
    const ok = await this.act(
      () => postJson(alarmPath(this.alarm.id, "close"), { note }),
      t("command.done.close"),
    );
    if (ok) ui.note.value = "";
  }

  /** Runs one action on the alarm; says how it went; returns success. */
  async act(call, doneText) {
    const alarmId = this.id;
    this.setBusy(true);
    setStatus(this.ui.status, t("command.working"));
    try {
      const { alarm } = await call();
      this.onChanged(alarm);
      setStatus(this.ui.status, doneText);
      return true;
    } catch (error) {
      setStatus(this.ui.status, errorText(error), "error");
      // Someone else changed the alarm meanwhile: show what it is now.
      if (error instanceof ApiError && [404, 409].includes(error.status)) {
        await this.reload(alarmId);
      }
      return false;
    } finally {
      this.setBusy(false);
    }
  }

  async reload(alarmId) {
    try {
      const { alarm } = await getJson(alarmPath(alarmId));
      this.onChanged(alarm);
    } catch {
      // The refusal shown already says enough; the feed will catch up.
    }
  }
}
