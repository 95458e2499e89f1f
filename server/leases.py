"""Short leases in the database: one holder at a time across processes.

For the rare act that must check and then write with nobody else doing the
same in between, in any process (drawing an agency's territory, checked
against every other). A lease is one document in ``leases``: taken with an
upsert that only matches a free or lapsed one, so the unique ``_id`` lets
exactly one taker in; released by its holder, or lapsing on its own after
``hold_s`` when the holder died mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from server.errors import Conflict

log = logging.getLogger(__name__)

# How often a waiting taker looks again, and for how long before giving up.
POLL_S = 0.05
WAIT_S = 5.0


@contextlib.asynccontextmanager
async def lease(db: AsyncDatabase, name: str, hold_s: float = 15.0):
    """Hold the lease ``name`` for the body of the ``async with``.

    Waits up to `WAIT_S` for another holder to finish, then refuses with
    ``Conflict`` (reason ``busy``): the caller's request can be sent again.
    ``hold_s`` bounds how long a dead holder blocks everyone else, so it
    must exceed what the body takes.
    """
    holder = secrets.token_hex(8)
    started = time.monotonic()
    while True:
        at = dt.datetime.now(dt.UTC)
        until = at + dt.timedelta(seconds=hold_s)
        try:
            await db.leases.update_one(
                {"_id": name, "until": {"$lt": at}},
                {"$set": {"holder": holder, "until": until}},
                upsert=True,
            )
            break
        except DuplicateKeyError:
            pass  # held by someone else, and not lapsed
        if time.monotonic() - started >= WAIT_S:
            log.info("lease %s busy for %.1f s; refused", name, WAIT_S)
            raise Conflict(
                "Someone else is making the same kind of change; send it again.",
                "busy",
            )
        await asyncio.sleep(POLL_S)
    waited = time.monotonic() - started
    if waited > 0.5:
        log.info("lease %s taken after %.2f s", name, waited)
    try:
        yield
    finally:
        # Only our own: had the lease lapsed and passed on, the next holder's
        # stays untouched.
        await db.leases.update_one(
            {"_id": name, "holder": holder},
            {"$set": {"holder": None, "until": dt.datetime.fromtimestamp(0, dt.UTC)}},
        )
