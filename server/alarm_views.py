"""What each party sees of an alarm: the citizen, the officer, the command room.

Views are plain dicts ready for JSON. The citizen never sees other officers,
internal notes or the client address; staff never see the citizen's phone
number unless they are the assigned officer or the command room.
"""

from __future__ import annotations

import datetime as dt

from server import alarms as states
from server.geo import distance_m

# Public names of the statuses shown on the citizen's timeline.
TIMELINE_EVENTS = {
    states.OFFERING: "sent",
    states.ESCALATED: "passed_to_command",
    states.ASSIGNED: "claimed",
    states.EN_ROUTE: "on_the_way",
    states.ARRIVED: "arrived",
    states.RESOLVED: "resolved",
    states.CANCELLED: "cancelled",
    states.CLOSED: "closed",
}


def _photo_urls(alarm: dict) -> list[str]:
    return [
        f"/api/alarms/{alarm['_id']}/photos/{p['id']}" for p in alarm.get("photos", [])
    ]


def tracking(alarm: dict, lon: float, lat: float, at: dt.datetime) -> dict:
    """The officer's position relative to the scene, with a simple ETA."""
    scene = alarm["location"]["coordinates"]
    distance = distance_m(lon, lat, scene[0], scene[1])
    return {
        "position": {"type": "Point", "coordinates": [lon, lat]},
        "at": at,
        "distance_m": round(distance),
        "eta_s": round(distance / states.ETA_SPEED_M_S),
    }


def citizen_view(alarm: dict, officer_position: dict | None = None) -> dict:
    """The citizen's own alarm: status, timeline, and their officer."""
    assignee = alarm.get("assignee")
    status = alarm["status"]
    view = {
        "id": str(alarm["_id"]),
        "status": status,
        "category": alarm["category"],
        "description": alarm.get("description", ""),
        "address": alarm.get("address", ""),
        "location": alarm["location"],
        "photos": _photo_urls(alarm),
        "created_at": alarm["created_at"],
        "timeline": [
            {
                "event": TIMELINE_EVENTS[h["status"]],
                "at": h["at"],
                "officer": h.get("officer") if h["status"] == states.ASSIGNED else None,
            }
            for h in alarm.get("history", [])
        ],
        "officers_notified": len(alarm.get("offered", [])),
        "officer": None,
        "can_cancel": status in states.CANCELLABLE,
        "can_rate": status == states.RESOLVED and not alarm.get("rating"),
        "rating": alarm.get("rating"),
    }
    if assignee and status in states.TRACKED:
        view["officer"] = {
            "name": assignee.get("name"),
            "badge_no": assignee.get("badge_no"),
            **(officer_position or {}),
        }
    return view


def offer_view(alarm: dict, distance: float) -> dict:
    """An offer as the officer's screen shows it."""
    return {
        "alarm_id": str(alarm["_id"]),
        "category": alarm["category"],
        "address": alarm.get("address", ""),
        "location": alarm["location"],
        "description": alarm.get("description", ""),
        "photos": _photo_urls(alarm),
        "distance_m": round(distance),
        "expires_at": alarm.get("deadline_at"),
        "created_at": alarm["created_at"],
    }


def staff_view(alarm: dict) -> dict:
    """An alarm as its officer and the command room see it."""
    assignee = alarm.get("assignee")
    return {
        "id": str(alarm["_id"]),
        "tenant_id": alarm["tenant_id"],
        "status": alarm["status"],
        "category": alarm["category"],
        "description": alarm.get("description", ""),
        "address": alarm.get("address", ""),
        "location": alarm["location"],
        "location_source": alarm.get("location_source"),
        "photos": _photo_urls(alarm),
        "created_at": alarm["created_at"],
        "updated_at": alarm.get("updated_at"),
        "deadline_at": alarm.get("deadline_at"),
        "officers_notified": len(alarm.get("offered", [])),
        "assignee": assignee
        and {
            "officer_id": assignee["officer_id"],
            "name": assignee.get("name"),
            "station_id": assignee.get("station_id"),
            "via": assignee.get("via"),
            "assigned_at": assignee.get("assigned_at"),
        },
        "suggested_station": alarm.get("suggested_station"),
        "outcome": alarm.get("outcome"),
        "rating": alarm.get("rating"),
        "history": [
            {
                "status": h["status"],
                "at": h["at"],
                "actor": h.get("actor"),
                "note": h.get("note"),
            }
            for h in alarm.get("history", [])
        ],
    }
