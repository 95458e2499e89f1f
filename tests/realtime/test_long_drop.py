"""A client away for 30 seconds: every missed event once, in order.

Phones lose their connection in lifts, tunnels and basements for tens of
seconds at a time; this test really waits 30 s, with events published all
through the gap. (The page side of a gap longer than the retention window is
tests/browser/test_resume_flow.py.)
"""

from __future__ import annotations

import asyncio

from tests.realtime.test_socket import until_detached

GAP_S = 30


async def test_a_30_second_drop_gets_every_missed_event_once_in_order(
    live_server, connect
):
    hub = live_server.platform.hub
    client = await live_server.signed_in(("commander",), "t1")
    first = await connect(client)
    epoch = (await first.subscribe("command:t1"))["epoch"]
    hub.publish("command:t1", "tick", {"n": 1})
    [last] = await first.events(1)
    await first.shut()
    await until_detached(hub)

    # Events all through the gap: at its start, every 5 s, and at its end.
    published = []
    for n in range(2, 2 + GAP_S // 5 + 1):
        hub.publish("command:t1", "tick", {"n": n})
        published.append(n)
        await asyncio.sleep(5)

    second = await connect(client)
    resumed = await second.subscribe("command:t1", {"epoch": epoch, "seq": last["seq"]})
    assert resumed["epoch"] == epoch
    missed = await second.events(len(published))
    assert [e["payload"]["n"] for e in missed] == published
    assert [e["seq"] for e in missed] == list(range(2, 2 + len(published)))
    await second.assert_quiet_and_usable()
