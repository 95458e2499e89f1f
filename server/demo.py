"""Demo data: two police districts of Nanjing with stations, staff and tasks.

`load_demo` fills a database with a believable tenant (Xuanwu district: six
stations whose zones tile the district, officers on patrol, commanders, experts,
address plates, pending expert applications and volunteer tasks) and a small
second tenant (Qinhuai) that shows tenant isolation.

Loading is idempotent: every document is upserted on a stable key, everything
random comes from a seeded generator, and values made at load time (creation
times, positions, password hashes) or changed while the demo is used (duty,
settings, workflow status) are written only when a document is first created.

All demo accounts share one password, kept in ``<data_dir>/demo-password``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import math
import os
import random
import secrets
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from server.catalog import EXPERT_CATEGORIES, default_tenant_settings
from server.config import Config
from server.passwords import hash_password

log = logging.getLogger(__name__)

XUANWU = "xuanwu"
QINHUAI = "qinhuai"
DEMO_TENANTS = (XUANWU, QINHUAI)
PASSWORD_FILE = "demo-password"
PLATFORM_ADMIN_USERNAME = "platform.admin"

# Any fixed value works: the same seed gives the same demo on every machine.
SEED = 20260110
# Eight per station gives a roster big enough to show offers widening over
# several stations while staying readable on one screen.
OFFICERS_PER_STATION = 8
# Three per category so the expert directory shows some choice in each field.
EXPERTS_PER_CATEGORY = 3
# secrets.token_urlsafe(9) yields 12 characters: short enough to type on a
# phone during a demo, 72 random bits is plenty for a demo database.
PASSWORD_BYTES = 9
# China has kept UTC+8 without daylight saving since 1991, so a fixed offset
# is exact and needs no time-zone database.
CHINA_TZ = timezone(timedelta(hours=8))
# Generated points keep this far (in degrees, about 60 m) from zone edges, so
# a flat-map check and MongoDB's spherical edges agree on which side they lie.
EDGE_MARGIN_DEG = 0.0006
# On-duty phones reported within the last ten to ninety seconds: fresh enough
# to be inside the default two-minute position age right after loading.
FRESH_POSITION_S = (10, 90)
# Off-duty officers who kept a position last reported it hours ago.
STALE_POSITION_H = (3, 14)
# Repeating duty pattern per station: mostly on duty, some busy, some off.
DUTY_PATTERN = ("on", "on", "busy", "on", "off", "on", "busy", "off")
# User fields their owner changes while the demo runs: set only on creation.
_IN_USE = frozenset({"duty", "expert.availability"})

Point = tuple[float, float]
Ring = list[list[float]]


# ---------------------------------------------------------------- geometry

# Corners of Xuanwu's six station zones, (lon, lat) in WGS-84. Column i runs
# west to east, row j south to north; zone (i, j) is the cell between corners
# (i, j), (i+1, j), (i+1, j+1) and (i, j+1). Neighbouring zones share corners
# and edges exactly, so together they tile the district without gaps.
_CORNERS: list[list[Point]] = [
    [(118.7640, 32.0330), (118.7620, 32.0600), (118.7700, 32.0960)],
    [(118.7960, 32.0310), (118.7980, 32.0620), (118.7960, 32.1040)],
    [(118.8260, 32.0290), (118.8280, 32.0610), (118.8200, 32.1000)],
    [(118.8640, 32.0270), (118.8700, 32.0580), (118.8560, 32.0900)],
]

# Bends of the outer boundary between two corners (counter-clockwise order),
# all bulging outwards, so the district is not a plain polygon of corners.
_BENDS: dict[tuple[tuple[int, int], tuple[int, int]], list[Point]] = {
    ((0, 0), (1, 0)): [(118.7800, 32.0305)],
    ((1, 0), (2, 0)): [(118.8110, 32.0285)],
    ((2, 0), (3, 0)): [(118.8450, 32.0240)],
    ((3, 0), (3, 1)): [(118.8720, 32.0420)],
    ((3, 1), (3, 2)): [(118.8680, 32.0760)],
    ((3, 2), (2, 2)): [(118.8400, 32.0990)],
    ((2, 2), (1, 2)): [(118.8080, 32.1060)],
    ((1, 2), (0, 2)): [(118.7830, 32.1020)],
    ((0, 2), (0, 1)): [(118.7610, 32.0800)],
    ((0, 1), (0, 0)): [(118.7590, 32.0470)],
}

_XUANWU_OUTLINE = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1), (3, 2), (2, 2)]
_XUANWU_OUTLINE += [(1, 2), (0, 2), (0, 1)]

# Qinhuai's outline south of Xuanwu, from Xuanwu's south-west corner going
# counter-clockwise to its south-east corner; the way back follows Xuanwu's
# south boundary, so the two districts touch but never overlap.
_QINHUAI_SOUTH: list[Point] = [
    (118.7580, 32.0150),
    (118.7620, 31.9950),
    (118.7900, 31.9880),
    (118.8300, 31.9900),
    (118.8600, 31.9960),
    (118.8680, 32.0100),
]

# Xuanwu Lake, roughly: officers and plates are not placed in the water.
_LAKE_CENTRE = (118.7925, 32.0765)
_LAKE_RADII = (0.0070, 0.0095)


def _path(a: tuple[int, int], b: tuple[int, int]) -> list[Point]:
    """Corner ``a`` and the bends on the way to corner ``b`` (``b`` excluded)."""
    forward = _BENDS.get((a, b))
    bends = forward if forward is not None else _BENDS.get((b, a), [])[::-1]
    return [_CORNERS[a[0]][a[1]], *bends]


def _closed(points: list[Point]) -> Ring:
    """A closed GeoJSON ring from distinct points."""
    return [[lon, lat] for lon, lat in [*points, points[0]]]


def _ring(corners: list[tuple[int, int]]) -> Ring:
    """The closed ring through ``corners`` and the bends between them."""
    points: list[Point] = []
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        points += _path(a, b)
    return _closed(points)


def zone_ring(i: int, j: int) -> Ring:
    """The closed outer ring of Xuanwu's zone in column ``i``, row ``j``."""
    return _ring([(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)])


