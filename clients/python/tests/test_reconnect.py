"""Reconnecting: a node restart, token refresh and expiry (4001), a slow consumer (4008)."""

from __future__ import annotations

import asyncio
import time
from typing import List

import jwt

import pytest

import switchboard
from conftest import Nodes, fast, next_of, run, token, until, within


def test_resubscribes_after_a_node_restart_and_reports_recovered_false(nodes: Nodes) -> None:
    # A restarted node on the embedded broker lost its history (a new epoch): the client
    # resubscribes with its position, and the node says it could not recover.
    first = nodes.start()

    async def main() -> None:
        closes: List[switchboard.Disconnection] = []
        connects: List[bool] = []
        async with switchboard.Client(first.ws_url, get_token=lambda: token("dave"),
                                      on_disconnect=closes.append, on_connect=connects.append,
                                      **fast()) as client:
            room = await within(client.subscribe("chat:lobby", presence=True))
            await next_of(room, switchboard.Join)
            for n in range(3):
                await within(room.publish(n))
            assert [(await next_of(room, switchboard.Message)).offset for _ in range(3)] == [1, 2, 3]
            assert room.position is not None
            old_epoch = room.position.epoch

            await asyncio.to_thread(first.stop)
            second = await asyncio.to_thread(nodes.start, port=first.port)
            event = await next_of(room, switchboard.Subscribed, timeout=10, skip=(switchboard.Join,))
            assert event.resubscribed and event.recovered is False and room.recovered is False
            assert event.position is not None and event.position.epoch != old_epoch and event.position.offset == 0
            assert closes[0].code == switchboard.CLOSE_GOING_AWAY and closes[0].will_reconnect
            assert connects[:1] == [False] and connects[-1] is True
            assert client.state == "connected" and room.state == "subscribed"

            await within(room.publish("again"))
            message = await next_of(room, switchboard.Message, skip=(switchboard.Join,))
            assert (message.data, message.offset) == ("again", 1)
            assert [u.user for u in await within(room.presence())] == ["dave"]
            second.stop()

    run(main())


def test_answers_refresh_pushes_through_get_token(nodes: Nodes) -> None:
    # Tokens of 4 s and no leeway: the node asks for a refresh halfway through a token's life,
    # and closes with 4001 at expiry when none came. The client answers each push with a token
    # from get_token; the connection outlives the first tokens.
    node = nodes.start("--jwt-leeway", "0")

    async def main() -> None:
        expiries: List[int] = []
        fourth = asyncio.Event()
        closes: List[switchboard.Disconnection] = []
        errors: List[switchboard.Error] = []

        async def get_token() -> str:
            t = token("erin", ttl=4)
            expiries.append(jwt.decode(t, options={"verify_signature": False})["exp"])
            if len(expiries) == 4:
                fourth.set()
            return t

        async with switchboard.Client(node.ws_url, get_token=get_token, on_disconnect=closes.append,
                                      on_error=errors.append, **fast()) as client:
            room = await within(client.subscribe("chat:lobby"))
            await within(fourth.wait(), 15)
            assert time.time() >= expiries[0]  # the first token is over
            await within(room.publish("still here"))
            assert (await next_of(room, switchboard.Message)).data == "still here"
            assert closes == [] and errors == [] and client.state == "connected"

    run(main(), timeout=40)


def test_token_expiry_without_get_token_is_final_4001(nodes: Nodes) -> None:
    node = nodes.start("--jwt-leeway", "0")

    async def main() -> None:
        closes: List[switchboard.Disconnection] = []
        client = switchboard.Client(node.ws_url, token=token("frank", ttl=2), on_disconnect=closes.append, **fast())
        await within(client.connect())
        room = await within(client.subscribe("chat:lobby"))
        with pytest.raises(switchboard.TokenExpired) as expired:
            await within(client.wait_closed(), 10)
        assert expired.value.close_code == switchboard.CLOSE_TOKEN_EXPIRED and expired.value.code == "token_expired"
        assert closes == [switchboard.Disconnection(4001, "token expired", False)]
        assert client.state == "closed" and room.state == "unsubscribed"
        with pytest.raises(switchboard.TokenExpired):
            await within(room.next_event())
        with pytest.raises(switchboard.TokenExpired):
            await client.publish("chat:lobby", 1)

    run(main(), timeout=20)


