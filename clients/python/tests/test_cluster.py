"""Two nodes on a real redis-server: cross-node delivery, and recovery through a node restart
(the history is in Redis, so the client recovers every message missed)."""

from __future__ import annotations

import asyncio
from typing import List

import switchboard
from conftest import API_KEY, Nodes, fast, next_of, run, token, within


def test_subscribe_on_one_node_publish_on_the_other_and_recover_across_a_restart(nodes: Nodes, redis_url: str) -> None:
    a = nodes.start("--redis", redis_url)
    b = nodes.start("--redis", redis_url)

    async def main() -> None:
        closes: List[switchboard.Disconnection] = []
        async with switchboard.Client(a.ws_url, get_token=lambda: token("hana"), on_disconnect=closes.append,
                                      **fast()) as on_a, \
                switchboard.Client(b.ws_url, token=token("ivan"), **fast()) as on_b:
            room = await within(on_a.subscribe("chat:cluster", presence=True))
            await next_of(room, switchboard.Join)
            room_b = await within(on_b.subscribe("chat:cluster"))
            assert await next_of(room, switchboard.Join) == switchboard.Join("chat:cluster", "ivan", {})
            assert (await within(room_b.publish("from b"))).offset == 1
            message = await next_of(room, switchboard.Message)
            assert (message.data, message.sender, message.offset) == ("from b", "ivan", 1)
            assert [u.user for u in await within(room_b.presence())] == ["hana", "ivan"]

            # Node a goes away; messages published meanwhile on b are recovered from Redis
            # when the client is back on a new node a.
            await asyncio.to_thread(a.stop)
            api = switchboard.Api(b.http_url, api_key=API_KEY)
            for n in range(2, 7):
                assert (await within(api.publish("chat:cluster", n))).offset == n
            await asyncio.to_thread(nodes.start, "--redis", redis_url, port=a.port)
            events: List[switchboard.Event] = []
            while len([e for e in events if isinstance(e, switchboard.Message)]) < 5:
                events.append(await within(room.next_event(), 10))
            subscribed = [e for e in events if isinstance(e, switchboard.Subscribed)]
            assert subscribed and subscribed[0].recovered is True and room.recovered is True
            assert [e.offset for e in events if isinstance(e, switchboard.Message)] == [2, 3, 4, 5, 6]
            assert closes[0].code == switchboard.CLOSE_GOING_AWAY

    run(main(), timeout=45)