def xuanwu_ring() -> Ring:
    """The closed outer ring of Xuanwu district."""
    return _ring(_XUANWU_OUTLINE)


def qinhuai_ring() -> Ring:
    """The closed outer ring of the Qinhuai demo district."""
    north = _path((3, 0), (2, 0)) + _path((2, 0), (1, 0)) + _path((1, 0), (0, 0))
    return _closed([_CORNERS[0][0], *_QINHUAI_SOUTH, *north])


def _geo_point(point: Point) -> dict[str, Any]:
    """A GeoJSON Point."""
    return {"type": "Point", "coordinates": [point[0], point[1]]}


def _inside(point: Point, ring: Ring) -> bool:
    """Ray casting: True when ``point`` lies inside the closed ``ring``."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _edge_distance(point: Point, ring: Ring) -> float:
    """Planar distance in degrees from ``point`` to the nearest ring edge."""
    best = math.inf
    px, py = point
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        dx, dy = x2 - x1, y2 - y1
        t = ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)
        t = min(1.0, max(0.0, t))
        best = min(best, math.hypot(px - x1 - t * dx, py - y1 - t * dy))
    return best


def _in_lake(point: Point) -> bool:
    """True when ``point`` is in (the ellipse standing for) Xuanwu Lake."""
    dx = (point[0] - _LAKE_CENTRE[0]) / _LAKE_RADII[0]
    dy = (point[1] - _LAKE_CENTRE[1]) / _LAKE_RADII[1]
    return dx * dx + dy * dy <= 1.0


def _on_land(point: Point, ring: Ring) -> bool:
    """True when ``point`` is well inside ``ring`` and not in the lake."""
    return (
        _inside(point, ring)
        and _edge_distance(point, ring) >= EDGE_MARGIN_DEG
        and not _in_lake(point)
    )


def _sample_in(rng: random.Random, ring: Ring) -> Point:
    """A random point on land well inside ``ring``."""
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    while True:
        point = (
            round(rng.uniform(min(lons), max(lons)), 6),
            round(rng.uniform(min(lats), max(lats)), 6),
        )
        if _on_land(point, ring):
            return point


# ---------------------------------------------------------------- reference data

# (slug, zone column, zone row, name, English name, address, location)
_XUANWU_STATIONS = [
    ("xinjiekou", 0, 0, "新街口派出所", "Xinjiekou Police Station",
     "南京市玄武区中山路18号", (118.7850, 32.0445)),
    ("meiyuan", 1, 0, "梅园新村派出所", "Meiyuan Xincun Police Station",
     "南京市玄武区长江路262号", (118.8040, 32.0470)),
    ("xiaolingwei", 2, 0, "孝陵卫派出所", "Xiaolingwei Police Station",
     "南京市玄武区孝陵卫街180号", (118.8530, 32.0360)),
    ("xuanwumen", 0, 1, "玄武门派出所", "Xuanwumen Police Station",
     "南京市玄武区玄武巷8号", (118.7870, 32.0640)),
    ("hongshan", 1, 1, "红山派出所", "Hongshan Police Station",
     "南京市玄武区红山路88号", (118.8040, 32.0950)),
    ("suojincun", 2, 1, "锁金村派出所", "Suojincun Police Station",
     "南京市玄武区龙蟠路158号", (118.8330, 32.0800)),
]  # fmt: skip

_QINHUAI_STATION = (
    "fuzimiao", "夫子庙派出所", "Fuzimiao Police Station",
    "南京市秦淮区贡院街100号", (118.7880, 32.0200),
)  # fmt: skip

# Streets of Xuanwu, approximately: (name, one end, other end, plates on it).
_XUANWU_STREETS = [
    ("北京东路", (118.7900, 32.0575), (118.8150, 32.0560), 3),
    ("中山路", (118.7830, 32.0420), (118.7850, 32.0560), 3),
    ("珠江路", (118.7800, 32.0490), (118.8050, 32.0500), 3),
    ("龙蟠路", (118.8050, 32.0700), (118.8080, 32.0950), 3),
    ("太平北路", (118.7930, 32.0440), (118.7950, 32.0560), 2),
    ("长江路", (118.7880, 32.0440), (118.8000, 32.0450), 2),
    ("黄埔路", (118.8120, 32.0420), (118.8130, 32.0520), 2),
    ("中山东路", (118.7900, 32.0400), (118.8300, 32.0390), 3),
    ("童卫路", (118.8400, 32.0350), (118.8420, 32.0440), 2),
    ("后宰门街", (118.8080, 32.0440), (118.8180, 32.0460), 2),
    ("丹凤街", (118.7870, 32.0500), (118.7880, 32.0590), 2),
    ("进香河路", (118.7900, 32.0520), (118.7910, 32.0600), 2),
    ("成贤街", (118.7960, 32.0560), (118.7970, 32.0620), 2),
    ("碑亭巷", (118.7930, 32.0480), (118.7940, 32.0520), 1),
    ("玄武大道", (118.8200, 32.0790), (118.8580, 32.0750), 3),
    ("红山路", (118.7980, 32.0930), (118.8080, 32.0970), 1),
]

_QINHUAI_STREETS = [
    ("中华路", (118.7790, 32.0100), (118.7800, 32.0200), 1),
    ("建康路", (118.7850, 32.0230), (118.7990, 32.0230), 1),
    ("长乐路", (118.7900, 32.0120), (118.8050, 32.0110), 1),
]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
)
_GIVEN_NAMES = [
    "伟", "芳", "静", "磊", "洋", "勇", "杰", "涛", "明", "超", "霞", "刚", "鹏",
    "斌", "浩", "凯", "峰", "婷", "雪", "晨", "建国", "志强", "文博", "子涵",
    "欣怡", "宇轩", "思远", "海燕", "晓东", "立新", "国华", "春梅", "秀兰",
    "俊杰", "雨婷", "振宇", "亚楠", "晓峰", "佳琪", "一鸣",
]  # fmt: skip

# Officers' specialties, the tags tasks and alarms may ask for.
SPECIALTIES = [
    "急救", "英语", "无人机", "谈判", "网络取证", "心理疏导", "驾驶", "日语", "手语",
]  # fmt: skip

# Per expert category: skills to pick from, organisations and qualifications.
_EXPERT_PROFILES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "disaster_accident": (
        ["结构安全评估", "危化品处置", "消防救援", "地质灾害"],
        ["玄武区应急管理局专家库", "钟山建筑安全咨询所", "市消防救援支队（退休）"],
        ["高级工程师，从事应急救援二十年", "注册安全工程师", "一级建造师"],
    ),
    "complex_incident": (
        ["危机谈判", "群体事件处置", "舆情应对"],
        ["市公安局培训中心（退休）", "紫金社会治理研究所", "市信访局调解中心"],
        ["原公安谈判专家", "社会学副教授", "人民调解员，十五年经验"],
    ),
    "criminal_investigation": (
        ["痕迹检验", "法医学", "刑事侦查", "电子数据"],
        ["司法鉴定中心", "省警官学院", "市刑侦支队（退休）"],
        ["法医主检法医师", "痕迹检验高级工程师", "原刑侦大队长"],
    ),
    "medical_emergency": (
        ["院前急救", "创伤救治", "心肺复苏", "中毒处置"],
        ["市急救中心", "玄武区人民医院急诊科", "红十字会救护培训中心"],
        ["急诊科主任医师", "急救培训导师", "重症医学副主任医师"],
    ),
    "psychological_crisis": (
        ["危机干预", "心理疏导", "自杀干预", "青少年心理"],
        ["市心理危机干预中心", "高校心理健康教育中心", "玄武区社工站"],
        ["国家二级心理咨询师", "精神科主治医师", "注册心理师"],
    ),
    "legal": (
        ["刑事诉讼", "民事纠纷调解", "行政法", "未成年人保护"],
        ["钟山律师事务所", "玄武区法律援助中心", "法学院法律诊所"],
        ["执业律师，十年刑事辩护经验", "法律援助律师", "法学副教授"],
    ),
    "technology_cyber": (
        ["网络取证", "反电诈", "数据恢复", "无人机"],
        ["网络安全实验室", "玄武科技园反诈联盟", "无人机应用协会"],
        ["信息安全高级工程师", "电子数据鉴定人", "民用无人机驾驶员执照（机长）"],
    ),
}

# Experts' availability cycles through this, mostly available.
_AVAILABILITY = ("available", "available", "busy", "away")

# (category, skills, qualifications) of the pending expert applications.
_APPLICATIONS = [
    ("medical_emergency", ["院前急救", "心肺复苏"], "护师，急诊科工作八年"),
    ("legal", ["民事纠纷调解"], "执业律师，婚姻家事方向"),
    ("technology_cyber", ["反电诈", "网络取证"], "高校网络空间安全专业讲师"),
    ("psychological_crisis", ["心理疏导"], "国家三级心理咨询师，社区志愿者"),
]

# (days ahead, local start, hours, title, description, location, needed, skills,
#  confirmation) of Xuanwu's volunteer tasks.
_TASKS = [
    (5, (7, 0), 4, "玄武湖环湖跑安保",
     "玄武湖环湖跑比赛沿线秩序维护与急救保障，集合点玄武门。",
     (118.7885, 32.0660), 20, ["急救"], "auto"),
    (3, (14, 0), 2, "东南大学四牌楼校区反诈宣讲",
     "面向新生的防范电信网络诈骗讲座，需协助答疑。",
     (118.7945, 32.0560), 4, ["网络取证"], "manual"),
    (10, (8, 30), 9, "中山陵景区节假日游客疏导",
     "节假日客流高峰期间在景区入口协助疏导游客、指引外国游客。",
     (118.8480, 32.0640), 12, ["英语", "日语"], "auto"),
    (2, (19, 0), 4, "新街口商圈夜间巡逻",
     "配合派出所民警在商圈开展夜间巡逻与防盗宣传。",
     (118.7850, 32.0430), 6, [], "auto"),
]  # fmt: skip


# ---------------------------------------------------------------- documents


@dataclasses.dataclass
class _Upsert:
    """One document to upsert on ``key``."""

    key: dict[str, Any]
    # Owned by the loader: rewritten on every load.
    fields: dict[str, Any]
    # Made at load time or changed by use: written only on creation.
    initial: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DemoResult:
    """What `load_demo` did: the shared password, logins to show, counts."""

    password: str
    logins: list[tuple[str, str, str]]
    counts: dict[str, int]


@dataclasses.dataclass
class _Names:
    """Unique Chinese names drawn from a seeded generator."""

    rng: random.Random
    used: set[str] = dataclasses.field(default_factory=set)

    def next(self) -> str:
        """A full name not handed out before."""
        while True:
            name = self.rng.choice(_SURNAMES) + self.rng.choice(_GIVEN_NAMES)
            if name not in self.used:
                self.used.add(name)
                return name


@dataclasses.dataclass
class _Build:
    """Everything the loader writes, built before anything is written."""

    now: datetime
    rng: random.Random
    names: _Names
    tenants: list[_Upsert] = dataclasses.field(default_factory=list)
    stations: list[_Upsert] = dataclasses.field(default_factory=list)
    users: list[_Upsert] = dataclasses.field(default_factory=list)
    plates: list[_Upsert] = dataclasses.field(default_factory=list)
    applications: list[_Upsert] = dataclasses.field(default_factory=list)
    phones: int = 0

    def phone(self) -> str:
        """The next fictional mobile number."""
        self.phones += 1
        return f"1390000{self.phones:04d}"


def _tenant(build: _Build, tenant_id: str, info: dict, ring: Ring) -> None:
    """Add a tenant with its territory and default settings."""
    build.tenants.append(
        _Upsert(
            {"_id": tenant_id},
            {
                **info,
                "kind": "police_district",
                "timezone": "Asia/Shanghai",
                "territory": {"type": "MultiPolygon", "coordinates": [[ring]]},
            },
            {"settings": default_tenant_settings(), "created_at": build.now},
        )
    )


def _station(build: _Build, tenant_id: str, station: tuple, ring: Ring) -> str:
    """Add a station whose zone is ``ring``; return its id."""
    slug, name, name_en, address, location = station
    station_id = f"{tenant_id}-{slug}"
    number = len(build.stations) + 1
    build.stations.append(
        _Upsert(
            {"_id": station_id},
            {
                "tenant_id": tenant_id,
                "name": name,
                "name_en": name_en,
                "address": address,
                "phone": f"025-555001{number:02d}",
                "location": _geo_point(location),
                "zone": {"type": "Polygon", "coordinates": [ring]},
            },
        )
    )
    return station_id


def _user(
    build: _Build, tenant_id: str | None, username: str, roles: list[str], **extra
) -> str:
    """Add a staff account; ``extra`` adds or overrides fields. Return its name."""
    fields = {
        "tenant_id": tenant_id,
        "username": username,
        "name": build.names.next(),
        "roles": roles,
        "station_id": None,
        "phone": build.phone(),
        "specialties": [],
    }
    initial = {
        "_id": ObjectId(),
        "disabled": False,
        "created_at": build.now,
        "position": None,
        "position_at": None,
        "away_at": None,
    }
    for key, value in extra.items():
        (initial if key in initial or key in _IN_USE else fields)[key] = value
    build.users.append(_Upsert({"username": username}, fields, initial))
    return fields["name"]


def _officer_state(build: _Build, duty: str, ring: Ring) -> dict[str, Any]:
    """Duty, position and position time of an officer patrolling ``ring``."""
    point = _sample_in(build.rng, ring)
    if duty == "off":
        if build.rng.random() < 0.5:
            return {"duty": duty, "position": None, "position_at": None}
        age = timedelta(hours=build.rng.uniform(*STALE_POSITION_H))
    else:
        age = timedelta(seconds=build.rng.uniform(*FRESH_POSITION_S))
    return {
        "duty": duty,
        "position": _geo_point(point),
        "position_at": build.now - age,
        # Not connected (nobody is, in a fresh demo): dispatch finds them
        # by this position (server.dispatch._offer_to_absent).
        "away_at": build.now - age if duty != "off" else None,
    }


def _officers(
    build: _Build,
    tenant_id: str,
    prefix: str,
    badge_prefix: str,
    stations: list[tuple[str, Ring]],
    per_station: int,
) -> None:
    """Add ``per_station`` officers to each station, patrolling its zone."""
    number = 0
    for station_id, ring in stations:
        for slot in range(per_station):
            number += 1
            specialties = build.rng.sample(SPECIALTIES, build.rng.randint(0, 3))
            _user(
                build,
                tenant_id,
                f"{prefix}.officer{number:02d}",
                ["officer"],
                station_id=station_id,
                badge_no=f"{badge_prefix}{1000 + number:04d}",
                specialties=specialties,
                **_officer_state(build, DUTY_PATTERN[slot % len(DUTY_PATTERN)], ring),
            )


def _staff(
    build: _Build, tenant_id: str, prefix: str, badge_prefix: str, commanders: int
) -> None:
    """Add a tenant's administrator and commanders."""
    _user(build, tenant_id, f"{prefix}.admin", ["admin"])
    for number in range(1, commanders + 1):
        _user(
            build,
            tenant_id,
            f"{prefix}.commander{number}",
            ["commander"],
            badge_no=f"{badge_prefix}{number:04d}",
        )


