"""Event-loop lag: how late the loop runs a callback that was due.

Everything in the process shares one event loop, so a slow step (a big
broadcast, a garbage collection, a blocking call) delays every offer and
every position behind it. `LagMonitor` schedules a callback every
`INTERVAL_S` and records how late it ran; ``GET /healthz`` reports the
median, 99th percentile and maximum over a recent window, which is what
the benchmark (``bench/``) reads and what an operator watches.
"""

from __future__ import annotations

import asyncio
import collections

# 100 samples a second see any stall longer than 10 ms and cost a few
# microseconds each: far below anything else the loop does.
INTERVAL_S = 0.01
# Two minutes of samples: long enough for a benchmark phase or a glance
# at a dashboard, short enough to stay a few tens of kilobytes.
KEEP_S = 120.0


class LagMonitor:
    """Samples the running loop's lag and summarises recent samples."""

    def __init__(self):
        self.samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=int(KEEP_S / INTERVAL_S)
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule(self._loop.time())

    def _schedule(self, now: float) -> None:
        self._due = now + INTERVAL_S
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        self.samples.append((now, max(0.0, now - self._due)))
        self._schedule(now)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def summary(self, window_s: float = 60.0) -> dict[str, float | int]:
        """Median, p99 and max lag in milliseconds over the last ``window_s``."""
        if self._loop is None:
            return {"samples": 0}
        since = self._loop.time() - window_s
        lags = sorted(lag for at, lag in self.samples if at >= since)
        if not lags:
            return {"samples": 0}

        def rank(q: float) -> float:
            return round(1000 * lags[min(len(lags) - 1, int(q * len(lags)))], 2)

        return {
            "samples": len(lags),
            "p50": rank(0.5),
            "p99": rank(0.99),
            "max": round(1000 * lags[-1], 2),
        }
