"""The OpenAPI 3.1 document, generated from the routing table.

Each JSON handler describes its operations in a class attribute ``api``
(``{"get": op(...), ...}``); `document` walks the same rules Tornado routes
with, so an endpoint cannot exist without appearing here (a test checks it).
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}

_ERROR_TEXT = {
    400: "Invalid input; nothing was stored.",
    401: "No valid session.",
    403: "Not allowed for this role, or the XSRF token is missing.",
    404: "No such item (or not visible to the caller).",
    409: "Conflicts with the current state.",
    413: "Too large.",
    429: "Too many attempts; see Retry-After.",
    503: "The database is unreachable; retry after Retry-After seconds.",
}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict:
    """A JSON object schema."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def op(
    summary: str,
    *,
    tag: str,
    response: dict | None = None,
    body: dict | None = None,
    errors: tuple[int, ...] = (),
    status: int = 200,
    params: tuple[str, ...] = (),
) -> dict:
    """One operation: its summary, request body, answer and error codes."""
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            str(status): {
                "description": "OK",
                "content": {"application/json": {"schema": response or obj()}},
            },
            **{
                str(code): {
                    "description": _ERROR_TEXT[code],
                    "content": {"application/json": {"schema": ERROR}},
                }
                for code in sorted({*errors, 503})
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if params:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    return operation


GEOJSON_POINT = obj(
    ("type", "coordinates"),
    type={"const": "Point"},
    coordinates={"type": "array", "items": {"type": "number"}, "minItems": 2},
)


def document(rules, version: str) -> dict:
    """The OpenAPI document for every rule whose handler declares ``api``."""
    paths: dict[str, dict] = {}
    for rule in rules:
        api = getattr(rule.target, "api", None)
        template = getattr(rule, "template", None)
        if api and template:
            paths[template] = {method: dict(spec) for method, spec in api.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jingdi (警滴) crowd-dispatch API",
            "version": version,
            "description": (
                "JSON API of the Jingdi platform. State-changing requests need "
                "the session cookie and an X-XSRFToken header equal to the "
                "_xsrf cookie. Errors are {message, reason}."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": obj(
                    ("message", "reason"),
                    message={"type": "string"},
                    reason={"type": "string"},
                ),
            },
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "jingdi_session",
                }
            },
        },
        "security": [{"session": []}],
    }
