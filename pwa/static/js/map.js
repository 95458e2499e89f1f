// Leaflet maps configured from client_config.map. Callers hand in GeoJSON
// geometries in WGS-84 ([lon, lat]); this module converts them for display.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { config, t } from "./config.js";
import { toDisplay } from "./geo.js";

// Leaflet guesses its image folder from the CSS it finds in the page, which
// breaks when the CSS URL carries a query string; name the folder outright.
L.Icon.Default.prototype.options.imagePath = "/static/vendor/leaflet/images/";

/** A map in `container` with the configured tiles, centred on the district. */
export function createMap(container) {
  const settings = config().map;
  container.setAttribute("role", "region");
  container.setAttribute("aria-label", t("map.label"));
  const map = L.map(container, { maxZoom: settings.max_zoom });
  L.tileLayer(settings.tile_url, {
    subdomains: settings.subdomains,
    attribution: settings.attribution,
    maxZoom: settings.max_zoom,
  }).addTo(map);
  // Credit Leaflet by name only: its default prefix adds a national flag,
  // which has no place on a police map.
  map.attributionControl.setPrefix(
    '<a href="https://leafletjs.com">Leaflet</a>',
  );
  map.setView(toDisplay(settings.center), settings.zoom);
  return map;
}

/** GeoJSON point → the [lat, lng] to draw it at. */
export function displayLatLng(point) {
  const [lon, lat] = point.coordinates;
  return toDisplay([lat, lon]);
}

/** A display latlng (GCJ-02 on Chinese tiles) back to a WGS-84 point. */
export function pointFromDisplay({ lat, lng }) {
  // GCJ-02 has no closed-form inverse; the shift changes so slowly with the
  // position that three fixed-point steps bring the error under a centimetre.
  let guess = [lat, lng];
  for (let step = 0; step < 3; step++) {
    const [shownLat, shownLng] = toDisplay(guess);
    guess = [guess[0] - (shownLat - lat), guess[1] - (shownLng - lng)];
  }
  return geoPoint(guess[1], guess[0]);
}

/** GeoJSON Polygon or MultiPolygon → nested display [lat, lng] rings. */
function displayRings(geometry) {
  const ringsOf = (polygon) =>
    polygon.map((ring) => ring.map(([lon, lat]) => toDisplay([lat, lon])));
  const { type, coordinates } = geometry;
  return type === "MultiPolygon"
    ? coordinates.map(ringsOf)
    : ringsOf(coordinates);
}

/** Popup or tooltip content from lines of text (never HTML: it is user data). */
function textBlock(lines) {
  const box = document.createElement("div");
  for (const line of lines) {
    const row = document.createElement("div");
    row.textContent = line;
    box.appendChild(row);
  }
  return box;
}

/** A standard pin at a GeoJSON point, with an optional popup of text lines. */
export function addPin(map, point, { title = "", lines = [] } = {}) {
  const marker = L.marker(displayLatLng(point), { title, alt: title });
  if (lines.length) marker.bindPopup(textBlock(lines));
  return marker.addTo(map);
}

/** A round dot at a GeoJSON point; `style` holds Leaflet Path options. */
export function addDot(map, point, style, lines = []) {
  const dot = L.circleMarker(displayLatLng(point), style);
  if (lines.length) dot.bindPopup(textBlock(lines));
  return dot.addTo(map);
}

/** Replaces a dot's position, style and popup text in place. */
export function updateDot(dot, point, style, lines) {
  dot.setLatLng(displayLatLng(point));
  dot.setStyle(style);
  dot.setPopupContent(textBlock(lines));
}

/** A circle of `radius` metres around a GeoJSON point (e.g. GPS accuracy). */
export function addCircle(map, point, radius, style) {
  return L.circle(displayLatLng(point), { radius, ...style }).addTo(map);
}

/** A Polygon or MultiPolygon area, with its name as a tooltip. */
export function addArea(map, geometry, style, name = "") {
  const area = L.polygon(displayRings(geometry), style);
  if (name) area.bindTooltip(textBlock([name]), { sticky: true });
  return area.addTo(map);
}

/** Zooms to show every layer given (does nothing for an empty list). */
export function fitLayers(map, layers) {
  if (!layers.length) return;
  const bounds = L.featureGroup(layers).getBounds();
  // Zoom 16 at most: a single small zone should still show its streets'
  // surroundings rather than fill the screen with one block.
  if (!bounds.isValid()) return;
  map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
}

/** A GeoJSON point from a longitude and latitude. */
export function geoPoint(lon, lat) {
  return { type: "Point", coordinates: [lon, lat] };
}
