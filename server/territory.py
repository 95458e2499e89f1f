"""Areas drawn on the map: territories, station zones, border zones of grants.

An area arrives as GeoJSON in WGS-84: a Polygon or MultiPolygon, or (when an
administrator imports a file from a GIS) a Feature or FeatureCollection
holding them. `parse_area` checks it with the ``geojson`` package (closed
rings, positions) and with Shapely (no self-intersections), within size
limits, and returns one plain geometry ready for a 2dsphere index.

Two agencies' territories may share a border but not overlap.
`interiors_overlap` says which: MongoDB's ``$geoIntersects`` (used first, to
find candidates through the index) counts a shared edge as an intersection,
and neighbouring districts do share edges, so each candidate is then tested
with Shapely's DE-9IM relation ``T********`` (the interiors meet), which is
false for shapes that only touch. Shapely works on the plane of longitude and
latitude while MongoDB draws edges as great circles; for edges of a few
kilometres the two differ by about a metre, and a shared edge is the same
line in both.
"""

from __future__ import annotations

import math
from typing import Any

import geojson
from shapely.geometry import shape

from server.errors import Invalid

# A district boundary from a GIS has a few thousand vertices; this bound keeps
# a pasted country outline (or junk) out of every geo query.
MAX_VERTICES = 20_000
MAX_POLYGONS = 100
# The widest extent in degrees (about 1,000 km): beyond that it is not a
# police district or a department's area but a mistake.
MAX_SPAN_DEG = 10.0
AREAS = ("Polygon", "MultiPolygon")


def _geometry_of(value: Any, what: str) -> dict:
    """The one Polygon or MultiPolygon inside ``value`` (a geometry or feature)."""
    if not isinstance(value, dict):
        raise Invalid(f"The {what} must be a GeoJSON object.", "bad_geojson")
    kind = value.get("type")
    if kind == "Feature":
        return _geometry_of(value.get("geometry"), what)
    if kind == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list) or not features:
            raise Invalid(f"The {what} has no features.", "bad_geojson")
        polygons: list = []
        for feature in features[: MAX_POLYGONS + 1]:
            geometry = _geometry_of(feature, what)
            if geometry["type"] == "Polygon":
                polygons.append(geometry["coordinates"])
            else:
                polygons.extend(geometry["coordinates"])
        if len(polygons) == 1:
            return {"type": "Polygon", "coordinates": polygons[0]}
        return {"type": "MultiPolygon", "coordinates": polygons}
    if kind not in AREAS:
        raise Invalid(
            f"The {what} must be a GeoJSON Polygon or MultiPolygon.", "bad_geojson"
        )
    return {"type": kind, "coordinates": value.get("coordinates")}


def _positions(geometry: dict, what: str) -> list[list[float]]:
    """Every position of the geometry, checked for shape and range."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not 0 < len(polygons) <= MAX_POLYGONS:
        raise Invalid(f"The {what} has 1 to {MAX_POLYGONS} polygons.", "bad_geojson")
    found = []
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            raise Invalid(f"Each polygon of the {what} needs a ring.", "bad_geojson")
        for ring in rings:
            if not isinstance(ring, list) or len(ring) < 4:
                raise Invalid(
                    f"Each ring of the {what} is closed, with 4 positions or more.",
                    "bad_geojson",
                )
            for position in ring:
                found.append(_position(position, what))
                if len(found) > MAX_VERTICES:
                    raise Invalid(
                        f"The {what} has more than {MAX_VERTICES} vertices; "
                        "simplify it first.",
                        "too_many_vertices",
                    )
    return found


def _position(position: Any, what: str) -> list[float]:
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(
            isinstance(n, int | float) and not isinstance(n, bool) for n in position
        )
        or not all(math.isfinite(n) for n in position)
    ):
        raise Invalid(
            f"Each position of the {what} is [longitude, latitude].", "bad_geojson"
        )
    lon, lat = position[0], position[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid(
            f"A position of the {what} lies outside longitude/latitude range.",
            "bad_geojson",
        )
    return [float(lon), float(lat)]


def _two_d(geometry: dict) -> dict:
    """The geometry with positions cut to [lon, lat] (heights are dropped)."""

    def ring(r):
        return [[float(p[0]), float(p[1])] for p in r]

    if geometry["type"] == "Polygon":
        return {
            "type": "Polygon",
            "coordinates": [ring(r) for r in geometry["coordinates"]],
        }
    return {
        "type": "MultiPolygon",
        "coordinates": [[ring(r) for r in rings] for rings in geometry["coordinates"]],
    }


def parse_area(value: Any, what: str = "area") -> dict:
    """A valid Polygon or MultiPolygon from untrusted GeoJSON, or `Invalid`."""
    geometry = _geometry_of(value, what)
    positions = _positions(geometry, what)
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    if max(lons) - min(lons) > MAX_SPAN_DEG or max(lats) - min(lats) > MAX_SPAN_DEG:
        raise Invalid(
            f"The {what} spans more than {MAX_SPAN_DEG:g} degrees.", "area_too_large"
        )
    geometry = _two_d(geometry)
    checked = geojson.GeoJSON.to_instance(geometry, strict=True)
    if not checked.is_valid:
        raise Invalid(
            f"The {what} is not valid GeoJSON: {checked.errors()}.", "bad_geojson"
        )
    drawn = shape(geometry)
    if not drawn.is_valid or drawn.area <= 0:
        raise Invalid(
            f"The {what} crosses itself or has no area; draw it again.",
            "bad_geojson",
        )
    return geometry


def interiors_overlap(a: dict, b: dict) -> bool:
    """True when the two areas share more than a border (their insides meet)."""
    return shape(a).relate_pattern(shape(b), "T********")
