// Where the alarm is, in the order of preference: the standard address plate
// whose QR code opened the page (?plate=CODE), the device's position, or a pin
// the citizen places on the map. Each new place is checked with the server at
// once, so that a closed service or a place outside every territory is said
// before the citizen types anything.

import { errorText, getJson } from "./api.js";
import { t } from "./config.js";
import { setStatus } from "./dom.js";
import { distanceMeters } from "./geo.js";
import { locationBlocker, watchPosition } from "./locate.js";
import {
  addCircle,
  addPin,
  displayLatLng,
  geoPoint,
  pointFromDisplay,
} from "./map.js";

// Close enough to see the surrounding streets; a plate is an exact door.
const FIX_ZOOM = 16;
const PLATE_ZOOM = 17;
// A GPS fix is checked with the server again only after moving this far:
// hours and territories do not change from one step to the next.
const RECHECK_M = 200;
// After a failed check (a network blip) the same place is asked again.
const RETRY_CHECK_MS = 5000;

function metresBetween(a, b) {
  const [lonA, latA] = a.coordinates;
  const [lonB, latB] = b.coordinates;
  return distanceMeters([latA, lonA], [latB, lonB]);
}

/**
 * The place of the alarm being written. `onChange(place, service, error)` is
 * called with each checked place: `service` is /api/service's answer, or
 * null with `error` when the check failed.
 */
export class LocationPicker {
  constructor({ map, elements, onChange }) {
    this.map = map;
    this.el = elements; // geoStatus, plateStatus, line, switchButton
    this.onChange = onChange;
    // {source: plate|gps|pin, point, accuracy?, plate?, address?}
    this.place = null;
    this.marker = null;
    this.ring = null;
    this.pinChosen = false;
    this.checkedAt = null;
    this.checkSeq = 0;
    this.retryTimer = null;
    this.stopWatch = () => {};
    elements.switchButton.addEventListener("click", () => this.switchSource());
    map.on("click", (event) => {
      if (this.place && this.place.source === "pin") {
        this.marker.setLatLng(event.latlng);
        this.pinMoved();
      }
    });
  }

  /** Starts from the plate code if there is one, else from the device. */
  async start(plateCode) {
    this.el.line.textContent = t("geo.locating");
    delete this.el.line.dataset.source;
    if (plateCode && (await this.usePlate(plateCode))) return;
    this.useGps();
  }

  /** Stops following the device and takes the place off the map. */
  stop() {
    this.stopWatch();
    this.stopWatch = () => {};
    clearTimeout(this.retryTimer);
    this.checkSeq += 1; // answers still on their way are ignored
    this.clearLayers();
    this.place = null;
    this.checkedAt = null;
    this.pinChosen = false;
    setStatus(this.el.geoStatus, "");
  }

  /** The location fields of POST /api/alarms, or null before there is one. */
  fields() {
    const place = this.place;
    if (!place) return null;
    if (place.source === "plate") return { plate: place.plate };
    const [lon, lat] = place.point.coordinates;
    return { lon, lat, source: place.source };
  }

  /** Asks the server about the current place again (e.g. after a refusal). */
  recheck() {
    if (this.place) this.check(this.place.point);
  }

  // -- the three sources ------------------------------------------------------

  async usePlate(code) {
    setStatus(this.el.plateStatus, t("citizen.location.plate_checking"));
    let answer;
    try {
      answer = await getJson(`/api/plates/${encodeURIComponent(code)}`);
    } catch (error) {
      const text =
        error.reason === "unknown_plate"
          ? t("citizen.location.unknown_plate", { code })
          : errorText(error);
      setStatus(this.el.plateStatus, text, "warning");
      return false;
    }
    setStatus(this.el.plateStatus, "");
    const { plate, service } = answer;
    this.setPlace({
      source: "plate",
      plate: plate.code,
      point: plate.location,
      address: plate.address,
    });
    this.map.setView(displayLatLng(plate.location), PLATE_ZOOM);
    this.checkedAt = plate.location;
    this.onChange(this.place, service, null);
    return true;
  }