def _experts(build: _Build, tenant_id: str) -> None:
    """Add approved experts, a few in every expert category."""
    number = 0
    for category in EXPERT_CATEGORIES:
        skills, organisations, qualifications = _EXPERT_PROFILES[category["code"]]
        for slot in range(EXPERTS_PER_CATEGORY):
            number += 1
            # Dotted paths, so availability can be set only on creation.
            expert = {
                "expert.category": category["code"],
                "expert.skills": build.rng.sample(skills, 2),
                "expert.qualifications": qualifications[slot % len(qualifications)],
                "expert.organisation": organisations[slot % len(organisations)],
                "expert.availability": _AVAILABILITY[number % len(_AVAILABILITY)],
            }
            _user(build, tenant_id, f"xw.expert{number:02d}", ["expert"], **expert)


def _plates(
    build: _Build,
    tenant_id: str,
    district: str,
    code_prefix: str,
    streets: list[tuple],
    ring: Ring,
) -> None:
    """Add standard address plates along ``streets``, numbered along each."""
    total = sum(street[3] for street in streets)
    codes = build.rng.sample(range(1_000_000, 10_000_000), total)
    for name, start, end, count in streets:
        numbers = sorted(build.rng.sample(range(1, 300), count))
        for slot, number in enumerate(numbers):
            t = (slot + build.rng.uniform(0.2, 0.8)) / count
            point = (
                round(start[0] + t * (end[0] - start[0]), 6),
                round(start[1] + t * (end[1] - start[1]), 6),
            )
            if not _on_land(point, ring):
                raise ValueError(f"demo plate on {name} falls outside {tenant_id}")
            build.plates.append(
                _Upsert(
                    {"_id": f"{code_prefix}{codes.pop():07d}"},
                    {
                        "tenant_id": tenant_id,
                        "address": f"南京市{district}{name}{number}号",
                        "location": _geo_point(point),
                    },
                )
            )


