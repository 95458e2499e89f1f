"""Identity: staff logins, citizens' device sessions, and session revocation.

Sessions are stored server-side in ``sessions`` keyed by the SHA-256 of a
random token; the raw token lives only in the client's HttpOnly cookie. Logout,
disabling an account or the idle limit end a session at once, and listeners
(the realtime hub) are told so that open sockets close too.

Failed logins are counted per account name whether or not the account exists,
so a lock-out looks the same for every name and reveals nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from server import access
from server.access import Principal
from server.config import Config
from server.errors import Invalid, NotFound, RateLimited, Unauthenticated
from server.passwords import DUMMY_HASH, verify_password
from server.storage import object_id

log = logging.getLogger(__name__)

# A session's expiry is pushed forward at most once a minute, so an active
# user costs one session write per minute rather than one per request.
TOUCH_INTERVAL = dt.timedelta(seconds=60)
# Long enough for any real name, short enough to refuse junk cheaply.
MAX_USERNAME = 64
MAX_PASSWORD = 256
PHONE_RE = re.compile(r"^\+?[0-9]{6,15}$")

RevocationListener = Callable[[set[str]], None]


def _bad_login() -> Unauthenticated:
    # One answer for a wrong name, a wrong password and a disabled account.
    return Unauthenticated("Wrong account name or password.", "invalid_credentials")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_key(token: str) -> str:
    """The stored key of a session token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def public_user(principal: Principal) -> dict:
    """What a client may know about its own principal."""
    return {
        "id": principal.id,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "kind": principal.kind,
        "tenant_id": principal.tenant_id,
    }