def test_after_a_refused_refresh_4001_then_a_reconnect_with_a_fresh_token(nodes: Nodes) -> None:
    node = nodes.start("--jwt-leeway", "0")

    async def main() -> None:
        tokens = iter([token("nina", ttl=2), token("someone-else", ttl=60), token("nina", ttl=3600)])
        closes: List[switchboard.Disconnection] = []
        errors: List[switchboard.Error] = []
        async with switchboard.Client(node.ws_url, get_token=lambda: next(tokens), on_disconnect=closes.append,
                                      on_error=errors.append, **fast()) as client:
            room = await within(client.subscribe("chat:lobby"))
            event = await next_of(room, switchboard.Subscribed, timeout=10)
            assert event.resubscribed and client.state == "connected"
            assert closes == [switchboard.Disconnection(4001, "token expired", True)]
            assert [(type(e), e.code, e.op) for e in errors] == [(switchboard.Forbidden, "forbidden", "refresh")]
            await within(room.publish("back"))
            assert (await next_of(room, switchboard.Message)).data == "back"

    run(main(), timeout=20)


def test_a_slow_consumer_is_closed_with_4008_and_comes_back(nodes: Nodes) -> None:
    # The reader stops while a room's buffer is full, so a backend that does not keep up fills
    # the node's queue for it: the node closes it with 4008 and drops that backlog. The client
    # reconnects and resumes from its position; a recovery larger than the node's queue would
    # be closed with 4008 again, so after that the room resumes without since, and says
    # recovered=False.
    node = nodes.start("--max-message-size", "16384", "--max-queue-bytes", "32768", "--publish-rate", "0",
                       "--history-size", "100000", "--write-timeout", "60", "--close-timeout-ms", "30000")

    async def main() -> None:
        closes: List[switchboard.Disconnection] = []
        payload = "x" * 2000
        async with switchboard.Client(node.ws_url, token=token("slow"), max_buffered=4,
                                      on_disconnect=closes.append, **fast()) as slow, \
                switchboard.Client(node.ws_url, token=token("fast"), **fast()) as publisher:
            room = await within(slow.subscribe("feed:ticks"))
            sent = 0
            while node.metric("switchboard_slow_consumers_total") < 1:
                await within(asyncio.gather(*(publisher.publish("feed:ticks", {"n": sent + i, "pad": payload})
                                              for i in range(50))))
                sent += 50
                assert sent < 200000, "the node never closed the slow consumer"
            # More than the node's queue holds, published while the slow client is away.
            await within(asyncio.gather(*(publisher.publish("feed:ticks", {"n": sent + i, "pad": payload})
                                          for i in range(40))))
            sent += 40

            offsets: List[int] = []
            resubscribed = None
            while resubscribed is None:
                event = await within(room.next_event(), 10)
                if isinstance(event, switchboard.Message):
                    offsets.append(event.offset)
                elif isinstance(event, switchboard.Subscribed):
                    resubscribed = event
            assert offsets == list(range(1, len(offsets) + 1))  # in order, none twice, up to the close
            assert len(offsets) < sent
            assert closes[0].code == switchboard.CLOSE_SLOW_CONSUMER and closes[0].will_reconnect
            assert all(c.code == switchboard.CLOSE_SLOW_CONSUMER for c in closes)
            assert resubscribed.resubscribed and resubscribed.recovered is False
            assert resubscribed.position is not None and resubscribed.position.offset == sent

            await within(publisher.publish("feed:ticks", "live"))
            message = await next_of(room, switchboard.Message)
            assert (message.data, message.offset) == ("live", sent + 1)

    run(main(), timeout=60)
