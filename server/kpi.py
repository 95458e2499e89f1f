"""The assessment board (考核): how each officer or station handles offers.

Per officer or per station over a period: offers received, delivered, seen,
claimed and declined (with reasons); offers let pass after being seen, kept
apart from offers that reached the phone but were never looked at and from
offers that never reached the phone at all, so that a bad connection is not
counted as shirking; median seconds to claim and to arrive; resolutions and
the citizens' ratings.

Offers count in the period in which they were sent (``offers.sent_at``).
Claims, arrivals, resolutions and ratings count in the period in which they
happened, read from each alarm's history, so a claim survives a later
reassignment. A district has at most some thousands of offers a period;
counting them in Python reads more plainly than a pipeline and costs little.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import statistics
import zoneinfo
from collections import Counter
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from server import alarms
from server.errors import Invalid, NotFound

# A quarter and a little: the longest period an assessment covers, which
# also bounds the work of one board.
MAX_PERIOD = dt.timedelta(days=93)
DEFAULT_DAYS = 7
GROUPS = ("officer", "station")
# Offers that ended without this officer taking or refusing them.
UNCLAIMED = ("expired", "lost")
COUNTS = (
    "offers_received",
    "offers_delivered",
    "offers_seen",
    "offers_claimed",
    "offers_declined",
    "offers_missed_seen",
    "offers_unseen",
    "offers_undelivered",
)
SORTABLE = (
    "id",
    "name",
    "station_id",
    *COUNTS,
    "median_claim_s",
    "median_arrive_s",
    "resolutions",
    "avg_rating",
    "ratings",
)


@dataclasses.dataclass
class Tally:
    """What one officer or station did in the period."""

    counts: Counter = dataclasses.field(default_factory=Counter)
    reasons: Counter = dataclasses.field(default_factory=Counter)
    claim_s: list[float] = dataclasses.field(default_factory=list)
    arrive_s: list[float] = dataclasses.field(default_factory=list)
    resolutions: int = 0
    stars: list[int] = dataclasses.field(default_factory=list)

    def add_offer(self, offer: dict) -> None:
        """Count one offer by how far it got: device, screen, answer."""
        c = self.counts
        outcome = offer.get("outcome")
        declined = offer.get("declined_at") is not None or outcome == "declined"
        # Claiming or declining is done on the offer's screen, so it proves
        # the offer was seen even when the app's acknowledgement is missing.
        answered = declined or outcome == "claimed"
        seen = answered or offer.get("seen_at") is not None
        delivered = seen or offer.get("delivered_at") is not None
        c["offers_received"] += 1
        c["offers_delivered"] += delivered
        c["offers_seen"] += seen
        c["offers_claimed"] += outcome == "claimed"
        if declined:
            c["offers_declined"] += 1
            self.reasons[offer.get("decline_reason") or ""] += 1
        if outcome in UNCLAIMED:
            # Seen and let pass; on the phone but never looked at; or lost
            # on the way (the phone never confirmed it): three different
            # things, and only the first is a choice.
            c["offers_missed_seen"] += seen
            c["offers_unseen"] += delivered and not seen
        if not delivered and outcome in (*UNCLAIMED, "cancelled"):
            c["offers_undelivered"] += 1

    def row(self) -> dict[str, Any]:
        return {
            **{name: self.counts[name] for name in COUNTS},
            "decline_reasons": dict(self.reasons),
            "median_claim_s": _median(self.claim_s),
            "median_arrive_s": _median(self.arrive_s),
            "resolutions": self.resolutions,
            "avg_rating": round(statistics.fmean(self.stars), 2)
            if self.stars
            else None,
            "ratings": len(self.stars),
        }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def board(
    db: AsyncDatabase,
    tenant_id: str,
    start: dt.datetime,
    end: dt.datetime,
    group: str,
) -> list[dict]:
    """One row per officer (or station) of the tenant for [start, end)."""
    if group not in GROUPS:
        raise Invalid("group must be officer or station.", "bad_group")
    if not start < end <= start + MAX_PERIOD:
        raise Invalid("The period must be 1 to 93 days.", "bad_period")
    officers = await _officers(db, tenant_id)
    tallies: dict[Any, Tally] = {}

    def tally(officer_id: str, station_id: str | None) -> Tally:
        key = officer_id if group == "officer" else station_id
        return tallies.setdefault(key, Tally())

    async for offer in db.offers.find(
        {"tenant_id": tenant_id, "sent_at": {"$gte": start, "$lt": end}}
    ):
        tally(offer["officer_id"], offer.get("station_id")).add_offer(offer)
    async for alarm in db.alarms.find(
        {
            "tenant_id": tenant_id,
            "assignee": {"$ne": None},
            "created_at": {"$lt": end},
            "updated_at": {"$gte": start},
        },
        {"created_at": 1, "history": 1, "assignee": 1, "rating": 1},
    ):
        _count_alarm(alarm, start, end, officers, tally)
    if group == "officer":
        return _officer_rows(tallies, officers)
    return await _station_rows(db, tenant_id, tallies)


def _count_alarm(alarm: dict, start, end, officers: dict, tally) -> None:
    """Claims, arrivals, resolutions and the rating of one alarm's history."""
    assignee = alarm.get("assignee") or {}

    def station_of(officer_id: str):
        if officer_id == assignee.get("officer_id") and assignee.get("station_id"):
            return assignee["station_id"]
        return (officers.get(officer_id) or {}).get("station_id")

    previous, assigned_at, resolver = None, None, None
    for entry in alarm.get("history", []):
        status, at = entry["status"], entry["at"]
        who = (entry.get("actor") or {}).get("id")
        within = start <= at < end
        if status == alarms.ASSIGNED:
            assigned_at = at
            # Only a claim leaves "offering"; a dispatch leaves "escalated".
            if previous == alarms.OFFERING and within and who:
                seconds = (at - alarm["created_at"]).total_seconds()
                tally(who, station_of(who)).claim_s.append(seconds)
        elif status == alarms.ARRIVED and within and who and assigned_at:
            seconds = (at - assigned_at).total_seconds()
            tally(who, station_of(who)).arrive_s.append(seconds)
        elif status == alarms.RESOLVED and who:
            resolver = who
            if within:
                tally(who, station_of(who)).resolutions += 1
        previous = status
    rating = alarm.get("rating")
    if rating and resolver and start <= rating["at"] < end:
        tally(resolver, station_of(resolver)).stars.append(rating["stars"])