class AuthService:
    """Logs staff in and out, admits citizens, and resolves session tokens."""

    def __init__(self, db: AsyncDatabase, config: Config):
        self.db = db
        self.config = config
        self.listeners: list[RevocationListener] = []

    # -- staff -----------------------------------------------------------

    async def login(
        self, username: str, password: str, client_ip: str | None = None
    ) -> tuple[str, Principal]:
        """Check a password and open a staff session; returns (token, principal).

        Failures are counted per account name (a lock after a few) and per
        client address (a lock after many, whatever the names tried).
        """
        name = self._normalise_username(username)
        if not isinstance(password, str) or not password:
            raise Invalid("Enter a password.", "password_required")
        if len(password) > MAX_PASSWORD:
            raise Unauthenticated(
                "Wrong account name or password.", "invalid_credentials"
            )
        await self._refuse_if_locked(name)
        await self._refuse_address_if_locked(client_ip)
        user = await self.db.users.find_one({"username": name})
        loop = asyncio.get_running_loop()
        encoded = user["password_hash"] if user else DUMMY_HASH
        ok = await loop.run_in_executor(None, verify_password, encoded, password)
        if not ok or user is None or user.get("disabled"):
            await self._count_failure(name)
            await self._count_address_failure(client_ip)
            log.info("login refused user_known=%s", user is not None)
            # Into the agency's chain when the account exists; the name typed
            # is kept (it is not a secret), the password never.
            self.audit.record(
                None,
                "auth.login",
                tenant_id=user.get("tenant_id") if user else None,
                target=("user", user["_id"] if user else None),
                outcome="refused",
                detail={
                    "username": name,
                    "disabled": bool(user and user.get("disabled")),
                },
                actor_name=name,
            )
            raise Unauthenticated(
                "Wrong account name or password.", "invalid_credentials"
            )
        await self.db.login_throttle.delete_one({"_id": name})
        principal = self._staff_principal(user, session_id="")
        token, principal = await self._open_session(principal, self._staff_expiry())
        log.info("login user=%s tenant=%s", principal.id, principal.tenant_id)
        self.audit.record(
            principal,
            "auth.login",
            tenant_id=principal.tenant_id,
            target=("user", principal.id),
        )
        return token, principal

    def _normalise_username(self, username) -> str:
        if not isinstance(username, str) or not username.strip():
            raise Invalid("Enter an account name.", "username_required")
        name = username.strip().lower()
        if len(name) > MAX_USERNAME:
            raise Unauthenticated(
                "Wrong account name or password.", "invalid_credentials"
            )
        return name

    async def _refuse_if_locked(self, name: str) -> None:
        entry = await self.db.login_throttle.find_one({"_id": name})
        locked_until = entry and entry.get("locked_until")
        if locked_until and locked_until > now():
            wait = int((locked_until - now()).total_seconds()) + 1
            raise RateLimited(
                f"Too many failed attempts. Try again in {(wait + 59) // 60} minutes.",
                retry_after=wait,
                reason="locked",
            )

    async def _count_failure(self, name: str) -> None:
        sec = self.config.security
        lock = dt.timedelta(minutes=sec.login_lock_minutes)
        entry = await self.db.login_throttle.find_one_and_update(
            {"_id": name},
            {"$inc": {"failures": 1}, "$set": {"expires_at": now() + lock}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if entry["failures"] >= sec.login_max_failures:
            # Reset the count so that the next window starts afresh.
            await self.db.login_throttle.update_one(
                {"_id": name},
                {"$set": {"locked_until": now() + lock, "failures": 0}},
            )
            log.warning("account name locked for %d minutes", sec.login_lock_minutes)

    async def _refuse_address_if_locked(self, client_ip: str | None) -> None:
        if not client_ip:
            return
        entry = await self.db.login_address_throttle.find_one({"_id": client_ip})
        limit = self.config.security.login_max_failures_per_address
        if entry and entry["failures"] >= limit and entry["expires_at"] > now():
            wait = int((entry["expires_at"] - now()).total_seconds()) + 1
            raise RateLimited(
                "Too many failed sign-ins from this network. "
                f"Try again in {(wait + 59) // 60} minutes.",
                retry_after=wait,
                reason="address_locked",
            )

    async def _count_address_failure(self, client_ip: str | None) -> None:
        """One more failure from this address within the current window.

        The window opens at the first failure and lasts login_lock_minutes;
        reaching the limit inside it refuses the address until it closes.
        """
        if not client_ip:
            return
        sec = self.config.security
        at = now()
        window = dt.timedelta(minutes=sec.login_lock_minutes)
        # A window that has closed (the TTL monitor runs once a minute) starts
        # over; then count the failure in whatever window is open.
        await self.db.login_address_throttle.delete_one(
            {"_id": client_ip, "expires_at": {"$lte": at}}
        )
        entry = await self.db.login_address_throttle.find_one_and_update(
            {"_id": client_ip},
            {"$inc": {"failures": 1}, "$setOnInsert": {"expires_at": at + window}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if entry["failures"] == sec.login_max_failures_per_address:
            log.warning(
                "a client address reached %d failed logins; refused for %d minutes",
                entry["failures"],
                sec.login_lock_minutes,
            )

    def _staff_principal(self, user: dict, session_id: str) -> Principal:
        return Principal(
            kind="staff",
            id=str(user["_id"]),
            roles=frozenset(user.get("roles", [])) & access.STAFF_ROLES,
            session_id=session_id,
            tenant_id=user.get("tenant_id"),
            name=user.get("name", ""),
        )

    def _staff_expiry(self) -> dt.datetime:
        return now() + dt.timedelta(minutes=self.config.security.staff_idle_minutes)

    # -- citizens --------------------------------------------------------

    async def admit_citizen(
        self, accept_terms, terms_version, phone=None
    ) -> tuple[str, Principal]:
        """Open a device session for a citizen who accepted the current terms."""
        current = self.config.security.terms_version
        if accept_terms is not True:
            raise Invalid("Please accept the terms to continue.", "terms_required")
        if terms_version != current:
            raise Invalid(
                "The terms have changed; please read them again.", "terms_outdated"
            )
        if phone is not None and (
            not isinstance(phone, str) or not PHONE_RE.match(phone)
        ):
            raise Invalid("The phone number is not valid.", "phone_invalid")
        citizen = {
            "_id": ObjectId(),
            "created_at": now(),
            "terms": {"version": current, "accepted_at": now()},
            "has_phone": phone is not None,
        }
        if phone is not None:
            # Apart from the citizen, so that a TTL index removes the number
            # (and only the number) after its retention period.
            days = self.config.security.citizen_phone_days
            await self.db.citizen_contacts.insert_one(
                {
                    "_id": str(citizen["_id"]),
                    "phone": phone,
                    "expires_at": now() + dt.timedelta(days=days),
                }
            )
        await self.db.citizens.insert_one(citizen)
        principal = Principal(
            kind="citizen",
            id=str(citizen["_id"]),
            roles=frozenset({access.CITIZEN}),
            session_id="",
        )
        days = self.config.security.citizen_session_days
        token, principal = await self._open_session(
            principal, now() + dt.timedelta(days=days)
        )
        log.info("citizen admitted id=%s terms=%s", principal.id, current)
        return token, principal

    # -- sessions --------------------------------------------------------

    async def _open_session(
        self, principal: Principal, expires_at: dt.datetime
    ) -> tuple[str, Principal]:
        token = secrets.token_urlsafe(32)
        key = token_key(token)
        await self.db.sessions.insert_one(
            {
                "_id": key,
                "kind": principal.kind,
                "user_id": principal.id,
                "tenant_id": principal.tenant_id,
                "created_at": now(),
                "touched_at": now(),
                "expires_at": expires_at,
            }
        )
        return token, Principal(**{**principal.__dict__, "session_id": key})

    async def principal_for_token(self, token: str | None) -> Principal | None:
        """The principal of a live session, or None; keeps staff sessions alive."""
        principal, _ = await self.identify(token)
        return principal

    async def identify(self, token: str | None) -> tuple[Principal | None, dict | None]:
        """The principal of a live session and, for staff, the account as
        read for it (a socket that opens needs it too: one read, not two)."""
        if not token or len(token) > 128:
            return None, None
        key = token_key(token)
        session = await self.db.sessions.find_one({"_id": key})
        if session is None or session["expires_at"] <= now():
            return None, None
        if session["kind"] == "citizen":
            principal = Principal(
                kind="citizen",
                id=session["user_id"],
                roles=frozenset({access.CITIZEN}),
                session_id=key,
            )
            return principal, None
        user = await self.db.users.find_one({"_id": object_id(session["user_id"])})
        if user is None or user.get("disabled"):
            await self.revoke({key})
            return None, None
        if now() - session["touched_at"] > TOUCH_INTERVAL:
            await self.db.sessions.update_one(
                {"_id": key},
                {"$set": {"touched_at": now(), "expires_at": self._staff_expiry()}},
            )
        return self._staff_principal(user, key), user

    async def logout(self, principal: Principal) -> None:
        """End one session."""
        await self.revoke({principal.session_id})
        log.info("logout %s=%s", principal.kind, principal.id)
        if principal.kind == "staff":
            self.audit.record(
                principal,
                "auth.logout",
                tenant_id=principal.tenant_id,
                target=("user", principal.id),
            )

    async def revoke(self, session_ids: set[str]) -> None:
        """Delete sessions and tell listeners (open sockets close)."""
        if not session_ids:
            return
        await self.db.sessions.delete_many({"_id": {"$in": list(session_ids)}})
        for listener in self.listeners:
            listener(session_ids)

    async def set_disabled(self, tenant_id: str | None, user_id: str, disabled: bool):
        """Disable (or re-enable) an account; disabling ends all its sessions."""
        query = {"_id": object_id(user_id)}
        if tenant_id is not None:
            query["tenant_id"] = tenant_id
        result = await self.db.users.update_one(query, {"$set": {"disabled": disabled}})
        if result.matched_count == 0:
            raise NotFound("No such account.")
        if disabled:
            sessions = self.db.sessions.find({"user_id": user_id}, {"_id": 1})
            keys = {s["_id"] async for s in sessions}
            await self.revoke(keys)
            log.info("account %s disabled; %d sessions ended", user_id, len(keys))
