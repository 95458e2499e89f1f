"""Limits on how often citizens may raise alarms, per device and per address.

Counts come from the stored alarms themselves (indexed by citizen and by
client address with their creation time), so limits hold across restarts and
across processes without a separate counter store.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from pymongo.asynchronous.database import AsyncDatabase

from server.errors import RateLimited

WINDOW = dt.timedelta(hours=1)


class AlarmRates:
    """Refuses an alarm beyond the configured hourly limits."""

    def __init__(self, db: AsyncDatabase, config):
        self.db = db
        self.config = config

    async def check_alarm(self, citizen_id: str, client_ip: str) -> None:
        since = dt.datetime.now(dt.UTC) - WINDOW
        sec = self.config.security
        limits = (
            ("citizen_id", citizen_id, sec.alarms_per_device_hour, "this phone"),
            ("client_ip", client_ip, sec.alarms_per_address_hour, "this network"),
        )
        counts = await asyncio.gather(
            *(
                self.db.alarms.count_documents(
                    {field: value, "created_at": {"$gte": since}}, limit=limit
                )
                for field, value, limit, _ in limits
            )
        )
        for (_, _, limit, whom), count in zip(limits, counts, strict=True):
            if count >= limit:
                raise RateLimited(
                    f"Too many alarms from {whom} in the last hour. "
                    "In an emergency call 110.",
                    retry_after=int(WINDOW.total_seconds()),
                    reason="too_many_alarms",
                )
