"""Websocket topic of emergency musters.

Topic ``muster:<id>``: the roll call of one muster, for the command room of
its tenant (``muster.command``). Event ``muster.updated``:
``{"muster": <summary with counts>, "changed": [<roll entries>]}``; a client
merges the changed entries by ``officer_id`` and reloads the whole board
(``GET /api/musters/{id}``) after a ``reload``. Officers' alerts travel on
their own ``user:<id>`` topic (see `server.musters`).
"""

from __future__ import annotations

from server.errors import DomainError
from server.realtime.topics import topic_kind


@topic_kind("muster")
async def _muster(platform, principal, muster_id: str) -> bool:
    if not principal.has("muster.command"):
        return False
    try:
        await platform.musters.for_command(principal, muster_id)
    except DomainError:
        return False
    return True
