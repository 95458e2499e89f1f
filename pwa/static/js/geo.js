// Coordinates. Everything is stored and exchanged in WGS-84; Chinese map tiles
// (AMap, Tencent) are drawn in GCJ-02, so positions are shifted for display
// only, and only when the configured tiles need it.

import { config } from "./config.js";

// Krasovsky 1940 ellipsoid, which the GCJ-02 obfuscation is defined on.
const SEMI_MAJOR_AXIS = 6378245.0;
const ECCENTRICITY_SQUARED = 0.00669342162296594323;
// Mean Earth radius (IUGG), good to about 0.5% for haversine distances.
const EARTH_RADIUS_M = 6371008.8;

/** True outside China's rough bounding box, where GCJ-02 equals WGS-84. */
export function outOfChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

// Sums of sines with the published coefficients of the transform; x and y are
// offsets from the reference point (105°E, 35°N).
function periodicTerms(x, y, a, b) {
  return (
    ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) /
      3 +
    ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3 +
    ((a * Math.sin((y / 12) * Math.PI) + b * Math.sin((y / 30) * Math.PI)) *
      2) /
      3
  );
}

function latitudeShift(x, y) {
  const base = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y;
  return base + 0.2 * Math.sqrt(Math.abs(x)) + periodicTerms(x, y, 160, 320);
}

function longitudeShift(x, y) {
  const base = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y;
  return base + 0.1 * Math.sqrt(Math.abs(x)) + periodicTerms(x, x, 150, 300);
}

/** [lat, lon] in WGS-84 → [lat, lon] in GCJ-02 ("Mars coordinates"). */
export function wgs84ToGcj02([lat, lon]) {
  if (outOfChina(lat, lon)) return [lat, lon];
  const radLat = (lat / 180) * Math.PI;
  const sinLat = Math.sin(radLat);
  const magic = 1 - ECCENTRICITY_SQUARED * sinLat * sinLat;
  const sqrtMagic = Math.sqrt(magic);
  const dLat =
    (latitudeShift(lon - 105, lat - 35) * 180) /
    (((SEMI_MAJOR_AXIS * (1 - ECCENTRICITY_SQUARED)) / (magic * sqrtMagic)) *
      Math.PI);
  const dLon =
    (longitudeShift(lon - 105, lat - 35) * 180) /
    ((SEMI_MAJOR_AXIS / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lat + dLat, lon + dLon];
}

/** [lat, lon] in WGS-84 → where to draw it on this page's tiles. */
export function toDisplay(latlng, crs = (config().map || {}).crs) {
  return crs === "gcj02" ? wgs84ToGcj02(latlng) : [latlng[0], latlng[1]];
}

/** Great-circle distance in metres between two WGS-84 [lat, lon] pairs. */
export function distanceMeters([lat1, lon1], [lat2, lon2]) {
  const toRad = (degrees) => (degrees * Math.PI) / 180;
  const dLat = toRad(lat2 - lat1);
  const dLon = toRad(lon2 - lon1);
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(toRad(lat1)) * Math.cos(toRad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}
