"""Pieces shared by the benchmark's processes: figures, /proc, HTTP, the map."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import resource

from server.demo import xuanwu_ring

# Linux reports CPU time in clock ticks (almost always 100 a second).
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def summary(values: list[float]) -> dict:
    """Count, median, p99 and max of ``values`` (milliseconds, rounded)."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"n": len(ordered), "p50": rank(0.5), "p99": rank(0.99), "max": ordered[-1]}


# -- processes ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as file:
        # The command name may hold spaces; the fields after it do not.
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS)."""
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def children(pid: int) -> list[int]:
    """Direct children of a process (the embedded database of the server)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def pin(core: int | None) -> str:
    """Run this process (and what it starts) on one core; says what happened."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    if core not in os.sched_getaffinity(0):
        return f"not pinned (core {core} unavailable)"
    os.sched_setaffinity(0, {core})
    return f"core {core}"


def raise_file_limit() -> int:
    """As many open files as allowed: thousands of sockets in one process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the map -----------------------------------------------------------------

RING = xuanwu_ring()
LONS = [p[0] for p in RING]
LATS = [p[1] for p in RING]
# Stay this far (degrees, ~100 m) inside the district's bounding box edges,
# so that small moves of simulated officers stay inside too.
MARGIN = 0.001


def inside(lon: float, lat: float) -> bool:
    """Whether a point lies in Xuanwu district (even-odd ray test)."""
    result = False
    for (x1, y1), (x2, y2) in itertools.pairwise(RING):
        crosses = (y1 > lat) != (y2 > lat)
        if crosses and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def random_point(rng: random.Random) -> tuple[float, float]:
    """A uniformly random point of the district."""
    while True:
        lon = rng.uniform(min(LONS) + MARGIN, max(LONS) - MARGIN)
        lat = rng.uniform(min(LATS) + MARGIN, max(LATS) - MARGIN)
        if inside(lon, lat):
            return round(lon, 6), round(lat, 6)


def district_km2() -> float:
    """The district's area, for choosing offer radii (flat-earth, ~1% off)."""
    twice = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(RING):
        twice += x1 * y2 - x2 * y1
    lat = sum(LATS) / len(LATS)
    km_lon = 111.32 * math.cos(math.radians(lat))
    return abs(twice) / 2 * km_lon * 110.57


# -- HTTP --------------------------------------------------------------------


class HttpPool:
    """Keep-alive HTTP/1.1 connections to one server, as browsers keep them.

    Tornado's own client opens a connection per request; that would make
    the server pay a TCP handshake per claim, which phones do not.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, bytes]:
        """Send one request; returns (status, body)."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        head.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in range(2):
            reader, writer = await self._connection(fresh=attempt > 0)
            try:
                writer.write(raw)
                status, answer, keep = await self._read(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                continue  # The server closed an idle connection: once more.
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status, answer
        raise ConnectionError(f"{method} {path}: connection lost twice")

    async def _connection(self, fresh: bool):
        if self.idle and not fresh:
            return self.idle.pop()
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                body += (await reader.readexactly(size + 2))[:-2]
                if size == 0:
                    break
        else:
            body = await reader.readexactly(int(fields.get("content-length", 0)))
        return status, body, fields.get("connection", "").lower() != "close"

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()
