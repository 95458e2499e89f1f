"""Websocket messages and topics of the field: officers' positions and offers.

Client messages (each needs the officer role):

- ``position``: ``{lon, lat, accuracy?}``, every few seconds while on duty;
- ``duty``: ``{duty}`` with ``on``, ``busy`` or ``off``;
- ``offer.ack``: ``{alarm_id, seen}``, sent when an offer arrives (``seen``
  false) and when it is on screen (``seen`` true), for the assessment board;
- ``claim``: ``{id, alarm_id}``, 抢单 from the open app, answered with
  ``{type: "claimed", id, alarm}`` or an ``error`` with the reason (``taken``,
  ``expired``, ``cancelled``, ``not_offered``). The same claim as
  ``POST /api/alarms/{id}/claim``, without an HTTP request and its session
  lookup: the socket's principal was checked when it opened, and a session
  that ends closes it.

Topic ``alarm:<id>``: the alarm's status and its officer's position, for the
citizen who raised it, its officer and the tenant's command room.
"""

from __future__ import annotations

from server.alarm_views import staff_view
from server.alarms import may_see
from server.errors import DomainError, Invalid
from server.realtime.socket import RealtimeSocket, message_type, quick_message
from server.realtime.topics import topic_kind


@message_type("position", "officer.self")
async def _position(socket: RealtimeSocket, message: dict) -> None:
    # No answer on success: positions are frequent and fire-and-forget.
    await socket.platform.officers.report_position(socket.principal, message)


@quick_message("position", "officer.self")
def _position_now(socket: RealtimeSocket, message: dict) -> bool:
    # The usual case, in memory: no task for each of thousands a second.
    return socket.platform.officers.move_now(socket.principal, message)


@message_type("duty", "officer.self")
async def _duty(socket: RealtimeSocket, message: dict) -> None:
    officers = socket.platform.officers
    duty = await officers.set_duty(socket.principal, message.get("duty"))
    socket.send({"type": "duty", "id": message.get("id"), "duty": duty})


@message_type("offer.ack", "alarm.claim")
async def _offer_ack(socket: RealtimeSocket, message: dict) -> None:
    _offer_ack_now(socket, message)


@quick_message("offer.ack", "alarm.claim")
def _offer_ack_now(socket: RealtimeSocket, message: dict) -> bool:
    # Held in memory and written in bulk (server/realtime/acks.py).
    alarm_id = message.get("alarm_id")
    if not isinstance(alarm_id, str):
        raise Invalid("offer.ack needs an alarm_id.", "bad_message")
    socket.platform.dispatcher.offer_acknowledged(
        socket.principal.id, alarm_id, message.get("seen") is True
    )
    return True


@message_type("claim", "alarm.claim")
async def _claim(socket: RealtimeSocket, message: dict) -> None:
    alarm_id = message.get("alarm_id")
    if not isinstance(alarm_id, str):
        raise Invalid("claim needs an alarm_id.", "bad_message")
    alarm = await socket.platform.alarms.claim(socket.principal, alarm_id)
    socket.send(
        {"type": "claimed", "id": message.get("id"), "alarm": staff_view(alarm)}
    )


@topic_kind("alarm")
async def _alarm(platform, principal, alarm_id: str) -> bool:
    try:
        alarm = await platform.alarms.get(alarm_id)
    except DomainError:
        return False
    return may_see(principal, alarm)
