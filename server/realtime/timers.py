"""Deadlines that fire callbacks: offer rounds and escalations.

A timer here is only a wake-up call. The deadline itself is stored with the
alarm, and the callback re-checks it in the database with an atomic update,
so a timer that fires twice, late, or after a restart (when `rearm` set it
again from the stored deadlines) does the right thing exactly once.

A callback that fails because the database cannot be reached is tried again
every `RETRY_S` until it can (unless the key was armed anew or cancelled
meanwhile): a claim window that runs out during an outage still reaches the
command room once the database is back, without waiting for a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import pymongo.errors

log = logging.getLogger(__name__)

RETRY_S = 2.0
UNREACHABLE = (
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ServerSelectionTimeoutError,
)


class Timers:
    """Named one-shot timers on the running event loop."""

    def __init__(self):
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task] = set()

    def arm(
        self, key: str, when: dt.datetime, callback: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``callback`` at ``when`` (at once if past), replacing ``key``."""
        self.cancel(key)
        loop = asyncio.get_running_loop()
        delay = max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
        self._handles[key] = loop.call_later(delay, self._fire, key, callback)

    def _fire(self, key: str, callback) -> None:
        self._handles.pop(key, None)
        task = asyncio.get_running_loop().create_task(callback())
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(done, key, callback))

    def _finished(self, task: asyncio.Task, key: str, callback) -> None:
        self._running.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        if isinstance(error, UNREACHABLE):
            if key not in self._handles:
                log.warning(
                    "timer %s: database unreachable, trying again in %.0fs",
                    key,
                    RETRY_S,
                )
                loop = asyncio.get_running_loop()
                self._handles[key] = loop.call_later(RETRY_S, self._fire, key, callback)
            return
        log.error("timer %s failed", key, exc_info=error)

    def cancel(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def armed(self) -> list[str]:
        """The keys of the deadlines armed now."""
        return list(self._handles)

    def pending(self) -> int:
        return len(self._handles)

    async def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


async def every(interval_s: float, step: Callable[[], Awaitable[object]], what: str):
    """Run ``step`` every ``interval_s`` until cancelled. A step that fails
    is logged (a database error as a warning) and the next runs on time."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except pymongo.errors.PyMongoError as exc:
            log.warning("%s failed (%s); next in %.1fs", what, exc, interval_s)
        except Exception:
            log.exception("%s failed", what)


class Periodic:
    """`every` as a background task of its owner, started and stopped with it."""

    def __init__(self, interval_s: float, step, what: str):
        self.interval_s, self.step, self.what = interval_s, step, what
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(every(self.interval_s, self.step, self.what))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
