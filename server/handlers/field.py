"""The officer's and the command room's endpoints around alarms."""

from __future__ import annotations

from server.alarm_views import staff_view
from server.grants import border_alarms
from server.handlers.base import BaseHandler
from server.openapi import GEOJSON_POINT, obj, op


class OfficerStateHandler(BaseHandler):
    access = {"GET": "officer.self"}
    api = {
        "get": op(
            "The officer's duty, open offers and current alarm",
            tag="officer",
            response=obj(
                ("duty", "offers"),
                duty={"enum": ["on", "busy", "off"]},
                offers={"type": "array", "items": {"type": "object"}},
                active={"type": ["object", "null"]},
            ),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        self.send_json(await self.platform.officers.workload(self.principal))


class DutyHandler(BaseHandler):
    access = {"POST": "officer.self"}
    api = {
        "post": op(
            "Set duty: on, busy or off",
            tag="officer",
            body=obj(("duty",), duty={"enum": ["on", "busy", "off"]}),
            response=obj(("duty",), duty={"type": "string"}),
            errors=(400, 401, 403),
        )
    }

    async def post(self) -> None:
        duty = self.json_body().get("duty")
        duty = await self.platform.officers.set_duty(self.principal, duty)
        self.send_json({"duty": duty})


class PositionHandler(BaseHandler):
    access = {"POST": "officer.self"}
    api = {
        "post": op(
            "Report a position over HTTP (the websocket is preferred)",
            tag="officer",
            body=obj(
                ("lon", "lat"),
                lon={"type": "number", "minimum": -180, "maximum": 180},
                lat={"type": "number", "minimum": -90, "maximum": 90},
                accuracy={"type": "number", "minimum": 0},
            ),
            errors=(400, 401, 403),
        )
    }

    async def post(self) -> None:
        await self.platform.officers.report_position(self.principal, self.json_body())
        self.send_json({"ok": True})


class OpenAlarmsHandler(BaseHandler):
    access = {"GET": "alarm.command"}
    api = {
        "get": op(
            "The tenant's active alarms, oldest first; border_alarms: other "
            "agencies' open alarms inside a border zone they grant, read-only",
            tag="command",
            response=obj(
                ("alarms", "border_alarms"),
                alarms={"type": "array", "items": {}},
                border_alarms={
                    "type": "array",
                    "items": obj(
                        ("id", "tenant", "shared", "read_only"),
                        tenant=obj(("id",), id={"type": "string"}),
                        shared={"const": True},
                        read_only={"const": True},
                    ),
                },
            ),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        tenant_id = self.principal.tenant_id
        alarms = await self.platform.alarms.open_alarms(tenant_id)
        shared = await border_alarms(self.platform.grants, tenant_id)
        self.send_json(
            {
                "alarms": [staff_view(a) for a in alarms],
                "border_alarms": [
                    {
                        **staff_view(a),
                        "tenant": owner,
                        "shared": True,
                        "read_only": True,
                    }
                    for a, owner in shared
                ],
            }
        )


class SuggestionsHandler(BaseHandler):
    access = {"GET": "alarm.command"}
    api = {
        "get": op(
            "Officers to dispatch to, by duty, zone and distance",
            tag="command",
            response=obj(("officers",), officers={"type": "array", "items": {}}),
            errors=(401, 403, 404),
            params=("alarm_id",),
        )
    }

    async def get(self, alarm_id: str) -> None:
        officers = await self.platform.alarms.suggestions(
            self.principal, alarm_id, self.platform.presence
        )
        self.send_json({"officers": officers})


class AlarmsGeoJSONHandler(BaseHandler):
    access = {"GET": "alarms.feed"}
    api = {
        "get": op(
            "Open alarms as a GeoJSON FeatureCollection",
            tag="command",
            response=obj(
                ("type", "features"),
                type={"const": "FeatureCollection"},
                features={
                    "type": "array",
                    "items": obj(
                        ("type", "geometry", "properties"),
                        type={"const": "Feature"},
                        geometry=GEOJSON_POINT,
                    ),
                },
            ),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        alarms = await self.platform.alarms.open_alarms(self.principal.tenant_id)
        features = [_feature(a) for a in alarms]
        self.set_header("Content-Type", "application/geo+json")
        self.send_json({"type": "FeatureCollection", "features": features})


def _feature(alarm: dict) -> dict:
    view = staff_view(alarm)
    return {
        "type": "Feature",
        "id": view["id"],
        "geometry": alarm["location"],
        "properties": {
            k: view[k]
            for k in ("status", "category", "address", "created_at", "deadline_at")
        }
        | {"assignee": (view["assignee"] or {}).get("name")},
    }
