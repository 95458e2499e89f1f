// The device's position, when the browser can and may share it. Every caller
// must also work without it (WeChat on some phones, denied permission).

// A fix up to 10 s old is fresh enough for a person on foot or an officer
// waiting; waiting 20 s for a first fix covers a cold GPS start.
const WATCH_OPTIONS = {
  enableHighAccuracy: true,
  maximumAge: 10000,
  timeout: 20000,
};

// GeolocationPositionError codes → the message key explaining them.
const PROBLEMS = { 1: "geo.denied", 2: "geo.unavailable", 3: "geo.timeout" };

/** Why positions cannot be had at all (a message key), or null if they may. */
export function locationBlocker() {
  if (!("geolocation" in navigator)) return "geo.unsupported";
  if (window.isSecureContext === false) return "geo.insecure";
  return null;
}

/**
 * Follows the device's position: `onFix({lon, lat, accuracy})` for each fix,
 * `onProblem(messageKey)` when there is none. Returns a function that stops.
 */
export function watchPosition(onFix, onProblem) {
  const blocker = locationBlocker();
  if (blocker) {
    onProblem(blocker);
    return () => {};
  }
  const id = navigator.geolocation.watchPosition(
    ({ coords }) =>
      onFix({
        lon: coords.longitude,
        lat: coords.latitude,
        accuracy: coords.accuracy,
      }),
    (error) => onProblem(PROBLEMS[error.code] || "geo.unavailable"),
    WATCH_OPTIONS,
  );
  return () => navigator.geolocation.clearWatch(id);
}
