"""The OpenAPI 3.1 document, generated from the routing table.

Each JSON handler describes its operations in a class attribute ``api``
(``{"get": op(...), ...}``); `document` walks the same rules Tornado routes
with, so an endpoint cannot exist without appearing here (a test checks it).
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
# The citizen terms in force (GET /api/terms); accepting any other version is
# refused. A named schema, because its value comes from the configuration.
TERMS_VERSION = {"$ref": "#/components/schemas/TermsVersion"}

_ERROR_TEXT = {
    400: "Invalid input; nothing was stored.",
    401: "No valid session.",
    403: "Not allowed for this role, or the XSRF token is missing.",
    404: "No such item (or not visible to the caller).",
    409: "Conflicts with the current state.",
    413: "Too large.",
    429: "Too many attempts; see Retry-After.",
    503: "The database is unreachable; retry after Retry-After seconds.",
    507: "Storage failed while the upload was written; nothing was kept.",
}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict:
    """A JSON object schema."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def changes(schema: dict) -> dict:
    """``schema`` for a PATCH body: one of its properties at least is given."""
    names = list(schema["properties"])
    return {**schema, "anyOf": [{"required": [name]} for name in names]}


def optional_text(max_length: int) -> dict:
    """An optional text the server reads with null as empty."""
    return {"type": ["string", "null"], "maxLength": max_length}


def text(max_length: int | None = None, *, one_line: bool = False) -> dict:
    """A string with more than blanks in it: the server strips what it reads.

    ``one_line`` text (names, labels) also has no control characters.
    """
    pattern = r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$" if one_line else r"\S"
    schema: dict[str, Any] = {"type": "string", "pattern": pattern}
    if max_length is not None:
        schema["maxLength"] = max_length
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
    query: dict[str, dict] | None = None,
    required_query: tuple[str, ...] = (),
    media_type: str = "application/json",
    also: tuple[int, ...] = (),
) -> dict:
    """One operation: its summary, request body, answer and error codes.

    ``params`` names the path's parameters; ``query`` maps query parameter
    names to their schemas, those in ``required_query`` being required.
    ``media_type`` is the answer's type (a range such as ``image/*`` for
    files); answers that are not JSON are described as a plain string.
    ``also`` lists other success codes with the same answer (a retry's 200).
    """
    if response is None:
        response = obj() if media_type == "application/json" else {"type": "string"}
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            **{
                str(code): {
                    "description": "OK",
                    "content": {media_type: {"schema": response}},
                }
                for code in (status, *also)
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
        # No body reads as {} (BaseHandler.json_body): a body is optional
        # when {} is a valid one, i.e. nothing in it is required.
        needs_something = any(k in body for k in ("required", "anyOf", "oneOf"))
        operation["requestBody"] = {
            "required": needs_something,
            "content": {"application/json": {"schema": body}},
        }
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in params
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": name in required_query,
            "schema": schema,
        }
        for name, schema in (query or {}).items()
    ]
    if parameters:
        operation["parameters"] = parameters
    return operation


# WGS-84 [longitude, latitude]; the platform stores no altitude. (Not
# prefixItems, which Schemathesis 4 misreads as the old array form of items.)
GEOJSON_POINT = obj(
    ("type", "coordinates"),
    type={"const": "Point"},
    coordinates={
        "type": "array",
        "items": {"type": "number", "minimum": -180, "maximum": 180},
        "minItems": 2,
        "maxItems": 2,
        "description": "[longitude, latitude], the latitude within ±90",
    },
)


def document(rules, version: str, terms_version: str) -> dict:
    """The OpenAPI document for every rule whose handler declares ``api``.

    Operations open to anyone say so (``security: []``); the rest need the
    session cookie, the document's default. ``terms_version`` is the version
    of the citizen terms in force.
    """
    paths: dict[str, dict] = {}
    for rule in rules:
        api = getattr(rule.target, "api", None)
        template = getattr(rule, "template", None)
        if api and template:
            declared = getattr(rule.target, "access", {})
            paths[template] = {}
            for method, spec in api.items():
                operation = dict(spec)
                if declared.get(method.upper()) == "public":
                    operation["security"] = []
                paths[template][method] = operation
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
                "TermsVersion": {"type": "string", "const": terms_version},
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
