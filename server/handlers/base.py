"""The base of every HTTP handler: who is calling, may they, and one error shape.

Each handler declares ``access = {"GET": permission, ...}``; `prepare` resolves
the session and refuses any method whose permission is missing or not held
(deny by default, see `server.access`). Domain errors and database outages are
turned into ``{"message", "reason"}`` JSON here and nowhere else; pages get a
readable error page instead. Tracebacks never reach a client.
"""

from __future__ import annotations

import logging
from typing import Any

import pymongo.errors
import tornado.web

from server import access
from server.errors import (
    DomainError,
    Forbidden,
    Invalid,
    Unauthenticated,
    Unavailable,
)
from server.jsonutil import JSONDecodeError, dumps, loads
from server.realtime.service import RETRY_AFTER_S

log = logging.getLogger(__name__)

SESSION_COOKIE = "jingdi_session"

_STATUS_REASONS = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    500: "internal_error",
    503: "unavailable",
}


def database_down(exc: BaseException | None) -> bool:
    """True for the errors PyMongo raises when the server cannot be reached."""
    return isinstance(
        exc,
        pymongo.errors.ConnectionFailure | pymongo.errors.ServerSelectionTimeoutError,
    )


def security_headers(csp: str, https: bool) -> list[tuple[str, str]]:
    """The headers every answer carries; HSTS only when it came over TLS."""
    headers = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", "camera=(self), geolocation=(self)"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


class SecurityHeadersMixin:
    """Headers every answer carries, pages, API and static files alike."""

    def set_default_headers(self) -> None:
        https = self.request.protocol == "https"
        for name, value in security_headers(self.settings["platform"].csp, https):
            self.set_header(name, value)

    def set_cookie(self, name: str, value, **kwargs) -> None:
        # Over TLS every cookie is Secure, the _xsrf and lang cookies too.
        if self.request.protocol == "https":
            kwargs.setdefault("secure", True)
        super().set_cookie(name, value, **kwargs)


class BaseHandler(SecurityHeadersMixin, tornado.web.RequestHandler):
    """JSON API handler; subclasses set ``access`` and keep methods thin."""

    access: dict[str, str] = {}
    principal: access.Principal | None = None

    @property
    def platform(self):
        return self.settings["platform"]

    async def prepare(self) -> None:
        if self.platform.service.down:
            # Known down (server.realtime.service): answer now, not after the
            # driver's server-selection timeout.
            raise Unavailable(
                "The service is briefly unavailable; try again.",
                RETRY_AFTER_S,
                "database",
            )
        token = self.get_cookie(SESSION_COOKIE)
        self.principal = await self.platform.auth.principal_for_token(token)
        self.current_user = self.principal
        method = self.request.method
        if method not in self.access and not self._implements(method):
            raise tornado.web.HTTPError(405)
        access.require(self.principal, self.access.get(method))

    def check_xsrf_cookie(self) -> None:
        # A method the route does not take is answered 405 (in prepare), not
        # 403 for a missing token: the request can do nothing either way.
        method = self.request.method
        if method not in self.access and not self._implements(method):
            return
        super().check_xsrf_cookie()

    def _implements(self, method: str) -> bool:
        own = getattr(type(self), method.lower(), None)
        return own is not getattr(tornado.web.RequestHandler, method.lower(), None)

    # -- input and output ------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a clear 400."""
        try:
            body = loads(self.request.body or b"{}")
        except JSONDecodeError:
            raise Invalid("The request body is not valid JSON.", "bad_json") from None
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object.", "bad_json")
        return body

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(dumps(value))

    def set_session_cookie(self, token: str, expires_days: float | None) -> None:
        self.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            secure=self.request.protocol == "https",
            samesite="Lax",
            expires_days=expires_days,
        )

    # -- errors ------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message, reason = self._describe(status_code, exc)
        if isinstance(exc, DomainError):
            status_code = exc.status
        elif database_down(exc):
            status_code = 503
        self.set_status(status_code)
        retry_after = getattr(exc, "retry_after", None)
        if database_down(exc):
            retry_after = RETRY_AFTER_S
        if retry_after:
            self.set_header("Retry-After", str(retry_after))
        if status_code == 405:
            # What the route does accept (RFC 9110: a 405 carries Allow).
            self.set_header("Allow", ", ".join(sorted(self.access)))
        if status_code in (403, 404) and self.principal is not None:
            self._audit_refusal(status_code, reason)
        self.render_error(status_code, message, reason)

    def _audit_refusal(self, status: int, reason: str) -> None:
        """A signed-in caller was refused: who, what path, and why.

        The route's template (``/api/rooms/{room_id}``) names the action; the
        path itself goes in the detail, with its ids (never a query string,
        which could carry a token).
        """
        rule = getattr(self, "route_template", None) or "unrouted"
        self.platform.audit.record(
            self.principal,
            "access.refused",
            tenant_id=self.principal.tenant_id,
            target=("route", f"{self.request.method} {rule}"),
            outcome="refused",
            detail={"status": status, "reason": reason, "path": self.request.path},
        )

    def _describe(self, status: int, exc: BaseException | None) -> tuple[str, str]:
        if isinstance(exc, DomainError):
            return exc.message, exc.reason
        if database_down(exc):
            return "The service is briefly unavailable; try again.", "database"
        xsrf = isinstance(exc, tornado.web.HTTPError) and "XSRF" in (
            exc.log_message or ""
        )
        if xsrf:
            return "The request lacks a valid XSRF token; reload.", "xsrf"
        reason = _STATUS_REASONS.get(status, "error")
        return self._reason or tornado.web.httputil.responses.get(status, ""), reason

    def render_error(self, status: int, message: str, reason: str) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(dumps({"message": message, "reason": reason}))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, DomainError):
            # Expected refusals: the access log already records the status.
            return
        if database_down(value):
            self.platform.service.failed(value)
            log.warning(
                "%s %s: database unavailable: %s",
                self.request.method,
                self.request.path,
                value,
            )
            return
        super().log_exception(typ, value, tb)


