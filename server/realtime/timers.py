"""Deadlines that fire callbacks: offer rounds and escalations.

A timer here is only a wake-up call. The deadline itself is stored with the
alarm, and the callback re-checks it in the database with an atomic update,
so a timer that fires twice, late, or after a restart (when `rearm` set it
again from the stored deadlines) does the right thing exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


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
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("timer callback failed", exc_info=task.exception())

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
