"""The application factory: one `Platform` of services, one Tornado app over it.

`Platform.start` connects to MongoDB, creates indexes and builds the services;
`make_app` builds the Tornado application with every route. `run.py` and the
tests use both, so the tests exercise exactly what production runs.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlparse

import jinja2
import tornado.web
from pymongo import AsyncMongoClient
from tornado.ioloop import PeriodicCallback

from server import __version__, access, i18n, storage
from server.alarms import AlarmService
from server.audit import AuditLog
from server.auth import AuthService, public_user
from server.config import ROOT, Config
from server.dispatch import Dispatcher
from server.embedded import EmbeddedServer
from server.experts import ExpertService
from server.grants import GrantService
from server.handlers import alarms as alarm_handlers
from server.handlers import audit as audit_handlers
from server.handlers import auth as auth_handlers
from server.handlers import experts as expert_handlers
from server.handlers import field, health, meta, pages, route, tenants
from server.handlers import grants as grant_handlers
from server.handlers import kpi as kpi_handlers
from server.handlers import musters as muster_handlers
from server.handlers import open311 as open311_handlers
from server.handlers import push as push_handlers
from server.handlers import rooms as room_handlers
from server.handlers import tasks as task_handlers
from server.handlers.base import NotFoundHandler
from server.looplag import LagMonitor
from server.media import MediaStore
from server.musters import MusterService
from server.officers import FEED_S, OfficerService
from server.push import PushService
from server.ratelimit import AlarmRates
from server.realtime import field as field_messages  # noqa: F401 - registers types
from server.realtime import musters as muster_topics  # noqa: F401 - registers kinds
from server.realtime import rooms as room_messages  # noqa: F401 - registers types
from server.realtime.cluster import Cluster
from server.realtime.hub import Hub
from server.realtime.presence import Presence
from server.realtime.service import ServiceWatch
from server.realtime.socket import RealtimeSocket
from server.realtime.timers import Timers
from server.rooms import RoomService
from server.specialties import SpecialtyService
from server.tasks import TaskService
from server.tenants import TenantService

log = logging.getLogger(__name__)

PWA_DIR = ROOT / "pwa"
STATIC_DIR = PWA_DIR / "static"
# How often the hub drops expired events and idle topics, and the embedded
# database is checked for a crash: frequent enough for an operator to see a
# crash within seconds, rare enough to cost nothing.
HOUSEKEEPING_MS = 5000
# Where the maps open before anything is known: Xuanwu Lake, Nanjing.
DEFAULT_CENTER = [32.07, 118.79]
DEFAULT_ZOOM = 13

TERMS = {
    "zh": (
        "本服务仅受理非紧急警情。紧急情况请立即拨打110。提交报警即表示您同意"
        "平台在处置期间使用您提供的位置、描述和照片，并在处置结束后按规定期限保存。"
        "谎报警情将依法承担责任。"
    ),
    "en": (
        "This service is for non-emergency matters only. In an emergency call "
        "110 at once. By raising an alarm you agree that the platform uses the "
        "location, description and photos you give while the matter is handled "
        "and keeps them for the period the law requires. False reports are an "
        "offence."
    ),
}


class Platform:
    """Everything a request handler needs: config, database, services, hub."""

    def __init__(
        self,
        config: Config,
        client: AsyncMongoClient,
        embedded: EmbeddedServer | None = None,
    ):
        self.config = config
        self.client = client
        self.db = client[config.database.name]
        self.embedded = embedded
        self.started_at = time.monotonic()
        self.db_timer: storage.CommandTimer | None = None
        self.lag = LagMonitor()
        self.audit = AuditLog(self.db)
        self.auth = AuthService(self.db, config)
        self.auth.audit = self.audit
        self.tenants = TenantService(self.db, self.auth)
        self.grants = GrantService(self.db)
        self.experts = ExpertService(self.db, config, self.auth)
        rt = config.realtime
        self.hub = Hub(rt.retention_events, rt.retention_seconds)
        # Whether the database answers; open sockets are told when it changes.
        self.service = ServiceWatch(self.client, self.hub)
        # Set by start() when several processes share the database.
        self.cluster: Cluster | None = None
        self.auth.listeners.append(self.hub.revoke_sessions)
        self.presence = Presence()
        self.timers = Timers()
        self.media = MediaStore(self.db, config)
        self.dispatcher = Dispatcher(
            self.db, self.hub, self.presence, self.timers, self.media
        )
        self.alarms = AlarmService(
            self.db, config, self.dispatcher, AlarmRates(self.db, config)
        )
        self.dispatcher.alarms = self.alarms
        self.push = PushService(self.db, config)
        self.dispatcher.push = self.push
        self.push.acknowledged = self.dispatcher.acks.pending
        self.auth.listeners.append(self.push.sessions_revoked)
        self.officers = OfficerService(
            self.db, self.hub, self.presence, self.dispatcher
        )
        self.dispatcher.feed = self.officers.note
        self.rooms = RoomService(self.db, self.hub, self.media, self.alarms)
        self.rooms.push = self.push
        self.musters = MusterService(self.db, self.hub, self.presence, self.timers)
        self.musters.push = self.push
        self.specialties = SpecialtyService(self.db)
        self.tasks = TaskService(self.db, self.hub, self.specialties)
        self.tasks.push = self.push
        # Federation: what agencies grant each other, asked on every use.
        self.experts.grants = self.rooms.grants = self.tasks.grants = self.grants
        self.musters.grants = self.grants
        self.rooms.timers = self.tasks.timers = self.timers
        self.grants.rooms = self.rooms
        self.grants.tasks = self.tasks
        self.grants.hub = self.hub
        self.dispatcher.grants = self.grants
        for service in (
            self.alarms,
            self.rooms,
            self.tasks,
            self.experts,
            self.musters,
            self.tenants,
            self.grants,
        ):
            service.audit = self.audit
        self.i18n = i18n
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(PWA_DIR / "templates"),
            autoescape=True,
            auto_reload=config.server.debug,
        )
        self.csp = content_security_policy(config)
        self._sw_source: str | None = None
        self._periodic: list[PeriodicCallback] = []

    @classmethod
    async def start(
        cls, config: Config, uri: str, embedded: EmbeddedServer | None = None
    ) -> Platform:
        """Connect, create indexes and return a ready platform."""
        timer = storage.CommandTimer(config.database.slow_command_ms)
        client = storage.connect(uri, config, timer)
        platform = cls(config, client, embedded)
        platform.db_timer = timer
        await storage.ensure_indexes(platform.db, config)
        platform.lag.start()
        platform.audit.start()
        await platform.officers.mark_all_away()
        await platform.dispatcher.rearm()
        await platform.musters.rearm()
        platform.officers.positions.start()
        platform.dispatcher.acks.start()
        platform.service.start()
        if config.realtime.cluster:
            node = (
                config.realtime.node or f"{socket.gethostname()}:{config.server.port}"
            )
            platform.cluster = Cluster(platform.db, node, platform)
            await platform.cluster.start()
        platform._periodic = [
            PeriodicCallback(platform._tidy, HOUSEKEEPING_MS),
            PeriodicCallback(platform.officers.publish_feed, FEED_S * 1000),
        ]
        for callback in platform._periodic:
            callback.start()
        return platform

    async def socket_opened(self, socket) -> None:
        """A websocket was authenticated and opened."""
        account, socket.account = socket.account, None
        if access.OFFICER in socket.principal.roles:
            socket.in_presence = await self.officers.connected(
                socket.principal, account
            )

    def socket_closed(self, socket) -> None:
        """Undo what `socket_opened` registered, and only that."""
        if getattr(socket, "in_presence", False):
            self.officers.disconnected(socket.principal)
        self.rooms.socket_closed(socket)

    def _tidy(self) -> None:
        self.hub.sweep()
        if self.embedded is not None:
            self.embedded.check()

    async def close(self) -> None:
        for callback in self._periodic:
            callback.stop()
        self.lag.stop()
        if self.cluster is not None:
            await self.cluster.close()
        await self.service.close()
        await self.timers.close()
        await self.push.close()
        await self.officers.positions.close()
        await self.dispatcher.close()
        await self.audit.close()
        await self.client.close()
        if self.db_timer is not None and self.db_timer.totals:
            log.info("database time by command: %s", "; ".join(self.db_timer.summary()))

    async def health(self) -> dict[str, Any]:
        """The process's status and the database's: ``ok`` or the error."""
        database = "ok"
        try:
            await self.client.admin.command("ping")
        except Exception as exc:  # Any failure is the answer here.
            database = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.service.failed(exc)
            if self.embedded is not None and not self.embedded.check():
                database = "embedded database process is not running"
        else:
            self.service.answered()
        return {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "version": __version__,
        }

    def terms(self) -> dict[str, Any]:
        return {"version": self.config.security.terms_version, "text": TERMS}

    def client_config(self, principal, lang: str, page: str) -> dict[str, Any]:
        """What the browser code needs to know, embedded in every page."""
        m = self.config.map
        return {
            "lang": lang,
            "page": page,
            "map": {
                "tile_url": m.tile_url,
                "subdomains": m.subdomains,
                "attribution": m.attribution,
                "crs": m.crs,
                "max_zoom": m.max_zoom,
                "center": DEFAULT_CENTER,
                "zoom": DEFAULT_ZOOM,
            },
            "user": public_user(principal) if principal else None,
            "terms_version": self.config.security.terms_version,
            # The browser's applicationServerKey; null while push is off.
            "push_key": self.push.keys.public_key if self.push.active else None,
            "i18n": i18n.MESSAGES[lang],
        }

    def service_worker_source(self) -> str:
        """sw.js with its cache version set to the hash of the static files."""
        if self._sw_source is None or self.config.server.debug:
            source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
            version = pages.static_version(STATIC_DIR)
            self._sw_source = source.replace("__JINGDI_VERSION__", version)
        return self._sw_source


def tile_source(tile_url: str) -> str:
    """The CSP source that admits the configured tile server (none if local)."""
    parsed = urlparse(tile_url)
    if parsed.scheme not in ("http", "https"):
        return ""
    labels = parsed.netloc.split(".")
    if any("{" in label for label in labels[1:]):
        return f"{parsed.scheme}:"  # CSP wildcards only the leftmost label.
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parsed.scheme}://{'.'.join(labels)}"


def content_security_policy(config: Config) -> str:
    """No inline script or style; tiles only from the configured host."""
    tiles = tile_source(config.map.tile_url)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {tiles}".rstrip(),
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def routes(config: Config) -> list:
    """Every URL rule of the platform."""
    rules = [
        route("/healthz", health.HealthHandler),
        route("/api/openapi.json", meta.OpenAPIHandler),
        route("/api/auth/login", auth_handlers.LoginHandler),
        route("/api/auth/logout", auth_handlers.LogoutHandler),
        route("/api/auth/me", auth_handlers.MeHandler),
        route("/api/terms", auth_handlers.TermsHandler),
        route("/api/citizen/session", auth_handlers.CitizenSessionHandler),
        route("/api/tenant", tenants.TenantHandler),
        route("/api/stations", tenants.StationsHandler),
        route("/api/stations/{station_id}", tenants.StationHandler),
        route("/api/officers", tenants.OfficersHandler),
        route("/api/officers/{user_id}", tenants.OfficerHandler),
        route("/api/users", tenants.UsersHandler),
        route("/api/users/{user_id}", tenants.UserHandler),
        route("/api/users/{user_id}/disable", tenants.UserDisableHandler),
        route("/api/tenant/settings", tenants.SettingsHandler),
        route("/api/platform/tenants", tenants.PlatformTenantsHandler),
        route("/api/platform/tenants/{tenant_id}", tenants.PlatformTenantHandler),
        *grant_handlers.routes(),
        route("/api/service", alarm_handlers.ServiceHandler),
        route("/api/plates/{code}", alarm_handlers.PlateHandler),
        route("/api/alarms", alarm_handlers.AlarmsHandler),
        route("/api/alarms.geojson", field.AlarmsGeoJSONHandler),
        route("/api/alarms/{alarm_id}", alarm_handlers.AlarmReadHandler),
        route("/api/alarms/{alarm_id}/contact", alarm_handlers.ContactHandler),
        route("/api/alarms/{alarm_id}/photos/{photo_id}", alarm_handlers.PhotoHandler),
        route("/api/alarms/{alarm_id}/claim", alarm_handlers.ClaimHandler),
        route("/api/alarms/{alarm_id}/decline", alarm_handlers.DeclineHandler),
        route("/api/alarms/{alarm_id}/progress", alarm_handlers.ProgressHandler),
        route("/api/alarms/{alarm_id}/cancel", alarm_handlers.CancelHandler),
        route("/api/alarms/{alarm_id}/rating", alarm_handlers.RatingHandler),
        route("/api/alarms/{alarm_id}/dispatch", alarm_handlers.DispatchHandler),
        route("/api/alarms/{alarm_id}/close", alarm_handlers.CloseHandler),
        route("/api/alarms/{alarm_id}/suggestions", field.SuggestionsHandler),
        route("/api/command/alarms", field.OpenAlarmsHandler),
        route("/api/officer/state", field.OfficerStateHandler),
        route("/api/officer/duty", field.DutyHandler),
        route("/api/officer/position", field.PositionHandler),
        route("/api/kpi", kpi_handlers.KpiHandler),
        *open311_handlers.routes(),
        *push_handlers.routes(),
        *task_handlers.routes(),
        *audit_handlers.routes(),
        *room_handlers.routes(),
        *muster_handlers.routes(),
        *expert_handlers.routes(),
        route("/ws", RealtimeSocket),
        route("/", pages.IndexPage),
        route("/citizen", pages.CitizenPage),
        route("/login", pages.LoginPage),
        route("/officer", pages.OfficerPage),
        route("/command", pages.CommandPage),
        route("/expert", pages.ExpertPage),
        route("/admin", pages.AdminPage),
        route("/kpi", pages.KpiPage),
        route("/apply", pages.ApplyPage),
        route("/experts", pages.ExpertsPage),
        route("/tasks", pages.TasksPage),
        route("/rooms/{room_id}", pages.RoomPage),
        route("/sw.js", pages.ServiceWorkerHandler),
        (
            r"/(manifest\.webmanifest)",
            pages.RootStaticHandler,
            {"path": str(STATIC_DIR)},
        ),
    ]
    if config.map.tiles_dir:
        rules.append(
            (
                r"/tiles/(\d{1,2})/(\d{1,7})/(\d{1,7})\.png",
                pages.LocalTileHandler,
                {"path": config.map.tiles_dir},
            )
        )
    return rules


def cookie_secret(config: Config) -> str:
    """The configured secret, or one generated once and kept in data_dir."""
    if config.server.cookie_secret:
        return config.server.cookie_secret
    path = config.data_path / "cookie-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def make_app(platform: Platform) -> tornado.web.Application:
    """The Tornado application serving ``platform``."""
    config = platform.config
    rt = config.realtime
    return tornado.web.Application(
        routes(config),
        platform=platform,
        cookie_secret=cookie_secret(config),
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Strict"},
        static_path=str(STATIC_DIR),
        static_handler_class=pages.StaticHandler,
        default_handler_class=NotFoundHandler,
        websocket_ping_interval=rt.ping_interval_s,
        websocket_ping_timeout=rt.ping_timeout_s,
        websocket_max_message_size=rt.max_message_bytes,
        log_function=meta.log_request,
        debug=config.server.debug,
    )
