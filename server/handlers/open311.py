"""Open311 GeoReport v2 endpoints under ``/open311/v2/`` (JSON and XML).

Open311 clients are other organisations' servers and apps: they hold no
session cookie and no XSRF token. These handlers therefore use no cookie at
all and answer errors in the spec's own shape, ``[{"code", "description"}]``
with the HTTP status. The work is done in `server.open311`.
"""

from __future__ import annotations

import tornado.web

from server import access
from server.errors import NotFound
from server.handlers.base import BaseHandler
from server.jsonutil import dumps
from server.open311 import FORMATS, Open311, to_xml
from server.openapi import obj, op

BASE = "/open311/v2"
# The format is the path's extension: /services.json, /requests/<id>.xml.
# Any extension reaches the handler, which refuses all but json and xml in
# the spec's error shape.
FORMAT = r"\.(?P<format>[^/]+)$"
FORM_FIELDS = (
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
    "locale",
)
QUERY_FIELDS = (
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "start_date",
    "end_date",
    "status",
    "locale",
)

OPEN311_ERRORS = {
    "type": "array",
    "items": obj(("code", "description"), code={"type": "integer"}),
}
SERVICE = obj(
    ("service_code", "service_name", "metadata", "type"),
    service_code={"type": "string"},
    service_name={"type": "string"},
    description={"type": "string"},
    metadata={"type": "boolean"},
    type={"enum": ["realtime", "batch", "blackbox"]},
    keywords={"type": "string"},
    group={"type": "string"},
)
REQUEST = obj(
    ("service_request_id", "status"),
    service_request_id={"type": "string"},
    status={"enum": ["open", "closed"]},
    requested_datetime={"type": "string"},
    lat={"type": "number"},
    long={"type": "number"},
)
FILED = obj(
    ("service_request_id",),
    service_request_id={"type": "string"},
    service_notice={"type": "string"},
    account_id={"type": "null"},
)


def _array(item: dict) -> dict:
    return {"type": "array", "items": item}


def _op(summary: str, response: dict, errors: tuple, params=(), form=False):
    """An OpenAPI operation in Open311 terms: form body, spec error shape."""
    spec = op(
        summary,
        tag="open311",
        response=response,
        errors=errors,
        params=("format", *params),
    )
    xml = {"text/xml": {"schema": {"type": "string"}}}
    for code, answer in spec["responses"].items():
        if not code.startswith("2"):
            answer["content"] = {"application/json": {"schema": OPEN311_ERRORS}}
        # The same answers as XML for the .xml format.
        answer["content"].update(xml)
    for parameter in spec["parameters"]:
        if parameter["name"] == "format":
            parameter["schema"] = {"enum": sorted(FORMATS)}
    if form:
        fields = obj(("api_key", "service_code"), **{f: {} for f in FORM_FIELDS})
        spec["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": fields}},
        }
    return spec


class Open311Handler(BaseHandler):
    """No cookies, no XSRF, the spec's error shape, JSON or XML by extension.

    Every method also receives the path's ``format``, read through
    `format` where it matters.
    """

    @property
    def format(self) -> str | None:
        """The path's format; None before routing (a method Tornado refuses)."""
        # Tornado answers an unknown method (TRACE) with 405 before it sets
        # path_kwargs, and the error answer still asks for the format.
        return getattr(self, "path_kwargs", {}).get("format")

    async def prepare(self) -> None:
        # No session lookup: the endpoints are public, or use the api_key.
        if self.request.method not in self.access:
            raise tornado.web.HTTPError(405)
        if self.format not in FORMATS:
            raise NotFound("Only the .json and .xml formats are supported.")

    def check_xsrf_cookie(self) -> None:
        # Safe to skip: XSRF abuses a browser's cookies, and these endpoints
        # read none. A POST is authorised by the api_key in its body alone,
        # which a forged cross-site form cannot know.
        pass

    @property
    def open311(self) -> Open311:
        return Open311(self.platform.db, self.platform.alarms)

    def args(self, names: tuple[str, ...]) -> dict[str, str | None]:
        return {name: self.get_argument(name, None) for name in names}

    def answer(self, value, root: str) -> None:
        """``value`` as JSON or as the spec's XML with root element ``root``."""
        if self.format != "xml":
            self.send_json(value)
            return
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(to_xml(value, root))

    def render_error(self, status: int, message: str, reason: str) -> None:
        errors = [{"code": status, "description": message}]
        if self.format == "xml":
            self.answer(errors, "errors")
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(dumps(errors))


class ServicesHandler(Open311Handler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": _op(
            "Open311: the alarm categories as services",
            _array(SERVICE),
            (400, 404),
        )
    }

    async def get(self, **_path) -> None:
        services = await self.open311.services(
            self.get_argument("jurisdiction_id", None),
            self.get_argument("locale", None),
        )
        self.answer(services, "services")


class ServiceDefinitionHandler(Open311Handler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": _op(
            "Open311: a service's definition (no service has extra attributes)",
            obj(("service_code", "attributes"), attributes=_array({})),
            (400, 404),
            params=("service_code",),
        )
    }

    async def get(self, service_code: str, **_path) -> None:
        definition = await self.open311.definition(
            service_code, self.get_argument("jurisdiction_id", None)
        )
        self.answer(definition, "service_definition")


class RequestsHandler(Open311Handler):
    access = {"GET": access.PUBLIC, "POST": access.PUBLIC}
    api = {
        "get": _op(
            "Open311: service requests (90 days, 1000 at most; public data only)",
            _array(REQUEST),
            (400, 404),
        ),
        "post": _op(
            "Open311: file a service request (raises an alarm; needs api_key)",
            _array(FILED),
            (400, 403, 404, 429),
            form=True,
        ),
    }

    async def get(self, **_path) -> None:
        found = await self.open311.requests(self.args(QUERY_FIELDS))
        self.answer(found, "service_requests")

    async def post(self, **_path) -> None:
        filed = await self.open311.file_request(
            self.args(FORM_FIELDS), self.request.remote_ip
        )
        self.answer(filed, "service_requests")


class RequestHandler(Open311Handler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": _op(
            "Open311: one service request (public data only)",
            _array(REQUEST),
            (400, 404),
            params=("service_request_id",),
        )
    }

    async def get(self, service_request_id: str, **_path) -> None:
        found = await self.open311.request(
            service_request_id, self.args(("jurisdiction_id", "locale"))
        )
        self.answer(found, "service_requests")


def _rule(path: str, pattern: str, handler) -> tornado.web.URLSpec:
    """A rule with its own regex; ``template`` feeds the OpenAPI document."""
    spec = tornado.web.URLSpec(BASE + pattern + FORMAT, handler)
    spec.template = BASE + path + ".{format}"
    return spec


def routes() -> list[tornado.web.URLSpec]:
    """The Open311 URL rules, for `server.app.routes`."""
    one = r"/(?P<{}>[^/]+?)"
    return [
        _rule("/services", "/services", ServicesHandler),
        _rule(
            "/services/{service_code}",
            "/services" + one.format("service_code"),
            ServiceDefinitionHandler,
        ),
        _rule("/requests", "/requests", RequestsHandler),
        _rule(
            "/requests/{service_request_id}",
            "/requests" + one.format("service_request_id"),
            RequestHandler,
        ),
    ]
