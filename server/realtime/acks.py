"""Offer acknowledgements from open apps, written in batches.

Each offered officer's app says twice that an offer arrived: when the frame
lands (delivered) and when it is on screen (seen), a second or so apart. A
write per message was two database writes per officer offered, two hundred
per alarm, and on the embedded store the heaviest load of a busy district.
Here each acknowledgement waits `HOLD_S` in memory, so that the two usually
become one update of the offer record; updates go out in bulk every
`FLUSH_S`. The first time of each kind stands: the update keeps what the
record already says.

Nothing here is needed to dispatch: the acknowledgements feed the
assessment board and the push fallback (`server.push` asks `pending` before
pushing an offer the app has acknowledged but that is not written yet). An
offer that ends (claimed, expired, cancelled) has its acknowledgements
written first (`flush_alarm`), so the settled record is complete; a clean
shutdown writes them all. A crash loses at most the last `HOLD_S` +
`FLUSH_S` of them, never an alarm, an offer or a claim.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from pymongo import UpdateOne
from pymongo.errors import PyMongoError

from server.realtime.timers import Periodic

log = logging.getLogger(__name__)

# How long an acknowledgement waits for its sibling (delivered, then seen).
HOLD_S = 2.0
# How often waiting acknowledgements are written.
FLUSH_S = 0.5
# Offer updates per bulk write: the embedded store answers other commands
# between chunks.
CHUNK = 200
# Acknowledgements kept while the database is away; beyond, the oldest go.
MAX_PENDING = 50_000


class OfferAcks:
    """Acknowledgements waiting to be written onto their offer records."""

    def __init__(self, db):
        self.db = db
        # offer id ("<alarm>:<officer>") -> [first noted (monotonic),
        # delivered_at, seen_at or None]; insertion order is arrival order.
        self._pending: dict[str, list] = {}
        self._flusher = Periodic(FLUSH_S, self._flush_ripe, "offer acks flush")
        self._dropped = 0

    def note(self, offer_id: str, seen: bool, at: dt.datetime) -> None:
        entry = self._pending.get(offer_id)
        if entry is None:
            if len(self._pending) >= MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    log.warning(
                        "offer acks: %d dropped while the database is away",
                        self._dropped,
                    )
            entry = self._pending[offer_id] = [time.monotonic(), at, None]
        if seen and entry[2] is None:
            entry[2] = at

    def pending(self, offer_id: str) -> bool:
        """Whether an acknowledgement of this offer is waiting here."""
        return offer_id in self._pending

    def start(self) -> None:
        self._flusher.start()

    async def close(self) -> None:
        await self._flusher.stop()
        try:
            await self.flush(everything=True)
        except PyMongoError as error:
            log.warning(
                "offer acks: %d not written at shutdown (%s)",
                len(self._pending),
                type(error).__name__,
            )

    async def _flush_ripe(self) -> None:
        try:
            await self.flush()
        except PyMongoError as error:
            log.warning(
                "offer acks: %d waiting, database error %s",
                len(self._pending),
                type(error).__name__,
            )

    async def flush_alarm(self, alarm_id) -> int:
        """Write now what waits for one alarm's offers."""
        prefix = f"{alarm_id}:"
        ids = [key for key in self._pending if key.startswith(prefix)]
        return await self._write(ids)

    async def flush(self, everything: bool = False) -> int:
        """Write what has waited `HOLD_S` (or everything); returns how many."""
        if everything:
            ids = list(self._pending)
        else:
            ripe = time.monotonic() - HOLD_S
            ids = []
            for key, entry in self._pending.items():
                if entry[0] > ripe:
                    break  # arrival order: the rest are younger
                ids.append(key)
        return await self._write(ids)

    async def _write(self, ids: list[str]) -> int:
        written = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            taken = {key: self._pending.pop(key) for key in chunk}
            try:
                await self.db.offers.bulk_write(
                    [ack_update(key, e[1], e[2]) for key, e in taken.items()],
                    ordered=False,
                )
            except PyMongoError:
                # Put them back (before any that came meanwhile) and retry.
                for key, entry in taken.items():
                    fresh = self._pending.pop(key, None)
                    if fresh is not None and entry[2] is None:
                        entry[2] = fresh[2]
                self._pending = {**taken, **self._pending}
                raise
            written += len(taken)
        return written


def ack_update(offer_id: str, delivered_at, seen_at=None) -> UpdateOne:
    """One update of an offer record that keeps the times it already has."""
    fields = {"delivered_at": {"$ifNull": ["$delivered_at", delivered_at]}}
    if seen_at is not None:
        fields["seen_at"] = {"$ifNull": ["$seen_at", seen_at]}
    return UpdateOne({"_id": offer_id}, [{"$set": fields}])
