"""The audit log's API: an agency's admins search, export and check it.

An agency admin reads their own agency's chain; a platform admin reads any
chain (``chain=<tenant id>`` or ``platform``). Exporting and checking are
themselves recorded.
"""

from __future__ import annotations

from server.access import PLATFORM_ADMIN
from server.audit import PLATFORM_CHAIN
from server.errors import NotFound
from server.handlers import route
from server.handlers.base import BaseHandler
from server.openapi import obj, op

FILTERS = ("action", "actor", "target", "outcome", "from", "to", "limit")
ENTRY = obj(
    ("seq", "at", "actor", "action", "outcome", "hash"),
    seq={"type": "integer"},
    at={"type": "string", "format": "date-time"},
    tenant_id={"type": ["string", "null"]},
    actor=obj(
        ("id", "kind", "roles"),
        id={"type": ["string", "null"]},
        kind={"type": "string"},
        roles={"type": "array", "items": {"type": "string"}},
        name={"type": "string"},
    ),
    action={"type": "string"},
    target={
        "oneOf": [
            obj(
                ("type", "id"), type={"type": "string"}, id={"type": ["string", "null"]}
            ),
            {"type": "null"},
        ]
    },
    outcome={"enum": ["ok", "refused", "failed"]},
    detail={"type": "object"},
    hash={"type": "string"},
)


class AuditBase(BaseHandler):
    def chain(self) -> str:
        """The chain the caller may read: their agency's, or any for the platform."""
        asked = self.get_query_argument("chain", None)
        if PLATFORM_ADMIN in self.principal.roles:
            return asked or self.principal.tenant_id or PLATFORM_CHAIN
        if asked not in (None, self.principal.tenant_id):
            raise NotFound("No such audit log.")
        return self.principal.tenant_id

    def filters(self) -> dict:
        return {name: self.get_query_argument(name, None) for name in FILTERS}


class AuditHandler(AuditBase):
    access = {"GET": "audit.read"}
    api = {
        "get": op(
            "Audit entries, newest first; query: action (a name, or a prefix "
            "ending in '.'), actor, target (ids), outcome, from, to (ISO times), "
            "limit (≤500), chain (platform admins)",
            tag="audit",
            response=obj(("entries",), entries={"type": "array", "items": ENTRY}),
            errors=(400, 401, 403, 404),
        )
    }

    async def get(self) -> None:
        entries = await self.platform.audit.search(self.chain(), self.filters())
        self.send_json({"entries": entries})


class AuditExportHandler(AuditBase):
    access = {"GET": "audit.read"}
    api = {
        "get": op(
            "The matching entries as CSV, oldest first, with their hashes",
            tag="audit",
            media_type="text/csv",
            errors=(400, 401, 403, 404),
        )
    }

    async def get(self) -> None:
        chain = self.chain()
        text, count = await self.platform.audit.export_csv(chain, self.filters())
        self.platform.audit.record(
            self.principal,
            "audit.export",
            tenant_id=None if chain == PLATFORM_CHAIN else chain,
            target=("audit", chain),
            detail={"rows": count},
        )
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header(
            "Content-Disposition", f"attachment; filename=audit-{chain}.csv"
        )
        self.finish(text.encode("utf-8"))


class AuditVerifyHandler(AuditBase):
    access = {"GET": "audit.read"}
    api = {
        "get": op(
            "Walk the chain and report where it breaks (edited or missing entries)",
            tag="audit",
            response=obj(
                ("chain", "intact", "problems"),
                chain={"type": "string"},
                intact={"type": "boolean"},
                problems={"type": "array", "items": {"type": "object"}},
            ),
            errors=(401, 403, 404),
        )
    }

    async def get(self) -> None:
        chain = self.chain()
        await self.platform.audit.flush()
        problems = await self.platform.audit.verify(chain)
        self.send_json({"chain": chain, "intact": not problems, "problems": problems})


def routes() -> list:
    return [
        route("/api/audit", AuditHandler),
        route("/api/audit/export.csv", AuditExportHandler),
        route("/api/audit/verify", AuditVerifyHandler),
    ]
