// Alarms on the command room's map: one marker per active alarm, coloured by
// status (CSS classes cmd-marker-<status>) and pulsing by urgency
// (cmd-marker-late, cmd-marker-overdue). Clicking or pressing Enter on a
// marker selects the alarm.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { displayLatLng } from "./map.js";

// Big enough to hit with a mouse, small enough not to hide the streets.
const ICON_SIZE = 26;
// Escalated alarms are drawn above the others: they need a person now.
const ESCALATED_Z = 1000;

// The classes saying what a marker shows; the rest of its classes are Leaflet's.
function lookClasses(status, level, selected) {
  const classes = ["cmd-marker", `cmd-marker-${status}`, `cmd-marker-${level}`];
  if (selected) classes.push("cmd-marker-selected");
  return classes;
}

function markerIcon(status, level, selected) {
  return L.divIcon({
    className: lookClasses(status, level, selected).join(" "),
    html: '<span class="cmd-marker-dot"></span>',
    iconSize: [ICON_SIZE, ICON_SIZE],
  });
}

// A tooltip given a string is set as HTML by Leaflet; the label holds what a
// citizen typed (the address), so it goes in as text.
function tooltipText(label) {
  const text = document.createElement("span");
  text.textContent = label;
  return text;
}

/** The alarm markers of one map. */
export class AlarmMarkers {
  /** `onSelect(id)` hears a click (or Enter) on a marker. */
  constructor(map, onSelect) {
    this.map = map;
    this.onSelect = onSelect;
    this.markers = new Map(); // id → {marker, look, label}
    this.selected = null;
  }

  /** Adds or updates the marker of `alarm`; `label` is its tooltip text. */
  show(alarm, level, label) {
    const look = `${alarm.status}/${level}/${alarm.id === this.selected}`;
    const entry = this.markers.get(alarm.id);
    if (entry) {
      if (entry.look !== look) this.restyle(entry, alarm, level, look);
      if (entry.label !== label) {
        entry.marker.setTooltipContent(tooltipText(label));
        entry.marker.getElement().setAttribute("aria-label", label);
        entry.label = label;
      }
      return;
    }
    const marker = L.marker(displayLatLng(alarm.location), {
      icon: markerIcon(alarm.status, level, alarm.id === this.selected),
      title: label,
      keyboard: true,
      zIndexOffset: alarm.status === "escalated" ? ESCALATED_Z : 0,
    });
    marker.bindTooltip(tooltipText(label), {
      direction: "top",
      offset: [0, -10],
    });
    marker.on("click", () => this.onSelect(alarm.id));
    // Leaflet makes the icon focusable; Enter should act like a click.
    marker.on("keypress", ({ originalEvent }) => {
      if (originalEvent.key === "Enter") this.onSelect(alarm.id);
    });
    marker.addTo(this.map);
    const element = marker.getElement();
    element.dataset.alarmId = alarm.id;
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", label);
    this.markers.set(alarm.id, { marker, look, label });
  }

  // Changes the classes of the same element (a new icon would drop the
  // keyboard focus of a commander who just pressed Enter on it).
  restyle(entry, alarm, level, look) {
    const element = entry.marker.getElement();
    for (const name of [...element.classList]) {
      if (name.startsWith("cmd-marker")) element.classList.remove(name);
    }
    const selected = alarm.id === this.selected;
    element.classList.add(...lookClasses(alarm.status, level, selected));
    entry.marker.setZIndexOffset(
      alarm.status === "escalated" ? ESCALATED_Z : 0,
    );
    entry.look = look;
  }

  remove(id) {
    const entry = this.markers.get(id);
    if (!entry) return;
    entry.marker.remove();
    this.markers.delete(id);
  }

  /** Removes the markers of alarms no longer in `ids`. */
  keepOnly(ids) {
    for (const id of [...this.markers.keys()]) {
      if (!ids.has(id)) this.remove(id);
    }
  }

  /** Marks `id` as the selected alarm (the caller re-shows both markers). */
  select(id) {
    this.selected = id;
  }

  /** Pans to an alarm's marker without changing the zoom. */
  reveal(id) {
    const entry = this.markers.get(id);
    if (entry) this.map.panTo(entry.marker.getLatLng());
  }
}
