"""The OpenAPI document stays true to the routes that are really served."""

import re

from server.app import make_app
from server.handlers.base import PageHandler
from server.handlers.pages import ServiceWorkerHandler
from server.realtime.socket import RealtimeSocket

# Not JSON endpoints: HTML pages, the service worker script, the websocket.
NOT_JSON = (PageHandler, ServiceWorkerHandler, RealtimeSocket)


def _json_routes(app) -> dict[str, set[str]]:
    found = {}
    for rule in app.wildcard_router.rules:
        template = getattr(rule, "template", None)
        if template is None or issubclass(rule.target, NOT_JSON):
            continue
        found[template] = {m.lower() for m in rule.target.access}
    return found


async def test_every_json_route_and_method_is_documented(live_server):
    status, doc = await live_server.client().get("/api/openapi.json")
    assert status == 200
    assert doc["openapi"] == "3.1.0"
    served = _json_routes(make_app(live_server.platform))
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == served


async def test_every_operation_documents_its_answers(live_server):
    _, doc = await live_server.client().get("/api/openapi.json")
    for path, operations in doc["paths"].items():
        params = set(re.findall(r"\{(\w+)\}", path))
        for method, op in operations.items():
            assert op["summary"], (path, method)
            assert any(code.startswith("2") for code in op["responses"]), path
            assert "503" in op["responses"], (path, method)
            parameters = op.get("parameters", [])
            named = {p["name"] for p in parameters if p["in"] == "path"}
            assert named == params, (path, method)
            assert all(p["in"] in ("path", "query") for p in parameters), path