async def _officers(db: AsyncDatabase, tenant_id: str) -> dict[str, dict]:
    """The tenant's officers by id, disabled ones included (for names)."""
    cursor = db.users.find(
        {"tenant_id": tenant_id, "roles": "officer"},
        {"name": 1, "station_id": 1, "disabled": 1},
    )
    return {str(u["_id"]): u async for u in cursor}


def _officer_rows(tallies: dict, officers: dict) -> list[dict]:
    """Every active officer, idle ones too, and anyone else with activity."""
    ids = [i for i, u in officers.items() if not u.get("disabled")]
    ids += [i for i in tallies if i not in ids]
    return [
        {
            "id": officer_id,
            "name": (officers.get(officer_id) or {}).get("name"),
            "station_id": (officers.get(officer_id) or {}).get("station_id"),
            **tallies.get(officer_id, Tally()).row(),
        }
        for officer_id in ids
    ]


async def _station_rows(db: AsyncDatabase, tenant_id: str, tallies: dict):
    """Every station, and a row without station for officers who have none."""
    names = {
        s["_id"]: s.get("name")
        async for s in db.stations.find({"tenant_id": tenant_id}, {"name": 1})
    }
    ids = list(names) + [i for i in tallies if i not in names]
    return [
        {
            "id": station_id,
            "name": names.get(station_id),
            "station_id": station_id,
            **tallies.get(station_id, Tally()).row(),
        }
        for station_id in ids
    ]


def sort_rows(rows: list[dict], field: str, order: str) -> list[dict]:
    """Rows by ``field``; rows without a value (no claims yet) always last."""
    present = [r for r in rows if r[field] is not None]
    missing = [r for r in rows if r[field] is None]
    present.sort(key=lambda r: r[field], reverse=order == "desc")
    return present + missing


# -- the board as the API serves it ---------------------------------------------


async def report(
    db: AsyncDatabase,
    tenant_id: str | None,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    group: str | None = None,
    sort: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """The board for local calendar days ``date_from`` to ``date_to``."""
    tenant = tenant_id and await db.tenants.find_one(
        {"_id": tenant_id}, {"timezone": 1}
    )
    if not tenant:
        raise NotFound("No such tenant.")
    zone = zoneinfo.ZoneInfo(tenant.get("timezone") or "UTC")
    first, last = _days(date_from, date_to, zone)
    group = group or "officer"
    sort = sort or "name"
    order = order or ("asc" if sort in ("id", "name", "station_id") else "desc")
    if sort not in SORTABLE:
        raise Invalid(f"sort must be one of {', '.join(SORTABLE)}.", "bad_sort")
    if order not in ("asc", "desc"):
        raise Invalid("order must be asc or desc.", "bad_order")
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    rows = await board(db, tenant_id, start, end, group)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": zone.key,
        "group": group,
        "sort": sort,
        "order": order,
        "rows": sort_rows(rows, sort, order),
    }


def _days(date_from, date_to, zone) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive); the last 7 days by default."""
    last = _date(date_to, "to") or dt.datetime.now(zone).date()
    first = _date(date_from, "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise Invalid("to is before from.", "bad_period")
    return first, last


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date like 2026-01-31.", "bad_date") from None
