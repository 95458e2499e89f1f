"""Geography helpers: validated GeoJSON points and great-circle distances.

Positions are WGS-84 ``[lon, lat]`` everywhere in storage and on the wire;
conversion to GCJ-02 for Chinese map tiles happens in the browser, for display
only.
"""

from __future__ import annotations

import math

from server.errors import Invalid

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def point(lon, lat) -> dict:
    """A GeoJSON Point from untrusted input, or `Invalid` with the reason."""
    for value, name in ((lon, "longitude"), (lat, "latitude")):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"The {name} must be a number.", "bad_location")
        if not math.isfinite(value):
            raise Invalid(f"The {name} must be a finite number.", "bad_location")
    if not -180 <= lon <= 180:
        raise Invalid("The longitude must lie in [-180, 180].", "bad_location")
    if not -90 <= lat <= 90:
        raise Invalid("The latitude must lie in [-90, 90].", "bad_location")
    # Two finite numbers in range is all a valid 2D Point is; building a
    # geojson.Point to ask it again cost twice the checks above, on the path
    # every officer's position takes (areas are checked with the geojson
    # package in server/territory.py).
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
