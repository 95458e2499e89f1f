// The publisher's side of the task board (commanders and admins): publish a
// task with its place picked on the map, then follow each task's roster live
// (confirm, decline, message, export, cancel) and find people for it by
// specialty, nearest first.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { errorText, getJson, postJson } from "./api.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { addArea, createMap, displayLatLng, pointFromDisplay } from "./map.js";
import {
  checkedValues,
  distanceText,
  figures,
  fillSkillChoices,
  fillSkillSelect,
  formatPeriod,
  formatWhen,
  isoFromInput,
  skillBadges,
  stateText,
} from "./task-format.js";

function api(taskId, action = "") {
  return `/api/tasks/${encodeURIComponent(taskId)}${action ? "/" + action : ""}`;
}

export class TaskDesk {
  constructor({ status }) {
    this.status = status;
    this.place = null;
    this.marker = null;
    this.selected = null; // the task shown in detail
    this.map = createMap(byId("task-map"));
    this.map.on("click", (event) => this.pick(event.latlng));
    byId("publish-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.publish();
    });
    byId("message-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.message();
    });
    byId("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    byId("task-cancel").addEventListener("click", () => this.cancel());
  }

  async start() {
    fillSkillChoices(byId("task-skills"), "task-skill");
    fillSkillSelect(byId("search-skill"));
    await this.load();
  }

  // -- publishing -------------------------------------------------------------

  pick(latlng) {
    this.place = pointFromDisplay(latlng);
    if (this.marker) this.marker.setLatLng(latlng);
    else this.marker = L.marker(latlng).addTo(this.map);
    const [lon, lat] = this.place.coordinates;
    byId("task-place").textContent = t("tasks.place.set", {
      lat: lat.toFixed(5),
      lon: lon.toFixed(5),
    });
  }

  async publish() {
    const status = byId("publish-status");
    if (!this.place) {
      setStatus(status, t("tasks.place.missing"), "error");
      return;
    }
    const confirm = document.querySelector('input[name="task-confirm"]:checked');
    const body = {
      title: byId("task-title").value,
      description: byId("task-description").value,
      place_name: byId("task-place-name").value,
      place: this.place,
      starts_at: isoFromInput(byId("task-starts").value),
      ends_at: isoFromInput(byId("task-ends").value),
      signup_deadline: isoFromInput(byId("task-deadline").value),
      needed: Number(byId("task-needed").value),
      skills: checkedValues(byId("task-skills")),
      confirm: confirm ? confirm.value : "auto",
    };
    byId("publish-submit").disabled = true;
    try {
      const { task } = await postJson("/api/tasks", body);
      setStatus(status, t("tasks.publish.done"));
      byId("publish-form").reset();
      await this.load();
      await this.select(task.id);
    } catch (error) {
      setStatus(status, errorText(error), "error");
    } finally {
      byId("publish-submit").disabled = false;
    }
  }

  // -- the list and one task ---------------------------------------------------

  async load() {
    try {
      const { tasks } = await getJson("/api/tasks?status=all");
      byId("manage-empty").hidden = tasks.length > 0;
      byId("manage-list").replaceChildren(...tasks.map((task) => this.item(task)));
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }

  item(task) {
    const open = el(
      "button",
      { type: "button", class: "btn btn-small btn-outline task-open" },
      t("tasks.open"),
    );
    open.addEventListener("click", () => this.select(task.id));
    return el(
      "li",
      { class: "task-card", "data-task-id": task.id, "data-status": task.status },
      el("strong", { class: "task-title" }, task.title),
      el("span", { class: "task-when" }, formatPeriod(task)),
      el("span", { class: "task-figures" }, figures(task)),
      task.status === "cancelled"
        ? el("span", { class: "badge badge-muted" }, t("tasks.cancelled"))
        : "",
      open,
    );
  }

  /** A task on the board changed (live): refresh what shows it. */
  async changed(taskId) {
    await this.load();
    if (this.selected && this.selected.id === taskId) await this.select(taskId);
  }

  async select(taskId) {
    try {
      const { task } = await getJson(api(taskId));
      this.selected = task;
      this.showDetail(task);
      if (task.status === "open") await this.recommend();
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }

  showDetail(task) {
    byId("task-detail").hidden = false;
    byId("task-detail").dataset.taskId = task.id;
    byId("detail-title").textContent = task.title;
    byId("detail-when").textContent = [formatPeriod(task), task.place_name]
      .filter(Boolean)
      .join(" · ");
    byId("detail-figures").replaceChildren(
      figures(task),
      " ",
      ...skillBadges(task.skills),
    );
    byId("roster-empty").hidden = task.roster.length > 0;
    byId("roster").querySelector("tbody").replaceChildren(
      ...task.roster.map((entry) => this.rosterRow(task, entry)),
    );
    byId("roster-export").href = api(task.id, "roster.csv");
    const open = task.status === "open";
    byId("task-cancel").hidden = !open;
    byId("message-form").hidden = !open;
    byId("search-form").hidden = !open;
    this.showPlace(task);
  }

  showPlace(task) {
    if (this.shownPlace) this.shownPlace.remove();
    this.shownPlace =
      task.place.type === "Point"
        ? L.circleMarker(displayLatLng(task.place), { radius: 8 }).addTo(this.map)
        : addArea(this.map, task.place, {});
  }

  rosterRow(task, entry) {
    const actions = el("td", { class: "roster-actions" });
    if (task.status === "open" && entry.state === "pending") {
      actions.append(this.decision(task, entry, true));
    }
    if (task.status === "open" && ["pending", "confirmed", "waiting"].includes(entry.state)) {
      actions.append(this.decision(task, entry, false));
    }
    return el(
      "tr",
      { "data-officer-id": entry.officer_id, "data-state": entry.state },
      el("td", {}, entry.name),
      el("td", {}, stateText(entry)),
      el("td", {}, formatWhen(entry.signed_at)),
      actions,
    );
  }

  decision(task, entry, confirm) {
    const button = el(
      "button",
      { type: "button", class: `btn btn-small ${confirm ? "btn-primary" : "btn-ghost"}` },
      t(confirm ? "tasks.roster.confirm" : "tasks.roster.decline"),
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const answer = await postJson(api(task.id, "decide"), {
          officer_id: entry.officer_id,
          confirm,
        });
        this.selected = answer.task;
        this.showDetail(answer.task);
      } catch (error) {
        button.disabled = false;
        setStatus(byId("detail-status"), errorText(error), "error");
      }
    });
    return button;
  }

  async message() {
    const input = byId("message-text");
    try {
      await postJson(api(this.selected.id, "message"), { text: input.value });
      input.value = "";
      setStatus(byId("detail-status"), t("tasks.message.sent"));
    } catch (error) {
      setStatus(byId("detail-status"), errorText(error), "error");
    }
  }

  async cancel() {
    if (!this.selected || !window.confirm(t("tasks.cancel.confirm"))) return;
    try {
      const { task } = await postJson(api(this.selected.id, "cancel"), {});
      this.selected = task;
      this.showDetail(task);
      await this.load();
    } catch (error) {
      setStatus(byId("detail-status"), errorText(error), "error");
    }
  }

  // -- finding people -----------------------------------------------------------

  async recommend() {
    const taskId = this.selected.id;
    try {
      const { people } = await getJson(api(taskId, "recommended"));
      byId("recommended-empty").hidden = people.length > 0;
      byId("recommended").replaceChildren(...people.map((p) => this.person(p)));
    } catch (error) {
      setStatus(byId("detail-status"), errorText(error), "error");
    }
  }

  async search() {
    const params = new URLSearchParams();
    const skill = byId("search-skill").value;
    const text = byId("search-text").value.trim();
    if (skill) params.set("skill", skill);
    if (text) params.set("q", text);
    const [lon, lat] = this.selected.location.coordinates;
    params.set("lon", lon);
    params.set("lat", lat);
    try {
      const { people } = await getJson(`/api/specialties/search?${params}`);
      byId("search-empty").hidden = people.length > 0;
      byId("search-results").replaceChildren(...people.map((p) => this.person(p)));
    } catch (error) {
      setStatus(byId("detail-status"), errorText(error), "error");
    }
  }

  person(person) {
    const invite = el(
      "button",
      { type: "button", class: "btn btn-small btn-outline person-invite" },
      t("tasks.invite"),
    );
    invite.addEventListener("click", async () => {
      invite.disabled = true;
      try {
        await postJson(api(this.selected.id, "invite"), { officer_id: person.id });
        invite.textContent = t("tasks.invite.done");
      } catch (error) {
        invite.disabled = false;
        setStatus(byId("detail-status"), errorText(error), "error");
      }
    });
    return el(
      "li",
      { class: "person", "data-officer-id": person.id },
      el("strong", {}, person.name),
      el("span", { class: "muted" }, [person.station, distanceText(person)].filter(Boolean).join(" · ")),
      el("span", {}, ...skillBadges(person.tags)),
      person.note ? el("span", { class: "muted" }, person.note) : "",
      invite,
    );
  }
}