class WorkerCallable:
    """Mixin: also accept same-origin requests that lack the XSRF header.

    A service worker cannot read the ``_xsrf`` cookie, yet it claims offers
    from a notification and reports deliveries. Browsers mark every request
    with ``Sec-Fetch-Site``, a header pages cannot set; ``same-origin`` proves
    the request comes from this site, which is what the token proves.
    Cross-site requests still need the token.
    """

    def check_xsrf_cookie(self) -> None:
        if self.request.headers.get("Sec-Fetch-Site") == "same-origin":
            return
        super().check_xsrf_cookie()


class PageHandler(BaseHandler):
    """An HTML page: sign-in redirects and readable error pages."""

    async def prepare(self) -> None:
        try:
            await super().prepare()
        except Unauthenticated:
            self.redirect(f"/login?next={tornado.escape.url_escape(self.request.uri)}")
        except Forbidden:
            self.set_status(403)
            self.render_error(403, self.t("error.forbidden"), "role")

    @property
    def lang(self) -> str:
        return self.platform.i18n.pick_language(
            self.get_query_argument("lang", None),
            self.get_cookie("lang"),
            self.request.headers.get("Accept-Language"),
        )

    def t(self, key: str) -> str:
        return self.platform.i18n.translator(self.lang)(key)

    def render_page(self, template: str, page: str, **context: Any) -> None:
        """Render a template with the context every page shares."""
        lang = self.lang
        chosen = self.get_query_argument("lang", None)
        if chosen == lang and self.get_cookie("lang") != lang:
            self.set_cookie("lang", lang, expires_days=365, samesite="Lax")
        html = self.platform.templates.get_template(template).render(
            t=self.platform.i18n.translator(lang),
            lang=lang,
            page=page,
            principal=self.principal,
            static_url=self.static_url,
            xsrf_token=self.xsrf_token.decode(),
            client_config=self.platform.client_config(self.principal, lang, page),
            **context,
        )
        self.set_header("Cache-Control", "no-cache")
        self.finish(html)

    def render_error(self, status: int, message: str, reason: str) -> None:
        html = self.platform.templates.get_template("error.html").render(
            t=self.platform.i18n.translator(self.lang),
            lang=self.lang,
            page="error",
            principal=self.principal,
            static_url=self.static_url,
            status=status,
            message=message,
            client_config=self.platform.client_config(None, self.lang, "error"),
        )
        self.finish(html)


class NotFoundHandler(PageHandler):
    """Any unknown path: a JSON 404 for the API, a page 404 for browsers."""

    access = {m: access.PUBLIC for m in tornado.web.RequestHandler.SUPPORTED_METHODS}

    async def prepare(self) -> None:
        await super().prepare()
        raise tornado.web.HTTPError(404)

    def render_error(self, status: int, message: str, reason: str) -> None:
        wants_page = "text/html" in self.request.headers.get("Accept", "")
        if wants_page and not self.request.path.startswith("/api/"):
            super().render_error(status, self.t("error.not_found"), reason)
        else:
            BaseHandler.render_error(self, status, message, reason)
