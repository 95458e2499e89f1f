"""Websocket topic and messages of consultation rooms.

Topic ``room:<id>``: active members only. Events: ``room.message`` (a stored
message, with its room ``seq``), ``room.member`` (invited, active, declined,
removed), ``room.read`` (a member's read mark), ``room.presence`` (who follows
the room now), ``room.closed``. A member who is removed gets ``room.removed``
and is unsubscribed at once. Invitations arrive on ``user:<id>`` as
``room.invited`` (and ``room.removed`` after a removal).

The hub's own resume covers short gaps; the durable history
(``GET /api/rooms/{id}/messages?after=``) is what a client trusts, keeping
each message ``seq`` once.

Client messages (role: rooms.take_part; membership checked each time):

- ``room.join`` ``{room_id}``: subscribe to the room and announce presence;
- ``room.leave`` ``{room_id}``: unsubscribe and announce presence;
- ``room.read`` ``{room_id, seq}``: move the read mark.
"""

from __future__ import annotations

from server.errors import DomainError, Invalid
from server.realtime.socket import RealtimeSocket, message_type
from server.realtime.topics import topic_kind
from server.rooms import topic


@topic_kind("room")
async def _room(platform, principal, room_id: str) -> bool:
    try:
        await platform.rooms.joined(principal, room_id)
    except DomainError:
        return False
    return True


def _room_id(message: dict) -> str:
    room_id = message.get("room_id")
    if not isinstance(room_id, str):
        raise Invalid("Name the room_id.", "bad_message")
    return room_id


@message_type("room.join", "rooms.take_part")
async def _join(socket: RealtimeSocket, message: dict) -> None:
    rooms = socket.platform.rooms
    room = await rooms.joined(socket.principal, _room_id(message))
    name = topic(room["_id"])
    outcome = socket.platform.hub.subscribe(socket, name)
    socket.topics.add(name)
    socket.send(
        {
            "type": "subscribed",
            "id": message.get("id"),
            "topic": name,
            "epoch": outcome.epoch,
            "seq": outcome.seq,
            "room_seq": room["seq"],
        }
    )
    rooms.announce_presence(room["_id"])


@message_type("room.leave", "rooms.take_part")
async def _leave(socket: RealtimeSocket, message: dict) -> None:
    name = topic(_room_id(message))
    if name in socket.topics:
        socket.topics.discard(name)
        socket.platform.hub.unsubscribe(socket, name)
        socket.platform.rooms.announce_presence(name.partition(":")[2])
    socket.send({"type": "unsubscribed", "id": message.get("id"), "topic": name})


@message_type("room.read", "rooms.take_part")
async def _read(socket: RealtimeSocket, message: dict) -> None:
    rooms = socket.platform.rooms
    read = await rooms.mark_read(
        socket.principal, _room_id(message), message.get("seq")
    )
    socket.send({"type": "room.read", "id": message.get("id"), "read_seq": read})
