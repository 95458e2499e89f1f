"""The audit log: every privileged act, append-only and hash-chained.

Each agency has its own chain (platform-wide acts, such as onboarding an
agency, go in the ``platform`` chain). An entry records when, who (the
actor's id, kind and roles), which agency, what (the action), on what (the
target's type and id), the outcome (``ok``, ``refused``, ``failed``) and a
little detail, never a password, token, push key or phone number. Each
entry carries the SHA-256 of its own canonical form, which includes the hash
of the entry before it: changing an entry breaks its hash, deleting one
breaks the link of the next. ``python -m server.audit verify`` walks every
chain and says where it breaks.

Nothing in the application updates or deletes an entry: `AuditLog` only
inserts (and the verifier only reads).

Recording never waits on the database: `AuditLog.record` queues the entry
and one writer task numbers, chains and inserts queued entries in batches,
in order. Entries still queued when the process dies are lost (the queue is
drained at a clean shutdown); the window is the time of one batch insert.
Two processes writing one chain both try the next number; the unique index
on (chain, seq) lets one win, and the other re-reads the chain's head and
chains its batch after it.

A deleted tail (the newest entries) leaves no broken link; the writer logs
each chain's head (sequence and hash) every `HEAD_LOG_S` seconds, so an
operator can compare the chain with what the logs saw.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import hashlib
import io
import logging
import sys
import time
from collections import deque
from typing import Any

import orjson
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from server.access import Principal
from server.errors import Invalid

log = logging.getLogger(__name__)

PLATFORM_CHAIN = "platform"
OUTCOMES = ("ok", "refused", "failed")
# Entries inserted in one round trip at most: a burst of claims is written in
# a few batches rather than thousands of inserts.
BATCH = 200
# Queued entries beyond this are dropped (and counted in the log): a
# database down for long must not exhaust the process's memory.
QUEUE_MAX = 100_000
HEAD_LOG_S = 3600.0
# A clean shutdown waits this long for queued entries to be stored.
CLOSE_WAIT_S = 5.0
# Detail values are cut to this length: the log records what happened, not
# documents.
DETAIL_TEXT_MAX = 200
# Keys never written into detail, whatever a caller passes.
SECRET_KEYS = frozenset(
    {"password", "token", "session", "cookie", "endpoint", "keys", "auth", "phone"}
)
SEARCH_MAX = 500
EXPORT_MAX = 50_000
GENESIS = "0" * 64


def now() -> dt.datetime:
    at = dt.datetime.now(dt.UTC)
    # MongoDB keeps milliseconds: hash what will be read back.
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, ObjectId):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def entry_hash(entry: dict) -> str:
    """SHA-256 of the entry's canonical JSON (sorted keys), without its hash."""
    body = {k: v for k, v in entry.items() if k not in ("_id", "hash")}
    encoded = orjson.dumps(body, default=_plain, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def _clean_detail(detail: dict | None) -> dict:
    clean: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if key.lower() in SECRET_KEYS:
            continue
        if isinstance(value, str):
            value = value[:DETAIL_TEXT_MAX]
        elif isinstance(value, list | tuple):
            value = [str(v)[:DETAIL_TEXT_MAX] for v in list(value)[:20]]
        elif not isinstance(value, int | float | bool) and value is not None:
            value = str(value)[:DETAIL_TEXT_MAX]
        clean[str(key)[:40]] = value
    return clean


def actor_of(principal: Principal | None, name: str | None = None) -> dict:
    if principal is None:
        return {"id": None, "kind": "anonymous", "roles": [], "name": name or ""}
    return {
        "id": principal.id,
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "name": principal.name or name or "",
    }


class AuditLog:
    """Queues, chains and stores audit entries; searches and verifies them."""

    def __init__(self, db: AsyncDatabase):
        self.collection = db.audit
        self._queue: deque[dict] = deque()
        self._wake = asyncio.Event()
        self._heads: dict[str, tuple[int, str]] = {}
        self._writer: asyncio.Task | None = None
        self._dropped = 0
        self._closing = False
        self._head_logged = time.monotonic()

    # -- recording -----------------------------------------------------------

    def record(
        self,
        actor: Principal | None,
        action: str,
        *,
        tenant_id: str | None,
        target: tuple[str, Any] | None = None,
        outcome: str = "ok",
        detail: dict | None = None,
        actor_name: str | None = None,
    ) -> None:
        """Queue one entry; it is chained and stored in the background."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        if len(self._queue) >= QUEUE_MAX:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.error("audit queue full: %d entries dropped", self._dropped)
            return
        self._queue.append(
            {
                "chain": tenant_id or PLATFORM_CHAIN,
                "at": now(),
                "tenant_id": tenant_id,
                "actor": actor_of(actor, actor_name),
                "action": action,
                "target": (
                    None
                    if target is None
                    else {
                        "type": target[0],
                        "id": None if target[1] is None else str(target[1]),
                    }
                ),
                "outcome": outcome,
                "detail": _clean_detail(detail),
            }
        )
        self._wake.set()

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_forever())

    async def flush(self, within_s: float = 10.0) -> bool:
        """Wait until everything queued so far is stored; False if it is not
        within ``within_s`` seconds (the database is away)."""
        deadline = time.monotonic() + within_s
        while self._queue:
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        """Store what is queued, then stop the writer (a clean shutdown)."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, CLOSE_WAIT_S)
            except TimeoutError:
                log.error("audit: %d entries not stored at shutdown", len(self._queue))

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                while self._queue:
                    await self._write_batch()
            except PyMongoError as error:
                # The database is away: keep the entries and try again soon.
                log.warning(
                    "audit: %d entries waiting, database error %s",
                    len(self._queue),
                    type(error).__name__,
                )
                await asyncio.sleep(1.0)
                self._wake.set()
                continue
            if self._closing:
                self._log_heads()
                return
            if time.monotonic() - self._head_logged > HEAD_LOG_S:
                self._log_heads()

    def _log_heads(self) -> None:
        self._head_logged = time.monotonic()
        for chain, (seq, digest) in sorted(self._heads.items()):
            log.info("audit head chain=%s seq=%d hash=%s", chain, seq, digest)

    async def _head(self, chain: str) -> tuple[int, str]:
        if chain not in self._heads:
            last = await self.collection.find_one(
                {"chain": chain}, {"seq": 1, "hash": 1}, sort=[("seq", DESCENDING)]
            )
            self._heads[chain] = (last["seq"], last["hash"]) if last else (0, GENESIS)
        return self._heads[chain]

    async def _write_batch(self) -> None:
        batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
        for _attempt in range(5):
            documents = []
            heads = {}
            for entry in batch:
                chain = entry["chain"]
                seq, previous = heads.get(chain) or await self._head(chain)
                document = {**entry, "seq": seq + 1, "prev": previous}
                document["hash"] = entry_hash(document)
                heads[chain] = (seq + 1, document["hash"])
                documents.append(document)
            try:
                await self.collection.insert_many(documents, ordered=True)
            except (BulkWriteError, DuplicateKeyError) as error:
                # Another process took these numbers: drop what is known of
                # the heads, forget what went in, and chain after theirs.
                stored = getattr(error, "details", {}).get("nInserted", 0)
                for _ in range(stored):
                    self._queue.popleft()
                batch = batch[stored:]
                for chain in {e["chain"] for e in batch}:
                    self._heads.pop(chain, None)
                if not batch:
                    return
                continue
            for _ in batch:
                self._queue.popleft()
            self._heads.update(heads)
            return
        raise PyMongoError("audit: could not chain a batch after 5 attempts")

    # -- reading -------------------------------------------------------------

    async def search(self, chain: str, params: dict) -> list[dict]:
        """Entries of one chain, newest first, filtered by the given fields."""
        query = _query(chain, params)
        limit = _limit(params.get("limit"), SEARCH_MAX)
        cursor = self.collection.find(query, sort=[("seq", DESCENDING)]).limit(limit)
        return [entry_view(e) async for e in cursor]

    async def export_csv(self, chain: str, params: dict) -> tuple[str, int]:
        """Matching entries, oldest first, as CSV with their hashes."""
        query = _query(chain, params)
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(
            [
                "seq",
                "at",
                "actor_id",
                "actor_name",
                "roles",
                "action",
                "target_type",
                "target_id",
                "outcome",
                "detail",
                "prev",
                "hash",
            ]
        )
        count = 0
        cursor = self.collection.find(query, sort=[("seq", ASCENDING)]).limit(
            EXPORT_MAX
        )
        async for entry in cursor:
            target = entry.get("target") or {}
            writer.writerow(
                _cell(v)
                for v in (
                    entry["seq"],
                    _plain(entry["at"]),
                    entry["actor"]["id"] or "",
                    entry["actor"]["name"],
                    " ".join(entry["actor"]["roles"]),
                    entry["action"],
                    target.get("type", ""),
                    target.get("id") or "",
                    entry["outcome"],
                    orjson.dumps(entry.get("detail") or {}).decode(),
                    entry["prev"],
                    entry["hash"],
                )
            )
            count += 1
        return out.getvalue(), count

    async def verify(self, chain: str | None = None) -> list[dict]:
        """Every chain (or one) walked in order: the problems found, if any."""
        chains = [chain] if chain else await self.collection.distinct("chain")
        problems = []
        for name in sorted(chains):
            expected_seq, previous = 1, GENESIS
            cursor = self.collection.find({"chain": name}, sort=[("seq", ASCENDING)])
            async for entry in cursor:
                where = {"chain": name, "seq": entry.get("seq")}
                if entry.get("seq") != expected_seq:
                    problems.append(
                        {**where, "problem": f"missing entry {expected_seq}"}
                    )
                if entry.get("prev") != previous:
                    problems.append(
                        {**where, "problem": "link to the previous entry broken"}
                    )
                if entry_hash(entry) != entry.get("hash"):
                    problems.append(
                        {**where, "problem": "entry changed after it was written"}
                    )
                expected_seq = (entry.get("seq") or expected_seq) + 1
                previous = entry.get("hash")
        return problems


def entry_view(entry: dict) -> dict:
    return {
        "seq": entry["seq"],
        "at": entry["at"],
        "tenant_id": entry["tenant_id"],
        "actor": entry["actor"],
        "action": entry["action"],
        "target": entry.get("target"),
        "outcome": entry["outcome"],
        "detail": entry.get("detail") or {},
        "hash": entry["hash"],
    }


def _query(chain: str, params: dict) -> dict:
    query: dict[str, Any] = {"chain": chain}
    action = params.get("action")
    if action:
        # "alarm." finds every alarm action; a full name finds that one.
        if action.endswith("."):
            query["action"] = {"$gte": action, "$lt": action[:-1] + "/"}
        else:
            query["action"] = action
    if params.get("actor"):
        query["actor.id"] = str(params["actor"])[:40]
    if params.get("target"):
        query["target.id"] = str(params["target"])[:64]
    if params.get("outcome"):
        if params["outcome"] not in OUTCOMES:
            raise Invalid("The outcome is ok, refused or failed.", "bad_outcome")
        query["outcome"] = params["outcome"]
    period = {}
    for name, op in (("from", "$gte"), ("to", "$lt")):
        if params.get(name):
            try:
                when = dt.datetime.fromisoformat(params[name])
            except ValueError:
                raise Invalid(
                    f"'{name}' is not an ISO 8601 time.", "bad_time"
                ) from None
            if when.tzinfo is None:
                raise Invalid(f"'{name}' needs its UTC offset.", "bad_time")
            period[op] = when
    if period:
        query["at"] = period
    return query


def _limit(value, most: int) -> int:
    if value in (None, ""):
        return 100
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid("The limit is a whole number.", "bad_limit") from None
    return max(1, min(number, most))


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- the verification command ---------------------------------------------------


async def _verify(uri: str, config, chain: str | None) -> int:
    from server.storage import connect

    client = connect(uri, config)
    try:
        audit = AuditLog(client[config.database.name])
        problems = await audit.verify(chain)
        chains = [chain] if chain else await audit.collection.distinct("chain")
        entries = await audit.collection.count_documents(
            {"chain": chain} if chain else {}
        )
    finally:
        await client.close()
    for problem in problems:
        print(f"chain {problem['chain']} seq {problem['seq']}: {problem['problem']}")
    verdict = "BROKEN" if problems else "intact"
    print(f"audit log {verdict}: {len(chains)} chains, {entries} entries checked")
    return 1 if problems else 0


def _verify_command(config_path: str | None, uri: str | None, chain: str | None):
    """Verify against ``uri``, the configured MongoDB, or the embedded database.

    With neither, the embedded database's files (the data directory) are
    opened by a SecantusDB server of its own: stop the platform first, or
    give ``--uri`` of the running one.
    """
    from server import config as config_module
    from server.embedded import EmbeddedServer

    config = config_module.load(config_path)
    uri = uri or config.database.uri
    if uri:
        return asyncio.run(_verify(uri, config, chain))
    embedded = EmbeddedServer(config.data_path / "db", 0)
    embedded.start()
    try:
        return asyncio.run(_verify(embedded.uri, config, chain))
    finally:
        embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m server.audit", description="Check the audit log's hash chains."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="walk every chain; exit 1 if one is broken")
    check.add_argument("--config", help="the config file run.py uses")
    check.add_argument("--uri", help="a MongoDB URI (default: the configured one)")
    check.add_argument("--chain", help="one chain only: a tenant id or 'platform'")
    args = parser.parse_args(argv)
    return _verify_command(args.config, args.uri, args.chain)


if __name__ == "__main__":
    sys.exit(main())