def _applications(build: _Build, tenant_id: str, terms_version: str) -> None:
    """Add pending expert applications awaiting the administrator."""
    for number, (category, skills, qualifications) in enumerate(_APPLICATIONS, 1):
        submitted = build.now - timedelta(hours=6 * number)
        build.applications.append(
            _Upsert(
                {"reference": f"EXP-DEMO-{number:04d}"},
                {
                    "tenant_id": tenant_id,
                    "reference": f"EXP-DEMO-{number:04d}",
                    "name": build.names.next(),
                    "contact": {
                        "phone": build.phone(),
                        "email": f"applicant{number}@example.com",
                    },
                    "category": category,
                    "skills": skills,
                    "qualifications": qualifications,
                },
                {
                    "_id": ObjectId(),
                    "consent": {"terms_version": terms_version, "at": submitted},
                    "status": "pending",
                    "submitted_at": submitted,
                    "decisions": [],
                },
            )
        )


def _tasks(now: datetime, tenant_id: str, commander_id: ObjectId) -> list[_Upsert]:
    """Xuanwu's open volunteer tasks, dated a few days after ``now``."""
    today = now.astimezone(CHINA_TZ).date()
    tasks = []
    for number, spec in enumerate(_TASKS, 1):
        days, (hour, minute), hours, title, text, where, needed, skills, mode = spec
        day = today + timedelta(days=days)
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)
        starts = local.astimezone(UTC)
        tasks.append(
            _Upsert(
                {"_id": f"{tenant_id}-task-{number}"},
                {
                    "tenant_id": tenant_id,
                    "title": title,
                    "description": text,
                    "location": _geo_point(where),
                    "needed": needed,
                    "skills": skills,
                    "confirmation": mode,
                    "created_by": commander_id,
                },
                {
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=hours),
                    "signup_deadline": starts - timedelta(days=1),
                    "status": "open",
                    "created_at": now,
                },
            )
        )
    return tasks


