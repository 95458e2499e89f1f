"""Configuration: built-in defaults, then a TOML file, then ``JINGDI_*`` variables.

Every setting lives in a section (``[server]``, ``[database]``, ...). The
environment variable for ``[section] key`` is ``JINGDI_SECTION_KEY``, for example
``JINGDI_DATABASE_URI`` or ``JINGDI_MAP_TILE_URL``. Values from the environment
are parsed as the setting's type (lists as comma-separated text, booleans as
``1/0/true/false/yes/no``). Unknown keys and ill-typed values raise
`ConfigError` with a sentence naming the setting, so a typo never goes unnoticed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


@dataclasses.dataclass(frozen=True)
class Setting:
    type: type
    default: Any
    doc: str
    choices: tuple = ()


# The single reference of every setting. The README's configuration table is
# generated from it (`python -m server.config --markdown`).
SCHEMA: dict[str, dict[str, Setting]] = {
    "server": {
        "host": Setting(str, "127.0.0.1", "Address to listen on."),
        "port": Setting(int, 8888, "Port to listen on (`--port` overrides)."),
        "data_dir": Setting(
            str, "var", "Directory for the embedded database, keys and uploads."
        ),
        "public_url": Setting(
            str, "", "URL users reach the platform at, printed at start-up."
        ),
        "cookie_secret": Setting(
            str, "", "Secret for signed cookies; generated in data_dir when empty."
        ),
        "xheaders": Setting(
            bool, False, "Trust X-Forwarded-For/Proto (behind a reverse proxy)."
        ),
        "allowed_origins": Setting(
            list, [], "Extra origins allowed to open the websocket."
        ),
        "max_body_bytes": Setting(
            int,
            52 * 1024 * 1024,
            "Largest request body accepted, in bytes: the largest upload (a 50 "
            "MiB video clip in a consultation room) plus the form around it.",
        ),
        "debug": Setting(bool, False, "Tornado debug mode (never in production)."),
    },
    "database": {
        "uri": Setting(
            str, "", "MongoDB URI; empty starts the embedded SecantusDB server."
        ),
        "name": Setting(str, "jingdi", "Database name."),
        "timeout_ms": Setting(
            int,
            3000,
            "How long a request waits for an unreachable database before it "
            "fails with 503.",
        ),
        "answer_timeout_ms": Setting(
            int,
            60000,
            "How long one database operation waits for the server's answer "
            "(socketTimeoutMS): a server that took a request and went silent "
            "becomes an error instead of a request that never ends.",
        ),
        "slow_command_ms": Setting(
            int,
            500,
            "A database command that takes this long is logged as slow, with "
            "its name and collection.",
        ),
        "embedded_port": Setting(
            int, 0, "Port of the embedded server; 0 picks a free one."
        ),
    },
    "security": {
        "staff_idle_minutes": Setting(
            int, 30, "A staff session ends after this long without a request."
        ),
        "citizen_phone_days": Setting(
            int,
            30,
            "A citizen's phone number (given optionally when accepting the "
            "terms) is deleted this long after it was given.",
        ),
        "citizen_session_days": Setting(
            int, 30, "A citizen's device session lasts this long."
        ),
        "login_max_failures": Setting(
            int, 5, "Failed logins before an account name is locked."
        ),
        "login_lock_minutes": Setting(int, 15, "How long a lock lasts."),
        "login_max_failures_per_address": Setting(
            int,
            50,
            "Failed logins from one client address, across all account names, "
            "before that address may not try again for login_lock_minutes (a "
            "station's staff share one address, so it is well above the "
            "per-account limit).",
        ),
        "alarms_per_device_hour": Setting(
            int, 5, "Alarms one citizen device may raise per hour."
        ),
        "alarms_per_address_hour": Setting(
            int,
            30,
            "Alarms one client address may raise per hour (a shared Wi-Fi or "
            "carrier NAT puts many phones behind one address).",
        ),
        "terms_version": Setting(
            str, "2026-01", "Version of the citizen terms currently shown."
        ),
    },
    "retention": {
        "position_history_days": Setting(
            int, 30, "Officer position history is deleted after this many days."
        ),
    },
    "realtime": {
        "ping_interval_s": Setting(
            float,
            5.0,
            "Websocket ping interval; with the timeout, a dead phone "
            "is noticed within about their sum.",
        ),
        "ping_timeout_s": Setting(float, 5.0, "Websocket ping timeout."),
        "max_message_bytes": Setting(
            int, 64 * 1024, "Largest websocket message accepted (closed with 1009)."
        ),
        "max_pending_frames": Setting(
            int,
            2048,
            "Frames queued to one client before it is disconnected; above "
            "retention_events, so that a full replay fits a slow link.",
        ),
        "retention_events": Setting(
            int, 1000, "Events kept per topic for clients that resume."
        ),
        "retention_seconds": Setting(
            int, 600, "How long events are kept for clients that resume."
        ),
        "cluster": Setting(
            bool,
            False,
            "Several platform processes share this database: pass events, "
            "presence and deadlines between them through it (change streams; "
            "a replica set in production).",
        ),
        "node": Setting(
            str,
            "",
            "This process's name in a cluster, stable across restarts (it "
            "keeps the change stream's resume token); empty: host:port.",
        ),
    },
    "map": {
        "tile_url": Setting(
            str,
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1"
            "&scale=1&style=8&x={x}&y={y}&z={z}",
            "Leaflet tile URL template.",
        ),
        "subdomains": Setting(str, "1234", "Values of {s} in the tile URL."),
        "attribution": Setting(str, "© 高德地图 AutoNavi", "Tile attribution."),
        "crs": Setting(
            str,
            "gcj02",
            "Coordinate system the tiles are drawn in; positions are stored in "
            "WGS-84 and shifted for display when this is gcj02.",
            ("wgs84", "gcj02"),
        ),
        "tiles_dir": Setting(
            str, "", "Serve tiles from this directory at /tiles/{z}/{x}/{y}.png."
        ),
        "max_zoom": Setting(int, 18, "Highest zoom level of the tiles."),
    },
    "push": {
        "enabled": Setting(
            bool, True, "Send offers by web push to officers whose app is closed."
        ),
        "subject": Setting(
            str,
            "",
            "VAPID contact, a mailto: address or https: URL (RFC 8292); empty "
            "uses an https public_url, and push is off without either.",
        ),
        "vapid_private_key": Setting(
            str,
            "",
            "VAPID private key (PEM or base64url); empty keeps a generated one "
            "in data_dir/vapid-private.pem.",
        ),
        "allow_private_endpoints": Setting(
            bool,
            False,
            "Accept push endpoints on private or loopback addresses and plain "
            "http (tests only: it lets the server be made to call internal hosts).",
        ),
        # 32 at tens of milliseconds each sends a district's offers within a
        # second, yet stays far from what a push service treats as a flood.
        "max_concurrent_sends": Setting(
            int, 32, "Push requests in flight at once, across all push services."
        ),
    },
    "logging": {
        "level": Setting(
            str,
            "INFO",
            "Log level.",
            ("DEBUG", "INFO", "WARNING", "ERROR"),
        ),
    },
}


class Config:
    """Resolved settings, read as ``config.section.key``."""

    def __init__(self, values: dict[str, dict[str, Any]], source: str = "defaults"):
        self._values = values
        self.source = source
        for section, items in values.items():
            setattr(self, section, _Section(section, items))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: dict(items) for s, items in self._values.items()}

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some settings changed, validated like any other source."""
        values = self.as_dict()
        for section, items in sections.items():
            for key, raw in items.items():
                values[section][key] = _coerce(section, key, raw)
        _check(values)
        return Config(values, self.source)

    @property
    def data_path(self) -> Path:
        path = Path(self.server.data_dir)
        return path if path.is_absolute() else ROOT / path


