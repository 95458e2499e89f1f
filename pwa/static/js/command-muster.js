// Emergency musters in the command room: the form that starts one (the place
// is a click on the map; the radius is drawn around it as it is typed), and
// the list of running musters with their counts, each linking to its
// roll-call board (/musters/<id>). The list follows muster.started,
// muster.updated and muster.ended on the command topic.

import { errorText, getJson, postJson } from "./api.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { addCircle, addPin, pointFromDisplay } from "./map.js";

const PICK_STYLE = { color: "#b91c1c", weight: 2, fillOpacity: 0.08 };
const RUNNING_STYLE = {
  color: "#b91c1c",
  weight: 1,
  dashArray: "6 6",
  fillOpacity: 0.03,
};

function boardLink(id) {
  return `/musters/${encodeURIComponent(id)}`;
}

export class MusterCommand {
  constructor(map) {
    this.map = map;
    this.place = null; // the GeoJSON point picked on the map
    this.pin = null;
    this.ring = null;
    this.running = new Map(); // id → summary
    this.circles = new Map(); // id → the running muster's circle
    this.bind();
  }

  bind() {
    byId("muster-start").addEventListener("click", () => this.openForm(true));
    byId("mf-cancel").addEventListener("click", () => this.openForm(false));
    byId("mf-radius").addEventListener("input", () => this.drawPick());
    byId("muster-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.map.on("click", (event) => {
      if (!byId("muster-form").hidden) this.pick(event.latlng);
    });
  }

  // -- the form -----------------------------------------------------------------

  openForm(open) {
    byId("muster-form").hidden = !open;
    byId("muster-start").hidden = open;
    this.map.getContainer().classList.toggle("is-picking", open);
    setStatus(byId("mf-status"), "");
    if (open) {
      byId("mf-message").focus();
    } else {
      this.clearPick();
    }
  }

  pick(latlng) {
    this.place = pointFromDisplay(latlng);
    const [lon, lat] = this.place.coordinates;
    byId("mf-place").textContent = t("command.muster.picked", {
      lat: lat.toFixed(5),
      lon: lon.toFixed(5),
    });
    byId("mf-place").dataset.picked = "true";
    this.drawPick();
  }

  drawPick() {
    if (!this.place) return;
    const radius = Number(byId("mf-radius").value) || 0;
    if (this.pin) this.pin.remove();
    if (this.ring) this.ring.remove();
    this.pin = addPin(this.map, this.place, { title: t("command.muster.title") });
    this.ring = addCircle(this.map, this.place, radius, PICK_STYLE);
  }

  clearPick() {
    if (this.pin) this.pin.remove();
    if (this.ring) this.ring.remove();
    this.pin = this.ring = this.place = null;
    byId("mf-place").textContent = t("command.muster.pick");
    delete byId("mf-place").dataset.picked;
  }

  /** The request body; numbers are sent as typed for the server to judge. */
  body() {
    const [lon, lat] = this.place.coordinates;
    const minutes = Number(byId("mf-duration").value);
    const number = (id) => {
      const text = byId(id).value.trim();
      return text === "" ? null : Number(text);
    };
    return {
      lon,
      lat,
      radius_m: number("mf-radius"),
      needed: number("mf-needed"),
      message: byId("mf-message").value,
      address: byId("mf-address").value,
      ends_at: new Date(Date.now() + minutes * 60000).toISOString(),
    };
  }

  async submit() {
    const status = byId("mf-status");
    if (!this.place) {
      setStatus(status, t("command.muster.need_place"), "warning");
      return;
    }
    byId("mf-submit").disabled = true;
    try {
      const { muster } = await postJson("/api/musters", this.body());
      location.assign(boardLink(muster.id));
    } catch (error) {
      setStatus(status, errorText(error), "error");
      byId("mf-submit").disabled = false;
    }
  }

  // -- running musters ------------------------------------------------------------

  async load() {
    try {
      const { musters } = await getJson("/api/musters?status=active");
      this.running = new Map(musters.map((muster) => [muster.id, muster]));
      this.render();
    } catch (error) {
      setStatus(byId("mf-status"), errorText(error), "error");
    }
  }

  /** muster.started, muster.updated or muster.ended on the command topic. */
  apply(name, summary) {
    if (name === "muster.ended" || summary.status !== "active") {
      this.running.delete(summary.id);
    } else {
      this.running.set(summary.id, summary);
    }
    this.render();
  }

  render() {
    const items = [...this.running.values()].map((muster) => {
      const link = el(
        "a",
        { href: boardLink(muster.id), class: "roster-name" },
        muster.message,
      );
      const counts = el(
        "span",
        { class: "roster-meta" },
        t("command.muster.counts", muster.counts),
      );
      return el(
        "li",
        { class: "roster-item", "data-muster-id": muster.id },
        link,
        counts,
      );
    });
    byId("muster-running").replaceChildren(...items);
    byId("muster-none").hidden = items.length > 0;
    this.drawRunning();
  }

  drawRunning() {
    for (const [id, circle] of this.circles) {
      if (!this.running.has(id)) {
        circle.remove();
        this.circles.delete(id);
      }
    }
    for (const muster of this.running.values()) {
      const old = this.circles.get(muster.id);
      if (old) old.remove();
      this.circles.set(
        muster.id,
        addCircle(this.map, muster.place, muster.radius_m, RUNNING_STYLE),
      );
    }
  }
}
