"""The expert pool over HTTP: applying, reviewing, suspending, the directory.

Thin handlers over `server.experts.ExpertService`; `routes` lists their URLs.
"""

from __future__ import annotations

from server import access
from server.handlers import route
from server.handlers.base import BaseHandler
from server.openapi import TERMS_VERSION, obj, op, text
from server.tenants import TENANT_ID_RE

TAG = "experts"
_STR = {"type": "string"}
_STRS = {"type": "array", "items": _STR}
# An agency's id as onboarding allows it; anything else names no agency.
TENANT_ID = {"type": "string", "pattern": TENANT_ID_RE.pattern}
CATEGORY = obj(("code", "zh", "en"), code=_STR, zh=_STR, en=_STR)
DECISION = obj(
    ("decision", "at"),
    decision={"enum": ["approve", "reject", "more_info", "suspend", "reinstate"]},
    reason={"type": ["string", "null"]},
    by=obj(("id", "name"), id=_STR, name=_STR),
    at=_STR,
)
APPLICATION_BODY = obj(
    (
        "tenant",
        "name",
        "contact",
        "category",
        "skills",
        "qualifications",
        "accept_terms",
        "terms_version",
    ),
    # The server also takes an application without it while only one agency
    # exists; clients send it.
    tenant=TENANT_ID,
    name=_STR,
    contact=obj(phone=_STR, email=_STR),
    category=_STR,
    skills=_STRS,
    qualifications=_STR,
    organisation=_STR,
    accept_terms={"type": "boolean"},
    terms_version=TERMS_VERSION,
)
APPLICATION = obj(
    ("id", "reference", "status", "decisions"),
    id=_STR,
    reference=_STR,
    name=_STR,
    contact={"type": "object"},
    category=_STR,
    skills=_STRS,
    qualifications=_STR,
    status={"enum": ["pending", "more_info", "approved", "rejected"]},
    submitted_at=_STR,
    decisions={"type": "array", "items": DECISION},
)
EXPERT = obj(
    ("id", "name", "category", "skills", "availability", "consultations"),
    id=_STR,
    name=_STR,
    category=_STR,
    skills=_STRS,
    organisation={"type": ["string", "null"]},
    availability={"enum": ["available", "busy", "away"]},
    suspended={"type": "boolean"},
    consultations={"type": "integer"},
    shared={
        "type": "boolean",
        "description": "Lent by another agency through an experts grant",
    },
    tenant=obj(("id",), id=_STR, name={"type": ["string", "null"]}),
)
AVAILABILITY = obj(
    ("availability",), availability={"enum": ["available", "busy", "away"]}
)


class ExpertHandler(BaseHandler):
    """A handler of the expert pool; `self.experts` is the service."""

    @property
    def experts(self):
        return self.platform.experts


class CategoriesHandler(ExpertHandler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "An agency's expert categories",
            tag=TAG,
            response=obj(
                ("tenant", "categories"),
                tenant=_STR,
                categories={"type": "array", "items": CATEGORY},
            ),
            errors=(400, 404),
            # The server also answers without it while only one agency
            # exists; clients send it.
            query={"tenant": TENANT_ID},
            required_query=("tenant",),
        )
    }

    async def get(self) -> None:
        tenant = self.get_query_argument("tenant", None)
        self.send_json(await self.experts.categories(tenant))


class ApplicationsHandler(ExpertHandler):
    access = {"POST": access.PUBLIC}
    api = {
        "post": op(
            "Apply to join the expert pool (no account needed)",
            tag=TAG,
            body=APPLICATION_BODY,
            response=obj(("reference", "status"), reference=_STR, status=_STR),
            errors=(400, 403, 404, 429),
            status=201,
        )
    }

    async def post(self) -> None:
        answer = await self.experts.apply(self.json_body(), self.request.remote_ip)
        self.send_json(answer, status=201)


class ApplicationStatusHandler(ExpertHandler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "An application's status (?contact= the phone or e-mail given)",
            tag=TAG,
            response=obj(
                ("reference", "status", "decisions"),
                reference=_STR,
                status=_STR,
                submitted_at=_STR,
                decisions={"type": "array", "items": DECISION},
            ),
            errors=(404,),
            params=("reference",),
        )
    }

    async def get(self, reference: str) -> None:
        contact = self.get_query_argument("contact", None)
        self.send_json(await self.experts.status(reference, contact))


class ReviewListHandler(ExpertHandler):
    access = {"GET": "experts.review"}
    api = {
        "get": op(
            "The agency's expert applications (?status=)",
            tag=TAG,
            response=obj(
                ("applications",),
                applications={"type": "array", "items": APPLICATION},
            ),
            errors=(400, 401, 403),
        )
    }

    async def get(self) -> None:
        status = self.get_query_argument("status", None)
        found = await self.experts.applications(self.principal.tenant_id, status)
        self.send_json({"applications": found})


class DecisionHandler(ExpertHandler):
    access = {"POST": "experts.review"}
    api = {
        "post": op(
            "Approve, reject or ask for more; approving returns the initial "
            "password once",
            tag=TAG,
            # Rejecting or asking for more tells the applicant why.
            body={
                "oneOf": [
                    obj(("decision",), decision={"const": "approve"}, reason=_STR),
                    obj(
                        ("decision", "reason"),
                        decision={"enum": ["reject", "more_info"]},
                        reason=text(1000),
                    ),
                ]
            },
            response=obj(
                ("application",),
                application=APPLICATION,
                account=obj(
                    ("user_id", "username", "password"),
                    user_id=_STR,
                    username=_STR,
                    password=_STR,
                ),
            ),
            errors=(400, 401, 403, 404, 409),
            params=("application_id",),
        )
    }

    async def post(self, application_id: str) -> None:
        body = self.json_body()
        answer = await self.experts.decide(
            self.principal, application_id, body.get("decision"), body.get("reason")
        )
        self.send_json(answer)


class SuspendHandler(ExpertHandler):
    access = {"POST": "experts.review"}
    suspend = True

    async def post(self, user_id: str) -> None:
        reason = self.json_body().get("reason")
        expert = await self.experts.set_suspended(
            self.principal, user_id, self.suspend, reason
        )
        self.send_json({"expert": expert})


def _suspension_op(summary: str) -> dict:
    return {
        "post": op(
            summary,
            tag=TAG,
            body=obj(reason=_STR),
            response=obj(("expert",), expert=EXPERT),
            errors=(400, 401, 403, 404),
            params=("user_id",),
        )
    }


SuspendHandler.api = _suspension_op("Suspend an expert; their sessions end at once")


class ReinstateHandler(SuspendHandler):
    suspend = False
    api = _suspension_op("Reinstate a suspended expert")


class AvailabilityHandler(ExpertHandler):
    access = {"GET": "expert.self", "POST": "expert.self"}
    api = {
        "get": op(
            "The calling expert's availability",
            tag=TAG,
            response=AVAILABILITY,
            errors=(401, 403),
        ),
        "post": op(
            "Set the calling expert's availability",
            tag=TAG,
            body=AVAILABILITY,
            response=AVAILABILITY,
            errors=(400, 401, 403),
        ),
    }

    async def get(self) -> None:
        availability = await self.experts.availability(self.principal)
        self.send_json({"availability": availability})

    async def post(self) -> None:
        wanted = self.json_body().get("availability")
        availability = await self.experts.set_availability(self.principal, wanted)
        self.send_json({"availability": availability})


class DirectoryHandler(ExpertHandler):
    access = {"GET": "experts.directory"}
    api = {
        "get": op(
            "The agency's experts (?category=&skill=) with availability",
            tag=TAG,
            response=obj(("experts",), experts={"type": "array", "items": EXPERT}),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        experts = await self.experts.directory(
            self.principal,
            self.get_query_argument("category", None),
            self.get_query_argument("skill", None),
        )
        self.send_json({"experts": experts})


def routes() -> list:
    """The URL rules of the expert pool."""
    return [
        route("/api/expert-categories", CategoriesHandler),
        route("/api/expert-applications", ApplicationsHandler),
        route("/api/expert-applications/{reference}", ApplicationStatusHandler),
        route("/api/admin/expert-applications", ReviewListHandler),
        route(
            "/api/admin/expert-applications/{application_id}/decision",
            DecisionHandler,
        ),
        route("/api/admin/experts/{user_id}/suspend", SuspendHandler),
        route("/api/admin/experts/{user_id}/reinstate", ReinstateHandler),
        route("/api/expert/availability", AvailabilityHandler),
        route("/api/experts", DirectoryHandler),
    ]
