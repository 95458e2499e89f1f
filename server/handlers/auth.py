"""Sign-in for staff, device sessions for citizens, and the terms they accept."""

from server import access
from server.auth import public_user
from server.handlers.base import BaseHandler
from server.openapi import TERMS_VERSION, obj, op, text

USER = obj(
    ("id", "roles", "kind"),
    id={"type": "string"},
    name={"type": "string"},
    roles={"type": "array", "items": {"type": "string"}},
    kind={"enum": ["staff", "citizen"]},
    tenant_id={"type": ["string", "null"]},
)
USER_ANSWER = obj(("user",), user=USER)


class LoginHandler(BaseHandler):
    access = {"POST": access.PUBLIC}
    api = {
        "post": op(
            "Sign in with an account name and password",
            tag="identity",
            body=obj(
                ("username", "password"),
                # Blank names (control characters count as blank) and blank
                # passwords are refused (400) before any check.
                username=text(64, one_line=True),
                password={"type": "string", "minLength": 1, "maxLength": 256},
            ),
            response=USER_ANSWER,
            errors=(400, 401, 403, 429),
        )
    }

    async def post(self) -> None:
        body = self.json_body()
        token, principal = await self.platform.auth.login(
            body.get("username"), body.get("password"), self.request.remote_ip
        )
        # A session cookie (no expiry): the server ends idle sessions itself.
        self.set_session_cookie(token, expires_days=None)
        self.send_json({"user": public_user(principal)})


class LogoutHandler(BaseHandler):
    access = {"POST": access.SIGNED_IN}
    api = {"post": op("End this session", tag="identity", errors=(401, 403))}

    async def post(self) -> None:
        await self.platform.auth.logout(self.principal)
        self.clear_cookie("jingdi_session")
        self.send_json({"ok": True})


class MeHandler(BaseHandler):
    access = {"GET": access.SIGNED_IN}
    api = {
        "get": op(
            "Who this session belongs to",
            tag="identity",
            response=USER_ANSWER,
            errors=(401,),
        )
    }

    async def get(self) -> None:
        # Reading the token sets the _xsrf cookie for API-only clients.
        self.xsrf_token  # noqa: B018 - accessed for its side effect
        self.send_json({"user": public_user(self.principal)})


class TermsHandler(BaseHandler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "The citizen terms currently in force",
            tag="identity",
            response=obj(
                ("version", "text"),
                version={"type": "string"},
                text=obj(zh={"type": "string"}, en={"type": "string"}),
            ),
        )
    }

    async def get(self) -> None:
        self.xsrf_token  # noqa: B018 - accessed for its side effect
        self.send_json(self.platform.terms())


class CitizenSessionHandler(BaseHandler):
    access = {"POST": access.PUBLIC}
    api = {
        "post": op(
            "Accept the terms and open a citizen device session",
            tag="identity",
            body=obj(
                ("accept_terms", "terms_version"),
                accept_terms={"const": True},
                terms_version=TERMS_VERSION,
                # Optional: null or absent leaves it out.
                phone={"type": ["string", "null"], "pattern": "^\\+?[0-9]{6,15}$"},
            ),
            response=USER_ANSWER,
            errors=(400, 403),
        )
    }

    async def post(self) -> None:
        body = self.json_body()
        token, principal = await self.platform.auth.admit_citizen(
            body.get("accept_terms"), body.get("terms_version"), body.get("phone")
        )
        days = self.platform.config.security.citizen_session_days
        self.set_session_cookie(token, expires_days=days)
        self.send_json({"user": public_user(principal)})
