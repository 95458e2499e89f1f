// The officer's side of the task board: open tasks to sign up for (or
// withdraw from), the officer's own schedule with overlaps flagged, and the
// specialties profile commanders search by.

import { errorText, getJson, postJson, request } from "./api.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import {
  checkedValues,
  figures,
  fillSkillChoices,
  fillSkillSelect,
  formatPeriod,
  formatWhen,
  overlapText,
  skillBadges,
  stateText,
} from "./task-format.js";

const ACTIVE = new Set(["confirmed", "pending", "waiting"]);

export class VolunteerBoard {
  /**
   * `onBoards(ids)` hears, after each load, the agencies whose boards the
   * tasks come from (the officer's own and those granting it "tasks").
   */
  constructor({ status, onBoards = null }) {
    this.status = status;
    this.onBoards = onBoards;
    this.focus = null; // a task id to bring into view once shown
    this.overlaps = new Map(); // task id → overlaps reported at sign-up
    const filter = byId("board-filter");
    filter.addEventListener("change", () => this.load());
    filter.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    byId("profile-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveProfile();
    });
  }

  /** Fills the skill lists (the vocabulary is loaded) and the profile. */
  async start() {
    fillSkillSelect(byId("filter-skill"));
    try {
      const { profile } = await getJson("/api/officer/profile");
      fillSkillChoices(byId("profile-tags"), "profile-tag", profile.tags);
      byId("profile-note").value = profile.note;
      byId("profile-visible").checked = profile.visible;
    } catch (error) {
      setStatus(byId("profile-status"), errorText(error), "error");
    }
    await this.load();
  }

  query() {
    const params = new URLSearchParams();
    const skill = byId("filter-skill").value;
    if (skill) params.set("skill", skill);
    const from = byId("filter-from").value;
    if (from) params.set("from", new Date(`${from}T00:00`).toISOString());
    if (byId("filter-open").checked) params.set("open", "1");
    return params.toString();
  }

  async load() {
    try {
      const [board, schedule] = await Promise.all([
        getJson(`/api/tasks?${this.query()}`),
        getJson("/api/tasks/mine"),
      ]);
      this.showBoard(board.tasks);
      this.showSchedule(schedule.tasks);
      if (this.onBoards) this.onBoards(board.boards || []);
      this.bringForward();
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }

  showBoard(tasks) {
    byId("board-empty").hidden = tasks.length > 0;
    byId("board").replaceChildren(...tasks.map((task) => this.card(task)));
  }

  card(task) {
    const mine = task.mine && ACTIVE.has(task.mine.state) ? task.mine : null;
    const closed = Date.parse(task.signup_deadline) <= Date.now();
    const item = el(
      "li",
      { class: "task-card", "data-task-id": task.id, "data-state": mine ? mine.state : "" },
      el("strong", { class: "task-title" }, task.title),
      el("span", { class: "task-when" }, formatPeriod(task)),
      el("span", { class: "task-place" }, task.place_name || ""),
      el("span", { class: "task-figures" }, figures(task)),
      el("span", { class: "muted" }, t("tasks.deadline", { time: formatWhen(task.signup_deadline) })),
      el("span", { class: "task-skills" }, ...skillBadges(task.skills)),
    );
    if (task.shared) {
      // Another agency's task, on this board by its grant: say whose.
      const name = task.tenant.name || task.tenant.id;
      item.append(el("span", { class: "badge task-owner" }, t("tasks.shared_from", { name })));
    }
    if (task.description) item.append(el("p", { class: "task-description" }, task.description));
    if (task.invited && !mine) item.append(el("span", { class: "badge badge-ok" }, t("tasks.invited")));
    if (mine) item.append(el("span", { class: "badge task-mine" }, stateText(mine)));
    const overlaps = this.overlaps.get(task.id);
    if (mine && overlaps && overlaps.length) {
      item.append(el("p", { class: "task-overlap", role: "alert" }, overlapText(overlaps)));
    }
    if (task.status === "cancelled") {
      item.append(el("span", { class: "badge badge-muted" }, t("tasks.cancelled")));
    } else if (closed) {
      item.append(el("span", { class: "badge badge-muted" }, t("tasks.closed")));
    } else if (mine) {
      item.append(this.button("withdraw", task, "btn-outline"));
    } else {
      item.append(this.button("signup", task, "btn-primary"));
    }
    return item;
  }

  button(action, task, style) {
    const button = el(
      "button",
      { type: "button", class: `btn btn-small ${style} task-${action}` },
      t("tasks." + action),
    );
    button.addEventListener("click", () => this.act(action, task, button));
    return button;
  }

  async act(action, task, button) {
    button.disabled = true;
    try {
      const answer = await postJson(`/api/tasks/${encodeURIComponent(task.id)}/${action}`, {});
      if (action === "signup") this.overlaps.set(task.id, answer.task.overlaps || []);
      else this.overlaps.delete(task.id);
      setStatus(this.status, "");
      await this.load();
    } catch (error) {
      button.disabled = false;
      setStatus(this.status, errorText(error), "error");
    }
  }

  showSchedule(tasks) {
    byId("schedule-empty").hidden = tasks.length > 0;
    byId("schedule").replaceChildren(
      ...tasks.map((task) => {
        const item = el(
          "li",
          { class: "task-card", "data-task-id": task.id, "data-state": task.mine.state },
          el("strong", { class: "task-title" }, task.title),
          el("span", { class: "task-when" }, formatPeriod(task)),
          el("span", { class: "badge task-mine" }, stateText(task.mine)),
        );
        if (task.status === "cancelled") {
          item.append(el("span", { class: "badge badge-muted" }, t("tasks.cancelled")));
        }
        if (task.overlaps.length) {
          item.append(el("p", { class: "task-overlap", role: "alert" }, overlapText(task.overlaps)));
        }
        for (const message of task.messages.slice(-3)) {
          item.append(el("p", { class: "task-message" }, `${message.by.name}: ${message.text}`));
        }
        return item;
      }),
    );
  }

  /** Scrolls to (and marks) the task a notification pointed at. */
  show(taskId) {
    this.focus = taskId;
    this.bringForward();
  }

  bringForward() {
    if (!this.focus) return;
    const card = document.querySelector(`#board [data-task-id="${CSS.escape(this.focus)}"], #schedule [data-task-id="${CSS.escape(this.focus)}"]`);
    if (!card) return;
    card.classList.add("task-focus");
    card.scrollIntoView({ block: "center" });
    this.focus = null;
  }

  async saveProfile() {
    const status = byId("profile-status");
    const body = {
      tags: checkedValues(byId("profile-tags")),
      note: byId("profile-note").value,
      visible: byId("profile-visible").checked,
    };
    try {
      await request("/api/officer/profile", { method: "PUT", body });
      setStatus(status, t("tasks.profile.saved"));
    } catch (error) {
      setStatus(status, errorText(error), "error");
    }
  }
}
