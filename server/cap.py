"""A muster as an OASIS Common Alerting Protocol 1.2 message, for other systems.

Built with the standard library's ElementTree, which escapes every text it
writes; characters XML 1.0 cannot carry at all are dropped first. A running
muster is an ``Alert``; an ended one a ``Cancel`` that references the alert,
as CAP 1.2 (section 3.2.1, ``msgType`` and ``references``) describes. Times
are written in the tenant's time zone without fractions of a second, the form
the CAP schema's pattern requires. The scope is ``Restricted``: a muster is
for the police, not the public.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo

from server import musters

NS = "urn:oasis:names:tc:emergency:cap:1.2"
# XML 1.0 section 2.2: characters a document may contain.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# CAP 1.2: a headline of at most 160 characters, for text-constrained devices.
HEADLINE_MAX = 160

WORDS = {
    "zh": {
        "language": "zh-CN",
        "event": "紧急集结",
        "headline": "紧急集结：需要 {needed} 人",
        "ended": "紧急集结已结束",
        "instruction": "请在警滴中回复“我来了”或“无法前往”；前往者到集结点报到。",
        "audience": "{tenant}民警",
        "area": "集结点周围 {km} 公里",
        "restriction": "仅限公安机关内部使用",
    },
    "en": {
        "language": "en-US",
        "event": "Emergency muster",
        "headline": "Emergency muster: {needed} officers needed",
        "ended": "The emergency muster has ended",
        "instruction": (
            "Answer Coming or Cannot in Jingdi; if coming, report at the muster point."
        ),
        "audience": "Police officers of {tenant}",
        "area": "Within {km} km of the muster point",
        "restriction": "For police use only",
    },
}


def clean(text) -> str:
    """Text safe for XML 1.0 (escaping itself is ElementTree's)."""
    return _NOT_XML.sub("", str(text or ""))


def cap_time(at: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """``2026-01-02T10:00:00+08:00``: CAP's dateTime, no fraction, no ``Z``."""
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def _add(parent: ET.Element, name: str, text) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{name}")
    child.text = clean(text)
    return child


def _parameter(info: ET.Element, name: str, value) -> None:
    parameter = ET.SubElement(info, f"{{{NS}}}parameter")
    _add(parameter, "valueName", name)
    _add(parameter, "value", value)


def identifier(muster: dict, ended: bool = False) -> str:
    suffix = "-ended" if ended else ""
    return f"jingdi-muster-{muster['_id']}{suffix}"


def muster_alert(muster: dict, tenant: dict, lang: str = "zh") -> bytes:
    """The CAP 1.2 XML document of a muster (UTF-8, with its declaration)."""
    words = WORDS.get(lang, WORDS["zh"])
    zone = zoneinfo.ZoneInfo(tenant.get("timezone") or "UTC")
    ended = muster["status"] == musters.ENDED
    sender = f"jingdi:{tenant['_id']}"
    sent_alert = cap_time(muster["created_at"], zone)
    alert = ET.Element(f"{{{NS}}}alert")
    _add(alert, "identifier", identifier(muster, ended))
    _add(alert, "sender", sender)
    _add(alert, "sent", cap_time(muster["ended_at"], zone) if ended else sent_alert)
    _add(alert, "status", "Actual")
    _add(alert, "msgType", "Cancel" if ended else "Alert")
    _add(alert, "source", muster["created_by"]["name"])
    _add(alert, "scope", "Restricted")
    _add(alert, "restriction", words["restriction"])
    if ended:
        if muster.get("end_note"):
            _add(alert, "note", muster["end_note"])
        _add(alert, "references", f"{sender},{identifier(muster)},{sent_alert}")
    _info(alert, muster, tenant, words, zone, ended)
    return ET.tostring(
        alert, encoding="utf-8", xml_declaration=True, default_namespace=NS
    )


def _info(alert, muster, tenant, words, zone, ended: bool) -> None:
    info = ET.SubElement(alert, f"{{{NS}}}info")
    _add(info, "language", words["language"])
    _add(info, "category", "Security")
    _add(info, "event", words["event"])
    _add(info, "responseType", "AllClear" if ended else "Execute")
    _add(info, "urgency", "Past" if ended else "Immediate")
    _add(info, "severity", "Severe")
    _add(info, "certainty", "Observed")
    tenant_name = tenant.get("name") or tenant["_id"]
    _add(info, "audience", words["audience"].format(tenant=tenant_name))
    _add(info, "effective", cap_time(muster["created_at"], zone))
    _add(info, "expires", cap_time(muster["ends_at"], zone))
    _add(info, "senderName", tenant_name)
    headline = words["ended"] if ended else words["headline"]
    _add(info, "headline", headline.format(needed=muster["needed"])[:HEADLINE_MAX])
    _add(info, "description", muster["message"])
    if not ended:
        _add(info, "instruction", words["instruction"])
    tally = musters.counts(muster)
    for name in ("needed", "alerted", "coming", "cannot", "pending"):
        _parameter(info, name.upper(), tally[name])
    _parameter(info, "RADIUS_M", muster["radius_m"])
    area = ET.SubElement(info, f"{{{NS}}}area")
    km = f"{muster['radius_m'] / 1000:g}"
    _add(area, "areaDesc", muster.get("address") or words["area"].format(km=km))
    lon, lat = muster["place"]["coordinates"]
    # CAP 1.2 circle: "lat,lon radius", WGS 84, the radius in kilometres.
    _add(area, "circle", f"{lat:.6f},{lon:.6f} {km}")
