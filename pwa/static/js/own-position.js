// "You are here" on a map: the device's position with its accuracy ring, and
// a status line saying why there is none when the browser cannot share it.

import { t } from "./config.js";
import { setStatus } from "./dom.js";
import { watchPosition } from "./locate.js";
import { addCircle, addPin, displayLatLng, geoPoint } from "./map.js";

// Close enough to see the streets around the user.
const FIRST_FIX_ZOOM = 16;

/** Follows the device on `map`; returns a function that stops following. */
export function showOwnPosition(map, statusElement) {
  let pin = null;
  let ring = null;
  setStatus(statusElement, t("geo.locating"));
  return watchPosition(
    ({ lon, lat, accuracy }) => {
      const point = geoPoint(lon, lat);
      if (pin === null) {
        pin = addPin(map, point, { title: t("geo.you") });
        ring = addCircle(map, point, accuracy, {
          weight: 1,
          fillOpacity: 0.12,
        });
        map.setView(displayLatLng(point), FIRST_FIX_ZOOM);
      } else {
        // Later fixes move the marker but leave the view where the user put it.
        pin.setLatLng(displayLatLng(point));
        ring.setLatLng(displayLatLng(point)).setRadius(accuracy);
      }
      const meters = Math.max(1, Math.round(accuracy));
      setStatus(statusElement, t("geo.located", { meters }));
    },
    (problem) => setStatus(statusElement, t(problem), "warning"),
  );
}
