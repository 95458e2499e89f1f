"""HTML pages (the PWA views), the service worker and the web app manifest."""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import tornado.web
from PIL import Image

from server import access
from server.handlers.base import BaseHandler, PageHandler, SecurityHeadersMixin


def page(name: str, permission: str) -> type[PageHandler]:
    """A handler that renders ``<name>.html`` for holders of ``permission``."""

    class View(PageHandler):
        access = {"GET": permission}

        def get(self) -> None:
            self.render_page(f"{name}.html", name)

    View.__name__ = View.__qualname__ = f"{name.title()}Page"
    return View


IndexPage = page("index", access.PUBLIC)
CitizenPage = page("citizen", access.PUBLIC)
LoginPage = page("login", access.PUBLIC)
OfficerPage = page("officer", "view.officer")
CommandPage = page("command", "view.command")
ExpertPage = page("expert", "view.expert")
AdminPage = page("admin", "view.admin")
KpiPage = page("kpi", "kpi.read")
ExpertsPage = page("experts", "view.experts")
TasksPage = page("tasks", "view.tasks")


class RoomPage(PageHandler):
    """``/rooms/{room_id}``: the shell of a consultation room; data comes by API."""

    access = {"GET": "rooms.take_part"}

    def get(self, room_id: str) -> None:
        self.render_page("room.html", "room", room_id=room_id)


class ApplyPage(PageHandler):
    """The public expert application form, with the agencies to choose from."""

    access = {"GET": access.PUBLIC}

    async def get(self) -> None:
        tenants = await self.platform.experts.tenants()
        chosen = self.get_query_argument("tenant", None)
        self.render_page("apply.html", "apply", tenants=tenants, chosen=chosen)


def static_version(static_dir: Path) -> str:
    """A short hash of every static file: the service worker's cache version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(static_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class ServiceWorkerHandler(BaseHandler):
    """``/sw.js`` at the site root, so the worker's scope is the whole site."""

    access = {"GET": access.PUBLIC}

    async def prepare(self) -> None:
        pass  # Public and session-free: fetched by the browser in the background.

    def get(self) -> None:
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        # Browsers must see a new worker as soon as it is deployed.
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.platform.service_worker_source())


class RootStaticHandler(SecurityHeadersMixin, tornado.web.StaticFileHandler):
    """Static files that must live at the root (the manifest)."""


class StaticHandler(SecurityHeadersMixin, tornado.web.StaticFileHandler):
    """``/static/``: the app shell, with the security headers of every answer."""


class LocalTileHandler(SecurityHeadersMixin, tornado.web.RequestHandler):
    """``/tiles/{z}/{x}/{y}.png`` from ``[map] tiles_dir`` (an offline tile set).

    A tile outside the set is answered with a plain background tile rather
    than a 404, so the map shows no broken images at its edges.
    """

    def initialize(self, path: str) -> None:
        self.root = Path(path)

    def get(self, z: str, x: str, y: str) -> None:
        tile = self.root / z / x / f"{y}.png"
        data = tile.read_bytes() if tile.is_file() else blank_tile()
        self.set_header("Content-Type", "image/png")
        # Tiles of an offline set change only with a new set: cache a day.
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(data)


@functools.cache
def blank_tile() -> bytes:
    """A 256-pixel light grey PNG, made once."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (238, 238, 232)).save(buffer, "PNG")
    return buffer.getvalue()