class _Section:
    def __init__(self, name: str, items: dict[str, Any]):
        self._name = name
        self.__dict__.update(items)

    def __repr__(self) -> str:
        return f"<config [{self._name}]>"


def load(path: str | os.PathLike | None = None, env=None) -> Config:
    """Build the configuration from defaults, the file at ``path`` and ``env``."""
    env = os.environ if env is None else env
    values = {
        section: {key: _copy(s.default) for key, s in items.items()}
        for section, items in SCHEMA.items()
    }
    source = "defaults"
    if path is not None:
        _merge_file(values, Path(path))
        source = str(path)
    _merge_env(values, env)
    _check(values)
    return Config(values, source)


def _copy(value):
    return list(value) if isinstance(value, list) else value


def _merge_file(values: dict, path: Path) -> None:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for section, items in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if not isinstance(items, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, raw in items.items():
            values[section][key] = _coerce(section, key, raw, where=str(path))


def _merge_env(values: dict, env) -> None:
    names = {
        f"JINGDI_{section}_{key}".upper(): (section, key)
        for section, items in SCHEMA.items()
        for key in items
    }
    for name, raw in env.items():
        if not name.startswith("JINGDI_") or name.startswith("JINGDI_TEST_"):
            continue
        if name not in names:
            raise ConfigError(f"unknown setting in environment: {name}")
        section, key = names[name]
        values[section][key] = _coerce(section, key, raw, where=name, text=True)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(section, key, raw, where="config", text=False):
    setting = SCHEMA.get(section, {}).get(key)
    if setting is None:
        raise ConfigError(f"{where}: unknown setting [{section}] {key}")
    label = f"{where}: [{section}] {key}"
    if setting.type is bool:
        if isinstance(raw, bool):
            return raw
        if text and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ConfigError(f"{label} must be true or false, not {raw!r}")
    if setting.type in (int, float):
        kind = "a whole number" if setting.type is int else "a number"
        allowed = (int,) if setting.type is int else (int, float)
        if isinstance(raw, bool) or not (text or isinstance(raw, allowed)):
            raise ConfigError(f"{label} must be {kind}, not {raw!r}")
        try:
            return setting.type(raw)
        except ValueError:
            raise ConfigError(f"{label} must be {kind}, not {raw!r}") from None
    if setting.type is list:
        if text:
            return [part.strip() for part in raw.split(",") if part.strip()]
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return raw
        raise ConfigError(f"{label} must be a list of strings")
    if not isinstance(raw, str):
        raise ConfigError(f"{label} must be text, not {raw!r}")
    return raw


def _check(values: dict) -> None:
    for section, items in SCHEMA.items():
        for key, setting in items.items():
            value = values[section][key]
            if setting.choices and value not in setting.choices:
                allowed = ", ".join(setting.choices)
                raise ConfigError(
                    f"[{section}] {key} must be one of {allowed}, not {value!r}"
                )
    port = values["server"]["port"]
    if not 0 <= port <= 65535:
        raise ConfigError(f"[server] port must be between 0 and 65535, not {port}")
    for section, key in [
        ("security", "staff_idle_minutes"),
        ("security", "login_max_failures"),
        ("security", "login_max_failures_per_address"),
        ("security", "citizen_phone_days"),
        ("security", "alarms_per_device_hour"),
        ("security", "alarms_per_address_hour"),
        ("retention", "position_history_days"),
        ("realtime", "max_message_bytes"),
        ("realtime", "max_pending_frames"),
        ("database", "timeout_ms"),
        ("database", "answer_timeout_ms"),
        ("database", "slow_command_ms"),
        ("push", "max_concurrent_sends"),
    ]:
        if values[section][key] <= 0:
            raise ConfigError(f"[{section}] {key} must be greater than zero")


def markdown_table() -> str:
    """The configuration reference as a Markdown table, for the README."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for section, items in SCHEMA.items():
        for key, s in items.items():
            env = f"JINGDI_{section}_{key}".upper()
            default = s.default if s.default not in ("", []) else "(empty)"
            rows.append(f"| `[{section}] {key}` | `{env}` | `{default}` | {s.doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
