"""JSON encoding shared by the API and the websocket (orjson, done once)."""

import datetime as dt

import orjson
from bson import ObjectId


def _default(value):
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value) -> bytes:
    """UTF-8 JSON; ObjectIds become text and datetimes ISO 8601 strings."""
    return orjson.dumps(value, default=_default)


def dumps_text(value) -> str:
    """Like `dumps`, as text (websocket text frames need str)."""
    return dumps(value).decode()


loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError
