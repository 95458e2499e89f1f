"""The expert pool: public applications, the agency's review, and the directory.

Anyone may apply without an account; the applicant keeps a reference and
checks the status with it and the contact they gave. An agency administrator
approves (which creates an expert account with a one-time initial password),
rejects with a reason or asks for more. Every decision, and every suspension
of an expert, is recorded with who made it and when. Officers and commanders
find experts by category and skill, with the availability each expert sets.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from server import access
from server.access import Principal
from server.auth import PHONE_RE, AuthService
from server.catalog import settings_of
from server.config import Config
from server.errors import Conflict, Invalid, NotFound, RateLimited
from server.passwords import hash_password
from server.storage import TenantCollection, object_id

log = logging.getLogger(__name__)

# Applications per client address per hour: a family or an office sharing an
# address may apply together; a script filling the review queue may not.
APPLICATIONS_PER_ADDRESS_HOUR = 5
RATE_WINDOW = dt.timedelta(hours=1)
# Field bounds: long enough for any real entry, short enough to refuse junk.
MAX_NAME = 60
MAX_ORGANISATION = 120
MAX_QUALIFICATIONS = 2000
MAX_SKILLS = 12
MAX_SKILL = 30
MAX_REASON = 1000
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# References avoid look-alike characters (0/O, 1/I/L) so they can be read out
# on the phone; 8 characters of 31 give 8.5e11 values, beyond guessing.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 8
# Initial passwords are typed by hand once: no look-alikes, 12 characters
# (about 68 bits), and the expert should change it.
PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ"
PASSWORD_LENGTH = 12
# A directory or review list is small (tens to hundreds); this bound only
# protects the server from a runaway tenant.
MAX_LIST = 2000

STATUSES = ("pending", "more_info", "approved", "rejected")
DECISIONS = {
    # decision: (the status it leads to, the statuses it may follow)
    "approve": ("approved", ("pending", "more_info")),
    "reject": ("rejected", ("pending", "more_info")),
    "more_info": ("more_info", ("pending", "more_info")),
}
AVAILABILITY = ("available", "busy", "away")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _text(value: Any, limit: int, reason: str, message: str) -> str:
    """A stripped non-empty string within ``limit``, or ``Invalid``."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(message, reason)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{message} (at most {limit} characters)", reason)
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        # Terminal escapes and bare carriage returns: never a name or a skill.
        raise Invalid(f"{message} (no control characters)", reason)
    return value


def _skills(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid("Add at least one skill.", "skills_required")
    skills: list[str] = []
    for item in value:
        skill = _text(item, MAX_SKILL, "skill_invalid", "Each skill is a short text.")
        if skill not in skills:
            skills.append(skill)
    if len(skills) > MAX_SKILLS:
        raise Invalid(f"List at most {MAX_SKILLS} skills.", "too_many_skills")
    return skills


def _contact(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        value = {}
    phone = (value.get("phone") or "").strip() or None
    email = (value.get("email") or "").strip().lower() or None
    if phone is None and email is None:
        raise Invalid("Give a phone number or an e-mail address.", "contact_required")
    if phone is not None and not PHONE_RE.match(phone):
        raise Invalid("The phone number is not valid.", "phone_invalid")
    if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise Invalid("The e-mail address is not valid.", "email_invalid")
    return {"phone": phone, "email": email}


def _slug(name: str) -> str:
    """The ASCII letters and digits of a name; ``expert`` if it has none."""
    slug = re.sub(r"[^a-z0-9]", "", name.lower())[:20]
    return slug or "expert"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _by(principal: Principal) -> dict[str, str]:
    return {"id": principal.id, "name": principal.name}


def application_view(doc: dict) -> dict:
    """An application as its agency's administrators see it."""
    return {
        "id": str(doc["_id"]),
        "reference": doc["reference"],
        "name": doc.get("name"),
        "contact": doc.get("contact") or {},
        "category": doc.get("category"),
        "skills": doc.get("skills", []),
        "qualifications": doc.get("qualifications"),
        "organisation": doc.get("organisation"),
        "status": doc.get("status"),
        "submitted_at": doc.get("submitted_at"),
        "decisions": doc.get("decisions", []),
        "user_id": doc.get("user_id"),
    }


def status_view(doc: dict) -> dict:
    """What the applicant may see: the status and the reasons, not who decided."""
    return {
        "reference": doc["reference"],
        "status": doc["status"],
        "submitted_at": doc.get("submitted_at"),
        "decisions": [
            {"decision": d["decision"], "reason": d.get("reason"), "at": d["at"]}
            for d in doc.get("decisions", [])
        ],
    }


def expert_view(doc: dict, consultations: int) -> dict:
    """An expert as the directory shows them."""
    expert = doc.get("expert") or {}
    return {
        "id": str(doc["_id"]),
        "name": doc.get("name"),
        "category": expert.get("category"),
        "skills": expert.get("skills", []),
        "qualifications": expert.get("qualifications"),
        "organisation": expert.get("organisation"),
        "availability": expert.get("availability", "available"),
        "suspended": bool(doc.get("disabled")),
        "consultations": consultations,
    }


class ExpertService:
    """Applications, their review, expert accounts and the directory."""

    def __init__(self, db: AsyncDatabase, config: Config, auth: AuthService):
        self.db = db
        self.config = config
        self.auth = auth
        # Grants between agencies (set by the platform): the directory also
        # lists experts lent by agencies granting "experts" to the caller's.
        self.grants = None

    def _in(self, name: str, tenant_id: str) -> TenantCollection:
        return TenantCollection(self.db[name], tenant_id)

    # -- public ------------------------------------------------------------

    async def tenant_for(self, tenant_id: str | None) -> dict:
        """The named tenant, or the only one when none is named."""
        if tenant_id:
            doc = await self.db.tenants.find_one({"_id": tenant_id})
            if doc is None:
                raise NotFound("No such agency.")
            return doc
        docs = await self.db.tenants.find().limit(2).to_list()
        if len(docs) != 1:
            raise Invalid("Choose the agency to apply to.", "tenant_required")
        return docs[0]

    async def tenants(self) -> list[dict]:
        """Every agency an applicant may choose (id and names)."""
        cursor = self.db.tenants.find({}, {"name": 1, "name_en": 1}).sort("_id")
        return [
            {"id": d["_id"], "name": d.get("name"), "name_en": d.get("name_en")}
            async for d in cursor.limit(MAX_LIST)
        ]

    async def categories(self, tenant_id: str | None) -> dict:
        tenant = await self.tenant_for(tenant_id)
        categories = settings_of(tenant)["expert_categories"]
        return {"tenant": tenant["_id"], "categories": categories}

    async def apply(self, body: dict, client_ip: str) -> dict:
        """Store a valid application; returns its reference and status."""
        tenant = await self.tenant_for(body.get("tenant"))
        doc = self._validate(body, settings_of(tenant)["expert_categories"])
        await self._check_rate(client_ip)
        doc.update(
            tenant_id=tenant["_id"],
            client_ip=client_ip,
            status="pending",
            submitted_at=now(),
            decisions=[],
        )
        for _ in range(3):  # a reference collision is astronomically rare
            doc["reference"] = "EXP-" + _random(REFERENCE_ALPHABET, REFERENCE_LENGTH)
            try:
                await self.db.expert_applications.insert_one(doc)
                break
            except DuplicateKeyError:
                doc.pop("_id", None)
        log.info("expert application %s tenant=%s", doc["_id"], tenant["_id"])
        return {"reference": doc["reference"], "status": "pending"}

    def _validate(self, body: dict, categories: list[dict]) -> dict:
        name = _text(body.get("name"), MAX_NAME, "name_required", "Enter your name.")
        contact = _contact(body.get("contact"))
        if body.get("category") not in {c["code"] for c in categories}:
            raise Invalid("Choose one of the categories.", "category_invalid")
        skills = _skills(body.get("skills"))
        qualifications = _text(
            body.get("qualifications"),
            MAX_QUALIFICATIONS,
            "qualifications_required",
            "Describe your qualifications.",
        )
        organisation = body.get("organisation") or None
        if organisation is not None:
            organisation = _text(
                organisation, MAX_ORGANISATION, "organisation_invalid", "Organisation"
            )
        if body.get("accept_terms") is not True:
            raise Invalid("Please accept the terms to apply.", "terms_required")
        terms_version = self.config.security.terms_version
        if body.get("terms_version") != terms_version:
            raise Invalid(
                "The terms have changed; please read them again.", "terms_outdated"
            )
        return {
            "name": name,
            "contact": contact,
            "category": body["category"],
            "skills": skills,
            "qualifications": qualifications,
            "organisation": organisation,
            "consent": {"terms_version": terms_version, "at": now()},
        }

    async def _check_rate(self, client_ip: str) -> None:
        count = await self.db.expert_applications.count_documents(
            {"client_ip": client_ip, "submitted_at": {"$gte": now() - RATE_WINDOW}},
            limit=APPLICATIONS_PER_ADDRESS_HOUR,
        )
        if count >= APPLICATIONS_PER_ADDRESS_HOUR:
            raise RateLimited(
                "Too many applications from this network; try again in an hour.",
                retry_after=int(RATE_WINDOW.total_seconds()),
                reason="too_many_applications",
            )

    async def status(self, reference: str, contact: str | None) -> dict:
        """An application's status for whoever knows its reference and contact."""
        given = (contact or "").strip()
        doc = await self.db.expert_applications.find_one(
            {"reference": reference.strip().upper()}
        )
        known = doc and {doc["contact"].get("phone"), doc["contact"].get("email")}
        # The same answer for a wrong reference and a wrong contact.
        if not given or not known or given.lower() not in known - {None}:
            raise NotFound("No application matches this reference and contact.")
        return status_view(doc)

    # -- review ------------------------------------------------------------

    async def applications(self, tenant_id: str, status: str | None) -> list[dict]:
        query = {}
        if status:
            if status not in STATUSES:
                raise Invalid("Unknown status.", "status_invalid")
            query["status"] = status
        cursor = self._in("expert_applications", tenant_id).find(query)
        cursor = cursor.sort("submitted_at", -1).limit(MAX_LIST)
        return [application_view(d) async for d in cursor]

    async def decide(
        self, principal: Principal, application_id: str, decision: Any, reason: Any
    ) -> dict:
        """Record a decision; approving also creates the expert's account."""
        # A list or an object in the body is not hashable: check the type first.
        if not isinstance(decision, str) or decision not in DECISIONS:
            raise Invalid("Decide approve, reject or more_info.", "decision_invalid")
        if decision == "approve":
            reason = (reason.strip() or None) if isinstance(reason, str) else None
        else:
            reason = _text(
                reason,
                MAX_REASON,
                "decision_reason_required",
                "Give the applicant a reason.",
            )
        status, allowed = DECISIONS[decision]
        entry = {"decision": decision, "reason": reason, "by": _by(principal)}
        entry["at"] = now()
        applications = self._in("expert_applications", principal.tenant_id)
        before = await applications.find_one_and_update(
            {"_id": object_id(application_id), "status": {"$in": list(allowed)}},
            {"$set": {"status": status}, "$push": {"decisions": entry}},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            if await applications.find_one({"_id": object_id(application_id)}):
                raise Conflict("This application is already decided.", "decided")
            raise NotFound("No such application.")
        log.info("expert application %s: %s", application_id, decision)
        self.audit.record(
            principal,
            f"expert.{decision}",
            tenant_id=before["tenant_id"],
            target=("application", application_id),
        )
        decisions = [*before.get("decisions", []), entry]
        doc = {**before, "status": status, "decisions": decisions}
        answer: dict[str, Any] = {}
        if decision == "approve":
            try:
                answer["account"] = await self._create_account(doc)
            except BaseException:
                # No account, so no approval: put the application back as it
                # was, so that the admin can simply approve it again.
                await applications.update_one(
                    {"_id": before["_id"], "status": status},
                    {"$set": {"status": before["status"]}, "$pop": {"decisions": 1}},
                )
                raise
            doc["user_id"] = answer["account"]["user_id"]
        answer["application"] = application_view(doc)
        return answer

    async def _create_account(self, application: dict) -> dict:
        """The approved applicant's account; the password is returned only here."""
        password = _random(PASSWORD_ALPHABET, PASSWORD_LENGTH)
        loop = asyncio.get_running_loop()
        encoded = await loop.run_in_executor(None, hash_password, password)
        user = {
            "tenant_id": application["tenant_id"],
            "name": application["name"],
            "roles": [access.EXPERT],
            "password_hash": encoded,
            "disabled": False,
            "created_at": now(),
            "phone": application["contact"].get("phone"),
            "email": application["contact"].get("email"),
            "application_id": str(application["_id"]),
            "expert": {
                "category": application["category"],
                "skills": application["skills"],
                "qualifications": application["qualifications"],
                "organisation": application.get("organisation"),
                "availability": "available",
                "decisions": [],
            },
        }
        username = await self._insert_with_username(user, _slug(application["name"]))
        await self.db.expert_applications.update_one(
            {"_id": application["_id"]}, {"$set": {"user_id": str(user["_id"])}}
        )
        log.info("expert account %s created", user["_id"])
        return {"user_id": str(user["_id"]), "username": username, "password": password}

    async def _insert_with_username(self, user: dict, slug: str) -> str:
        """Insert ``user`` as ``<slug><n>`` with the first free number."""
        taken = self.db.users.find(
            {"username": {"$regex": f"^{slug}[0-9]+$"}}, {"username": 1}
        )
        numbers = [int(d["username"][len(slug) :]) async for d in taken]
        number = max(numbers, default=0)
        for _ in range(5):  # another approval may take the same number meanwhile
            number += 1
            user["username"] = f"{slug}{number:02d}"
            try:
                await self.db.users.insert_one(user)
                return user["username"]
            except DuplicateKeyError:
                user.pop("_id", None)
        raise Conflict("Could not choose a username; try again.", "username_taken")

    async def set_suspended(
        self, principal: Principal, user_id: str, suspended: bool, reason: Any
    ) -> dict:
        """Suspend (ending every session) or reinstate an expert; recorded."""
        users = self._in("users", principal.tenant_id)
        query = {"_id": object_id(user_id), "roles": access.EXPERT}
        if await users.find_one(query, {"_id": 1}) is None:
            raise NotFound("No such expert.")
        await self.auth.set_disabled(principal.tenant_id, user_id, suspended)
        entry = {
            "decision": "suspend" if suspended else "reinstate",
            "reason": (reason.strip() or None) if isinstance(reason, str) else None,
            "by": _by(principal),
            "at": now(),
        }
        doc = await users.find_one_and_update(
            query,
            {"$push": {"expert.decisions": entry}},
            return_document=ReturnDocument.AFTER,
        )
        log.info("expert %s %s", user_id, entry["decision"])
        self.audit.record(
            principal,
            f"expert.{entry['decision']}",
            tenant_id=doc["tenant_id"],
            target=("user", user_id),
        )
        counts = await self._consultations([doc["_id"]])
        return expert_view(doc, counts.get(user_id, 0))

    # -- experts and the directory ---------------------------------------

    async def availability(self, principal: Principal) -> str:
        doc = await self._in("users", principal.tenant_id).find_one(
            {"_id": object_id(principal.id)}, {"expert.availability": 1}
        )
        return ((doc or {}).get("expert") or {}).get("availability", "available")

    async def set_availability(self, principal: Principal, availability: Any) -> str:
        if availability not in AVAILABILITY:
            raise Invalid("Choose available, busy or away.", "availability_invalid")
        result = await self._in("users", principal.tenant_id).update_one(
            {"_id": object_id(principal.id), "roles": access.EXPERT},
            {"$set": {"expert.availability": availability}},
        )
        if result.matched_count == 0:
            raise NotFound("No such expert.")
        return availability

    async def directory(
        self, principal: Principal, category: str | None, skill: str | None
    ) -> list[dict]:
        """The tenant's experts, then those other agencies grant it.

        Suspended experts are listed only for the agency's own
        administrators; a lent expert carries ``shared`` and its agency.
        """
        query: dict[str, Any] = {"roles": access.EXPERT}
        if category:
            query["expert.category"] = category
        if skill:
            query["expert.skills"] = skill.strip()
        own = dict(query)
        if not principal.has("experts.review"):
            own["disabled"] = {"$ne": True}
        cursor = self._in("users", principal.tenant_id).find(own).sort("name")
        docs = [d async for d in cursor.limit(MAX_LIST)]
        lenders = []
        if self.grants is not None and principal.tenant_id:
            lenders = await self.grants.tenants_granting(principal.tenant_id, "experts")
        if lenders:
            lent = {**query, "tenant_id": {"$in": lenders}, "disabled": {"$ne": True}}
            cursor = self.db.users.find(lent).sort("name")
            docs += [d async for d in cursor.limit(MAX_LIST)]
        counts = await self._consultations([d["_id"] for d in docs])
        names = {}
        if self.grants is not None:
            names = await self.grants.names([principal.tenant_id, *lenders])
        views = []
        for doc in docs:
            view = expert_view(doc, counts.get(str(doc["_id"]), 0))
            view["shared"] = doc["tenant_id"] != principal.tenant_id
            view["tenant"] = {
                "id": doc["tenant_id"],
                "name": names.get(doc["tenant_id"]),
            }
            views.append(view)
        return views

    async def _consultations(self, user_ids: list) -> dict:
        """How many consultation rooms each of these users is a member of."""
        ids = [str(i) for i in user_ids]
        if not ids:
            return {}
        pipeline = [
            {"$match": {"members.user_id": {"$in": ids}}},
            {"$unwind": "$members"},
            {"$match": {"members.user_id": {"$in": ids}}},
            {"$group": {"_id": "$members.user_id", "count": {"$sum": 1}}},
        ]
        cursor = await self.db.rooms.aggregate(pipeline)
        return {d["_id"]: d["count"] async for d in cursor}
