"""The API's own description, and the access log."""

from __future__ import annotations

import logging

from server import __version__, access, openapi
from server.handlers.base import BaseHandler

access_log = logging.getLogger("jingdi.access")


class OpenAPIHandler(BaseHandler):
    """``GET /api/openapi.json``: generated from the live routing table."""

    access = {"GET": access.PUBLIC}
    api = {
        "get": openapi.op(
            "This document",
            tag="operations",
            response=openapi.obj(("openapi", "paths"), openapi={"const": "3.1.0"}),
        )
    }

    async def prepare(self) -> None:
        pass  # Public and session-free.

    def get(self) -> None:
        rules = self.application.wildcard_router.rules
        terms = self.platform.config.security.terms_version
        self.send_json(openapi.document(rules, __version__, terms))


def log_request(handler) -> None:
    """One line per request; the status decides the level.

    The query string is left out: it can carry plate codes or tokens.
    """
    status = handler.get_status()
    if status < 400:
        level = logging.INFO
    elif status < 500 or status == 503:
        # 503 is a known degraded state (the database is down), reported on
        # its own; ERROR is kept for answers that reveal a bug.
        level = logging.WARNING
    else:
        level = logging.ERROR
    principal = getattr(handler, "principal", None)
    who = f"{principal.kind}={principal.id}" if principal else "-"
    access_log.log(
        level,
        "%d %s %s %s %.1fms",
        status,
        handler.request.method,
        handler.request.path,
        who,
        1000.0 * handler.request.request_time(),
    )