def _build_xuanwu(build: _Build, config: Config) -> None:
    """Add the Xuanwu tenant with its stations, staff, plates and applications."""
    territory = xuanwu_ring()
    info = {
        "name": "南京市公安局玄武分局",
        "name_en": "Xuanwu District Police, Nanjing",
    }
    info["contact"] = {"phone": "025-55500100", "email": "xuanwu@jingdi.example"}
    _tenant(build, XUANWU, info, territory)
    stations = []
    for slug, i, j, name, name_en, address, location in _XUANWU_STATIONS:
        ring = zone_ring(i, j)
        station = (slug, name, name_en, address, location)
        stations.append((_station(build, XUANWU, station, ring), ring))
    _staff(build, XUANWU, "xw", "320102", commanders=2)
    _officers(build, XUANWU, "xw", "320102", stations, OFFICERS_PER_STATION)
    _experts(build, XUANWU)
    _plates(build, XUANWU, "玄武区", "320102", _XUANWU_STREETS, territory)
    _applications(build, XUANWU, config.security.terms_version)


def _build_qinhuai(build: _Build) -> None:
    """Add the small Qinhuai tenant: one station, a few staff and plates."""
    territory = qinhuai_ring()
    info = {
        "name": "南京市公安局秦淮分局",
        "name_en": "Qinhuai District Police, Nanjing",
    }
    info["contact"] = {"phone": "025-55500200", "email": "qinhuai@jingdi.example"}
    _tenant(build, QINHUAI, info, territory)
    station_id = _station(build, QINHUAI, _QINHUAI_STATION, territory)
    _staff(build, QINHUAI, "qh", "320104", commanders=1)
    _officers(build, QINHUAI, "qh", "320104", [(station_id, territory)], 3)
    _plates(build, QINHUAI, "秦淮区", "320104", _QINHUAI_STREETS, territory)


