"""Defaults shared by the platform: alarm and expert categories, tenant settings.

A new tenant starts from `default_tenant_settings()`; its administrators may
then change the copy stored with the tenant. The category lists are the
platform's vocabulary: ``code`` is stored in documents, ``zh``/``en`` are shown.
"""

from __future__ import annotations

import copy
from typing import Any

# Non-emergency alarms a citizen may raise; emergencies still go to 110.
ALARM_CATEGORIES: list[dict[str, str]] = [
    {"code": "taxi_dispute", "zh": "出租车纠纷", "en": "Taxi dispute"},
    {"code": "missing_person", "zh": "走失寻人", "en": "Missing person"},
    {"code": "animal_nuisance", "zh": "动物扰民", "en": "Animal nuisance"},
    {"code": "lost_item", "zh": "失物招领", "en": "Lost and found"},
    {"code": "neighbour_dispute", "zh": "邻里纠纷", "en": "Neighbour dispute"},
    {"code": "noise", "zh": "噪音扰民", "en": "Noise nuisance"},
]

# Fields in which outside experts advise the police.
EXPERT_CATEGORIES: list[dict[str, str]] = [
    {"code": "disaster_accident", "zh": "灾害事故", "en": "Disasters and accidents"},
    {"code": "complex_incident", "zh": "复杂警情", "en": "Complex incidents"},
    {
        "code": "criminal_investigation",
        "zh": "侦查办案",
        "en": "Criminal investigation",
    },
    {"code": "medical_emergency", "zh": "医疗急救", "en": "Medical emergencies"},
    {
        "code": "psychological_crisis",
        "zh": "心理危机干预",
        "en": "Psychological crisis intervention",
    },
    {"code": "legal", "zh": "法律咨询", "en": "Legal advice"},
    {"code": "technology_cyber", "zh": "科技与网络", "en": "Technology and cyber"},
]


# Specialties officers can offer (发布专长): tags a commander searches by and a
# task asks for. Agencies may add their own.
SPECIALTIES: list[dict[str, str]] = [
    {"code": "first_aid", "zh": "急救", "en": "First aid"},
    {"code": "negotiation", "zh": "谈判", "en": "Negotiation"},
    {"code": "drone_pilot", "zh": "无人机驾驶", "en": "Drone pilot"},
    {"code": "cyber_forensics", "zh": "电子取证", "en": "Cyber forensics"},
    {"code": "english", "zh": "英语", "en": "English"},
    {"code": "japanese", "zh": "日语", "en": "Japanese"},
    {"code": "korean", "zh": "韩语", "en": "Korean"},
    {"code": "sign_language", "zh": "手语", "en": "Sign language"},
    {"code": "psychology", "zh": "心理疏导", "en": "Psychological support"},
    {"code": "water_rescue", "zh": "水上救援", "en": "Water rescue"},
    {"code": "crowd_control", "zh": "人群管理", "en": "Crowd control"},
    {"code": "heavy_vehicle", "zh": "大型车辆驾驶", "en": "Heavy vehicle driving"},
]


def default_tenant_settings() -> dict[str, Any]:
    """A fresh copy of the settings a new tenant starts with."""
    return {
        # Citizens' non-emergency alarms are staffed during the day shift;
        # outside these hours the citizen is pointed to 110.
        "service_hours": {"start": "08:00", "end": "20:00"},
        # Long enough for an officer to glance at the phone and accept, short
        # enough that a citizen is not left waiting before the next offer.
        "claim_window_s": 60,
        # About ten minutes on foot or two by car in a dense city district.
        "offer_radius_m": 2000,
        # Widening by a kilometre per round reaches the next station's area.
        "offer_radius_step_m": 1000,
        # Beyond this an officer cannot arrive in reasonable time; the alarm
        # goes to the commander instead.
        "offer_radius_max_m": 5000,
        # A patrol car covers a kilometre or more in two minutes; an older
        # position is too stale to judge distance by.
        "position_max_age_s": 120,
        # Off-duty officers are never tracked: a muster reaches them by the
        # last position they shared while on duty ("last_position") or by
        # their home station ("home_station"), as the agency decides.
        "muster_off_duty": "last_position",
        "categories": copy.deepcopy(ALARM_CATEGORIES),
        "expert_categories": copy.deepcopy(EXPERT_CATEGORIES),
        "specialties": copy.deepcopy(SPECIALTIES),
    }


def settings_of(tenant: dict) -> dict[str, Any]:
    """A tenant's effective settings: its own over the platform defaults."""
    merged = default_tenant_settings()
    merged.update(tenant.get("settings") or {})
    return merged