  useGps() {
    this.stopWatch();
    this.pinChosen = false;
    const blocker = locationBlocker();
    if (blocker) {
      setStatus(this.el.geoStatus, t(blocker), "warning");
      this.usePin(false);
      return;
    }
    setStatus(this.el.geoStatus, t("geo.locating"));
    this.stopWatch = watchPosition(
      (fix) => this.gpsFix(fix),
      (problem) => this.gpsProblem(problem),
    );
  }

  gpsFix({ lon, lat, accuracy }) {
    if (this.pinChosen) return;
    const point = geoPoint(lon, lat);
    const first = !this.place || this.place.source !== "gps";
    // The place line says "GPS ±N m": a second status would repeat it.
    setStatus(this.el.geoStatus, "");
    this.setPlace({ source: "gps", point, accuracy });
    if (first) this.map.setView(displayLatLng(point), FIX_ZOOM);
    if (
      first ||
      !this.checkedAt ||
      metresBetween(point, this.checkedAt) > RECHECK_M
    ) {
      this.check(point);
    }
  }

  gpsProblem(problem) {
    setStatus(this.el.geoStatus, t(problem), "warning");
    // A refusal is final; a timeout or a lost signal may still recover.
    if (problem === "geo.denied") this.stopWatch();
    if (!this.place || this.place.source !== "gps") this.usePin(false);
  }

  /** A draggable pin; `chosen` when the citizen asked for it over GPS. */
  usePin(chosen) {
    if (chosen) {
      this.stopWatch();
      this.pinChosen = true;
    }
    if (this.place && this.place.source === "pin") return;
    const point = this.place
      ? this.place.point
      : pointFromDisplay(this.map.getCenter());
    this.setPlace({ source: "pin", point });
    this.check(point);
  }

  pinMoved() {
    const point = pointFromDisplay(this.marker.getLatLng());
    this.place = { source: "pin", point };
    this.pinChosen = true;
    this.check(point);
  }

  switchSource() {
    if (this.place && this.place.source === "gps") this.usePin(true);
    else this.useGps();
  }

  // -- drawing and checking ---------------------------------------------------

  clearLayers() {
    if (this.marker) this.marker.remove();
    if (this.ring) this.ring.remove();
    this.marker = null;
    this.ring = null;
  }

  setPlace(place) {
    const previous = this.place;
    this.place = place;
    if (previous && previous.source === place.source && this.marker) {
      this.marker.setLatLng(displayLatLng(place.point));
      if (this.ring) {
        this.ring
          .setLatLng(displayLatLng(place.point))
          .setRadius(place.accuracy);
      }
    } else {
      this.draw(place);
    }
    this.describe(place);
  }

  draw(place) {
    this.clearLayers();
    this.marker = addPin(this.map, place.point, {
      title: t("citizen.location.marker"),
    });
    if (place.source === "gps") {
      this.ring = addCircle(this.map, place.point, place.accuracy, {
        weight: 1,
        fillOpacity: 0.12,
      });
    }
    if (place.source === "pin") {
      this.marker.dragging.enable();
      this.marker.on("dragend", () => this.pinMoved());
    }
  }

  describe(place) {
    const line = {
      plate: () => t("citizen.location.plate", { address: place.address }),
      gps: () =>
        t("citizen.location.gps", {
          meters: Math.max(1, Math.round(place.accuracy)),
        }),
      pin: () => t("citizen.location.pin"),
    }[place.source]();
    this.el.line.textContent = line;
    this.el.line.dataset.source = place.source;
    const button = this.el.switchButton;
    const canLocate = locationBlocker() === null;
    button.textContent =
      place.source === "gps"
        ? t("citizen.location.use_pin")
        : t("citizen.location.use_gps");
    button.hidden = place.source !== "gps" && !canLocate;
  }

  async check(point) {
    clearTimeout(this.retryTimer);
    this.checkedAt = point;
    const seq = ++this.checkSeq;
    const [lon, lat] = point.coordinates;
    const query = new URLSearchParams({ lon, lat });
    try {
      const service = await getJson(`/api/service?${query}`);
      if (seq === this.checkSeq) this.onChange(this.place, service, null);
    } catch (error) {
      if (seq !== this.checkSeq) return;
      this.onChange(this.place, null, error);
      this.retryTimer = setTimeout(() => {
        if (seq === this.checkSeq) this.check(point);
      }, RETRY_CHECK_MS);
    }
  }
}