def _build(config: Config, now: datetime) -> _Build:
    """Every demo document except tasks, which need a commander's id."""
    rng = random.Random(SEED)
    build = _Build(now=now, rng=rng, names=_Names(rng))
    _user(build, None, PLATFORM_ADMIN_USERNAME, ["platform_admin"])
    _build_xuanwu(build, config)
    _build_qinhuai(build)
    return build


# ---------------------------------------------------------------- storage


def _read_or_create_password(path: Path) -> tuple[str, bool]:
    """The demo password from ``path``, generated there if missing or empty."""
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
        if password:
            return password, False
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(password + "\n")
    os.chmod(path, 0o600)  # Also when the file existed (empty) with wider bits.
    log.info("generated a new demo password in %s", path)
    return password, True


async def _write(collection: AsyncCollection, upserts: list[_Upsert]) -> None:
    """Upsert ``upserts`` into ``collection`` in one round trip."""
    if not upserts:
        return
    requests = []
    for item in upserts:
        update: dict[str, Any] = {"$set": item.fields}
        if item.initial:
            update["$setOnInsert"] = item.initial
        requests.append(UpdateOne(item.key, update, upsert=True))
    await collection.bulk_write(requests, ordered=True)


async def _counts(db: AsyncDatabase) -> dict[str, int]:
    """Documents per collection belonging to the demo tenants."""
    scope = {"tenant_id": {"$in": list(DEMO_TENANTS)}}
    users = {"$or": [scope, {"username": PLATFORM_ADMIN_USERNAME}]}
    counts = {
        "tenants": await db.tenants.count_documents(
            {"_id": {"$in": list(DEMO_TENANTS)}}
        ),
        "users": await db.users.count_documents(users),
    }
    for name in ("stations", "plates", "expert_applications", "tasks"):
        counts[name] = await db[name].count_documents(scope)
    return counts


