"""Start the Jingdi platform: ``python run.py [--port N] [--demo] [--config PATH]``.

Without ``[database] uri`` the embedded SecantusDB server is started as a child
process on a free loopback port, with its data under ``<data_dir>/db``, and
stopped on exit, Ctrl-C and SIGTERM. Everything else comes from the config
file and ``JINGDI_*`` environment variables (see README, "Configuration").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys

from pymongo.errors import PyMongoError

from server import config as config_module
from server import logs
from server.app import Platform, make_app
from server.embedded import EmbeddedServer
from server.httpserver import make_server

log = logging.getLogger("jingdi")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the Jingdi platform.")
    parser.add_argument("--port", type=int, help="port to listen on (default 8888)")
    parser.add_argument(
        "--demo", action="store_true", help="load the demo district (idempotent)"
    )
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file")
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logs.configure(level)


async def serve(config, embedded: EmbeddedServer | None, demo: bool) -> None:
    # Listen for SIGINT/SIGTERM first, so a stop during start-up is honoured
    # as soon as the current step is done, not lost or fatal.
    stop = stop_event()
    uri = config.database.uri or embedded.uri
    platform = await Platform.start(config, uri, embedded)
    try:
        if demo and not stop.is_set():
            await load_demo(platform)
        if stop.is_set():
            return
        app = make_app(platform)
        server = make_server(app, config)
        server.listen(config.server.port, config.server.host)
        # Everything allocated so far lives as long as the process: keep it out
        # of the collector's reach so full collections stay short (they would
        # otherwise pause broadcasts for tens of milliseconds).
        gc.freeze()
        announce(config)
        await stop.wait()
        log.info("stopping")
        server.stop()
        await server.close_all_connections()
    finally:
        await platform.close()


async def load_demo(platform: Platform) -> None:
    from server.demo import load_demo as load

    result = await load(platform.db, platform.config)
    print(
        f"\nDemo district loaded. Demo accounts (password for all: {result.password}):"
    )
    for role, username, name in result.logins:
        print(f"  {role:<15} {username:<20} {name}")


def announce(config) -> None:
    base = config.server.public_url or f"http://{_host(config)}:{config.server.port}"
    print(f"\nJingdi is running at {base}/")
    for path, label in [
        ("/citizen", "citizen (one-tap alarm)"),
        ("/officer", "officer"),
        ("/command", "command room"),
        ("/expert", "expert"),
        ("/admin", "agency admin"),
        ("/healthz", "health"),
        ("/api/openapi.json", "API description"),
    ]:
        print(f"  {label:<25} {base}{path}")
    print("Press Ctrl-C to stop.\n", flush=True)


def _host(config) -> str:
    host = config.server.host
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def stop_event() -> asyncio.Event:
    """An event set on SIGINT or SIGTERM (handled by the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = config_module.load(args.config)
        if args.port is not None:
            config = config.replace(server={"port": args.port})
    except config_module.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.logging.level)
    # Until the event loop takes over, SIGTERM interrupts start-up like Ctrl-C,
    # so the embedded database is stopped in order in both cases.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    embedded = None
    try:
        if not config.database.uri:
            embedded = EmbeddedServer(
                config.data_path / "db", config.database.embedded_port
            )
            try:
                embedded.start()
            except RuntimeError as exc:
                log.error("cannot start the embedded database: %s", exc)
                return 1
        asyncio.run(serve(config, embedded, args.demo))
    except KeyboardInterrupt:
        log.info("stopped during start-up")
    except PyMongoError as exc:
        log.error("cannot use the database: %s", exc)
        return 1
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
