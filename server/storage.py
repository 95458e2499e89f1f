"""MongoDB access: the client, the indexes, and tenant-scoped collections.

Only standard MongoDB features are used, so the same code runs on MongoDB in
production and on the embedded SecantusDB server in development and tests.
Locations are GeoJSON in WGS-84 (``[lon, lat]``) with 2dsphere indexes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, GEOSPHERE, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from server.config import Config
from server.errors import NotFound

log = logging.getLogger(__name__)


class CommandTimer(CommandListener):
    """Times every database command: slow ones are logged as they happen,
    and counts and total times per command and collection on request.

    PyMongo calls these hooks synchronously around each command; they only
    read a clock and update a dictionary.
    """

    def __init__(self, slow_ms: int):
        self.slow_ms = slow_ms
        self._started: dict[tuple[int, int], tuple[float, str, str]] = {}
        # (command, collection) -> [count, total seconds, slowest seconds]
        self.totals: dict[tuple[str, str], list] = {}

    def started(self, event) -> None:
        name = event.command_name
        target = event.command.get(name)
        collection = target if isinstance(target, str) else ""
        key = (event.request_id, event.operation_id or 0)
        self._started[key] = (time.perf_counter(), name, collection)

    def succeeded(self, event) -> None:
        self._finish(event, "ok")

    def failed(self, event) -> None:
        self._finish(event, "failed")

    def _finish(self, event, outcome: str) -> None:
        begun = self._started.pop((event.request_id, event.operation_id or 0), None)
        if begun is None:
            return
        at, name, collection = begun
        took = time.perf_counter() - at
        entry = self.totals.setdefault((name, collection), [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)
        if took * 1000 >= self.slow_ms and name not in _AWAITING_COMMANDS:
            log.warning(
                "slow database command %s %s %s in %.0fms",
                name,
                collection,
                outcome,
                took * 1000,
            )

    def summary(self, top: int = 12) -> list[str]:
        """The commands that took the most time, one line each."""
        ranked = sorted(self.totals.items(), key=lambda item: -item[1][1])
        return [
            f"{name} {collection}: {count} in {total:.2f}s, "
            f"mean {1000 * total / count:.1f}ms, max {1000 * slowest:.0f}ms"
            for (name, collection), (count, total, slowest) in ranked[:top]
        ]


# Commands that wait by design (a change stream's getMore, the driver's
# monitoring): never "slow".
_AWAITING_COMMANDS = frozenset({"getMore", "hello", "isMaster", "ismaster"})


def connect(
    uri: str, config: Config, timer: CommandTimer | None = None
) -> AsyncMongoClient:
    """A client with majority writes and retryable writes.

    ``timeout_ms`` bounds how long an operation waits for an unreachable
    server, so a database outage turns into a fast 503 instead of a hang;
    ``answer_timeout_ms`` bounds the wait for the answer of a server that
    took the request and went silent. It stays well above the change
    streams' one-second await, so a quiet stream is never cut.
    """
    timeout = config.database.timeout_ms
    return AsyncMongoClient(
        uri,
        w="majority",
        retryWrites=True,
        retryReads=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=config.database.answer_timeout_ms,
        tz_aware=True,
        appname="jingdi",
        event_listeners=[timer] if timer is not None else [],
    )


def _geo(field: str) -> IndexModel:
    """A 2dsphere index on a GeoJSON field.

    The index version is spelled out (3 is MongoDB's default since 3.2): a
    server that stores it explicitly then sees the same spec on the next start
    instead of a conflicting one, which SecantusDB otherwise reports.
    """
    return IndexModel(
        [(field, GEOSPHERE)], name=f"{field}_geo", **{"2dsphereIndexVersion": 3}
    )


def _indexes(config: Config) -> dict[str, list[IndexModel]]:
    position_ttl = config.retention.position_history_days * 86400
    return {
        "tenants": [_geo("territory")],
        "stations": [
            IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)], unique=True),
            _geo("zone"),
            _geo("location"),
        ],
        "users": [
            IndexModel([("username", ASCENDING)], unique=True),
            IndexModel([("tenant_id", ASCENDING), ("roles", ASCENDING)]),
            # Dispatch's search for officers on duty but not connected.
            IndexModel([("tenant_id", ASCENDING), ("away_at", ASCENDING)]),
            _geo("position"),
        ],
        "sessions": [
            # Expired sessions are removed by MongoDB; lookups also check the
            # time because the TTL monitor runs only once a minute.
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
            IndexModel([("user_id", ASCENDING)]),
        ],
        "login_throttle": [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
        # Failed logins per client address (kept apart from account names,
        # so that no typed name can count against an address).
        "login_address_throttle": [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
        "citizens": [IndexModel([("created_at", ASCENDING)])],
        # Citizens' phone numbers are personal data: gone after retention.
        "citizen_contacts": [
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
        "position_history": [
            # Positions are sensitive personal data: kept only this long.
            IndexModel(
                [("at", ASCENDING)], expireAfterSeconds=position_ttl, name="at_ttl"
            ),
            # Read by officer and time, never by place: a geo index here would
            # only slow the thousands of inserts a second (the embedded store
            # pays about 0.6 ms per document for it).
            IndexModel([("tenant_id", ASCENDING), ("user_id", ASCENDING)]),
        ],
        "plates": [
            IndexModel([("tenant_id", ASCENDING)]),
            _geo("location"),
        ],
        "expert_applications": [
            IndexModel([("reference", ASCENDING)], unique=True),
            IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
            # Counting an address's recent applications (the hourly limit).
            IndexModel([("client_ip", ASCENDING), ("submitted_at", DESCENDING)]),
        ],
        "alarms": [
            IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("status", ASCENDING)]),
            _geo("location"),
            # A retried submission finds the first one: one alarm per key.
            IndexModel(
                [("citizen_id", ASCENDING), ("idempotency_key", ASCENDING)],
                unique=True,
                partialFilterExpression={"idempotency_key": {"$type": "string"}},
            ),
            IndexModel([("citizen_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("client_ip", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("assignee.officer_id", ASCENDING), ("status", ASCENDING)]),
            # Several processes sweep for overdue claim windows and rounds.
            IndexModel([("status", ASCENDING), ("deadline_at", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("next_round_at", ASCENDING)]),
        ],
        # Events and presence passed between processes (server.realtime.cluster).
        "cluster_events": [
            IndexModel([("at", ASCENDING)], expireAfterSeconds=600),
        ],
        "offers": [
            IndexModel([("alarm_id", ASCENDING), ("outcome", ASCENDING)]),
            IndexModel([("tenant_id", ASCENDING), ("sent_at", DESCENDING)]),
            IndexModel([("officer_id", ASCENDING), ("sent_at", DESCENDING)]),
        ],
        "audit": [
            # One entry per number in each chain: two writers cannot both
            # append entry n; searches run newest first within a chain.
            IndexModel([("chain", ASCENDING), ("seq", ASCENDING)], unique=True),
            IndexModel(
                [("chain", ASCENDING), ("action", ASCENDING), ("seq", DESCENDING)]
            ),
            IndexModel(
                [("chain", ASCENDING), ("actor.id", ASCENDING), ("seq", DESCENDING)]
            ),
            IndexModel(
                [("chain", ASCENDING), ("target.id", ASCENDING), ("seq", DESCENDING)]
            ),
        ],
        "push_subscriptions": [
            # One document per browser endpoint: a renewal updates it in place.
            IndexModel([("endpoint", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING), ("renewed_at", DESCENDING)]),
            IndexModel([("session_id", ASCENDING)]),
        ],
        "tasks": [
            # The board: an agency's tasks by start; an officer's sign-ups.
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    ("status", ASCENDING),
                    ("starts_at", ASCENDING),
                ]
            ),
            IndexModel([("roster.officer_id", ASCENDING), ("ends_at", ASCENDING)]),
            _geo("location"),
        ],
        "rooms": [
            IndexModel([("tenant_id", ASCENDING), ("members.user_id", ASCENDING)]),
            IndexModel([("alarm_id", ASCENDING)]),
        ],
        "musters": [
            # The command room's list, and the clock's re-arming at start-up.
            IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
            # An officer's running musters, on every load of the desk.
            IndexModel([("alerted.officer_id", ASCENDING), ("status", ASCENDING)]),
            _geo("place"),
        ],
        "grants": [
            # "Who grants my agency X now": every shared use asks this.
            IndexModel(
                [
                    ("grantee_id", ASCENDING),
                    ("kind", ASCENDING),
                    ("ends_at", ASCENDING),
                ]
            ),
            # An agency's own grants, newest first, and "do I grant X to Y".
            IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    ("grantee_id", ASCENDING),
                    ("kind", ASCENDING),
                ]
            ),
        ],
        "room_messages": [
            # One number per message of a room: the order everyone sees.
            IndexModel([("room_id", ASCENDING), ("seq", ASCENDING)], unique=True),
            # A retried upload finds the first one: one message per client id.
            IndexModel(
                [
                    ("room_id", ASCENDING),
                    ("sender.id", ASCENDING),
                    ("client_id", ASCENDING),
                ],
                unique=True,
                partialFilterExpression={"client_id": {"$type": "string"}},
            ),
        ],
    }


async def ensure_indexes(db: AsyncDatabase, config: Config) -> int:
    """Create every index the platform relies on; safe to run at each start."""
    started = time.monotonic()
    count = 0
    for name, models in _indexes(config).items():
        await db[name].create_indexes(models)
        count += len(models)
    log.info(
        "ensured %d indexes on %s in %.2fs",
        count,
        db.name,
        time.monotonic() - started,
    )
    return count


class TenantCollection:
    """A collection seen through one tenant: every filter carries ``tenant_id``.

    Services reach tenant data through this wrapper, so a query can never
    forget the scope: a document of another tenant is simply not found.
    """

    def __init__(self, collection: AsyncCollection, tenant_id: str):
        if not tenant_id:
            # A platform admin belongs to no agency: "my agency's" data does
            # not exist for them.
            raise NotFound("This account belongs to no agency.", "no_tenant")
        self.collection = collection
        self.tenant_id = tenant_id

    def _scope(self, query: dict[str, Any] | None) -> dict[str, Any]:
        return {**(query or {}), "tenant_id": self.tenant_id}

    async def find_one(self, query=None, *args, **kwargs):
        return await self.collection.find_one(self._scope(query), *args, **kwargs)

    def find(self, query=None, *args, **kwargs):
        return self.collection.find(self._scope(query), *args, **kwargs)

    async def count_documents(self, query=None, **kwargs) -> int:
        return await self.collection.count_documents(self._scope(query), **kwargs)

    async def insert_one(self, document: dict, **kwargs):
        return await self.collection.insert_one(
            {**document, "tenant_id": self.tenant_id}, **kwargs
        )

    async def update_one(self, query, update, **kwargs):
        return await self.collection.update_one(self._scope(query), update, **kwargs)

    async def find_one_and_update(self, query, update, **kwargs):
        return await self.collection.find_one_and_update(
            self._scope(query), update, **kwargs
        )

    async def delete_one(self, query, **kwargs):
        return await self.collection.delete_one(self._scope(query), **kwargs)


def object_id(value) -> ObjectId:
    """Parse an id from a URL or a message; anything malformed is not found."""
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    raise NotFound("No such item.")