def _logins(build: _Build) -> list[tuple[str, str, str]]:
    """(role, username, name) of the accounts worth showing at start-up."""
    by_name = {u.fields["username"]: u.fields["name"] for u in build.users}
    shown = [
        ("platform_admin", PLATFORM_ADMIN_USERNAME),
        ("admin", "xw.admin"),
        ("commander", "xw.commander1"),
        ("officer", "xw.officer01"),
        ("officer", "xw.officer02"),
        ("expert", "xw.expert01"),
        ("admin", "qh.admin"),
    ]
    return [(role, username, by_name[username]) for role, username in shown]


async def _set_password(build: _Build, password: str, reset: bool) -> None:
    """Give every demo account the hash of ``password``.

    Normally the hash is written only to new accounts. When the password file
    was just created, existing accounts get it too: their old password is lost.
    """
    loop = asyncio.get_running_loop()
    encoded = await loop.run_in_executor(None, hash_password, password)
    for user in build.users:
        (user.fields if reset else user.initial)["password_hash"] = encoded


async def load_demo(db: AsyncDatabase, config: Config) -> DemoResult:
    """Create or refresh the demo tenants; safe to run any number of times."""
    started = time.monotonic()
    now = datetime.now(UTC)
    password, created = _read_or_create_password(config.data_path / PASSWORD_FILE)
    build = _build(config, now)
    await _set_password(build, password, reset=created)
    await _write(db.tenants, build.tenants)
    await _write(db.stations, build.stations)
    await _write(db.users, build.users)
    await _write(db.plates, build.plates)
    await _write(db.expert_applications, build.applications)
    commander = await db.users.find_one({"username": "xw.commander1"}, {"_id": 1})
    await _write(db.tasks, _tasks(now, XUANWU, commander["_id"]))
    counts = await _counts(db)
    log.info(
        "demo data loaded for %s: %s in %.2fs",
        ", ".join(DEMO_TENANTS),
        ", ".join(f"{name}={count}" for name, count in counts.items()),
        time.monotonic() - started,
    )
    return DemoResult(password=password, logins=_logins(build), counts=counts)
