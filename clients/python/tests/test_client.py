"""switchboard.Client and switchboard.Room against a real node."""

from __future__ import annotations

import asyncio
import math
from typing import List

import pytest

import switchboard
from conftest import Node, Nodes, fast, next_of, run, token, until, within


def test_subscribe_publish_presence_history_ping_unsubscribe(node: Node) -> None:
    async def main() -> None:
        async with switchboard.Client(node.ws_url, token=token("alice", info={"name": "Alice"}), **fast()) as alice, \
                switchboard.Client(node.ws_url, get_token=lambda: token("bob"), **fast()) as bob:
            assert alice.state == "connected"
            room = await within(alice.subscribe("chat:lobby", presence=True))
            assert room.state == "subscribed" and room.presence_events and room.name == "chat:lobby"
            assert room.position is not None and room.position.offset == 0 and room.position.epoch
            assert room.recovered is None
            assert await next_of(room, switchboard.Join) == switchboard.Join("chat:lobby", "alice", {"name": "Alice"})

            bob_room = await within(bob.subscribe("chat:lobby"))
            assert await next_of(room, switchboard.Join) == switchboard.Join("chat:lobby", "bob", {})
            assert alice.rooms == [room] and await within(alice.subscribe("chat:lobby", presence=True)) is room

            ack = await within(bob_room.publish({"text": "hi", "n": 1}))
            assert ack == switchboard.Ack(offset=1)
            assert await next_of(room, switchboard.Message) == switchboard.Message(
                "chat:lobby", {"text": "hi", "n": 1}, "bob", 1)
            assert await next_of(bob_room, switchboard.Message) == switchboard.Message(
                "chat:lobby", {"text": "hi", "n": 1}, "bob", 1)
            assert room.position is not None and room.position.offset == 1

            # Any room, subscribed or not; any JSON value.
            assert (await within(alice.publish("chat:other", [1, "two", None]))).offset == 1
            assert (await within(alice.publish("chat:lobby", None))).offset == 2
            assert (await next_of(room, switchboard.Message)).data is None

            users = await within(room.presence())
            assert users == [switchboard.PresenceUser("alice", {"name": "Alice"}, 1),
                             switchboard.PresenceUser("bob", {}, 1)]
            assert await within(bob.presence("chat:lobby")) == users
            assert await within(bob.presence("chat:nobody")) == []

            history = await within(room.history(limit=1))
            assert history.messages == [switchboard.Message("chat:lobby", None, "alice", 2)]
            assert history.position == switchboard.Position(2, room.position.epoch)
            assert not history.truncated
            assert [m.offset for m in (await within(bob.history("chat:lobby"))).messages] == [1, 2]

            assert await within(alice.ping()) >= 0

            await within(bob_room.unsubscribe())
            assert bob_room.state == "unsubscribed" and bob.rooms == [] and bob_room.buffered == 1
            assert await next_of(room, switchboard.Leave) == switchboard.Leave("chat:lobby", "bob", {})
            # What was buffered is still delivered, then iteration ends.
            assert [e async for e in bob_room] == [switchboard.Message("chat:lobby", None, "alice", 2)]

            await bob.close()
            assert bob.state == "closed"
            with pytest.raises(switchboard.Disconnected):
                await bob.publish("chat:lobby", 1)
        assert alice.state == "closed"
        assert [e async for e in room] == []  # closed: iteration ends

    run(main())


def test_errors_carry_the_protocols_codes(node: Node) -> None:
    async def main() -> None:
        grants = {"sub": ["chat:*"], "pub": ["chat:*"]}
        errors: List[switchboard.Error] = []
        async with switchboard.Client(node.ws_url, token=token("carol", rooms=grants),
                                      on_error=errors.append, **fast()) as client:
            with pytest.raises(switchboard.BadRequest) as bad:
                await within(client.publish("chat lobby", 1))
            assert bad.value.code == "bad_room" and bad.value.room == "chat lobby" and bad.value.op == "publish"
            with pytest.raises(switchboard.BadRequest) as bad:
                await within(client.subscribe("no$room"))
            assert bad.value.code == "bad_room" and client.rooms == []
            with pytest.raises(switchboard.Forbidden) as forbidden:
                await within(client.subscribe("secret:plans"))
            assert forbidden.value.code == "forbidden" and isinstance(forbidden.value, switchboard.Error)
            with pytest.raises(switchboard.Forbidden):
                await within(client.presence("chat:lobby"))  # no presence grant
            with pytest.raises(switchboard.BadRequest) as bad:
                await within(client.history("chat:lobby", limit=5000))
            assert bad.value.code == "bad_request"
            with pytest.raises(ValueError):
                await client.publish("chat:lobby", math.nan)  # not JSON
            assert (await within(client.publish("chat:lobby", 1))).offset == 1
        assert errors == []

        client = switchboard.Client(node.ws_url, **fast())
        with pytest.raises(switchboard.Disconnected):
            await client.publish("chat:lobby", 1)
        with pytest.raises(ValueError):
            await client.publish("chat:lobby", math.nan)  # not JSON, connected or not
        with pytest.raises(switchboard.Disconnected):
            await client.subscribe("chat:lobby")
        with pytest.raises(ValueError):
            switchboard.Client("http://127.0.0.1/ws")

    run(main())


def test_a_refused_static_token_is_final(node: Node) -> None:
    async def main() -> None:
        client = switchboard.Client(node.ws_url, token="not.a.token", **fast())
        with pytest.raises(switchboard.TokenRefused) as refused:
            await within(client.connect())
        assert refused.value.code == "bad_token" and refused.value.status == 401 and refused.value.op == "connect"
        assert client.state == "closed" and client.final_error is refused.value
        with pytest.raises(switchboard.TokenRefused):
            await within(client.wait_closed())

        # Without a token at all, on a node without --allow-anonymous.
        client = switchboard.Client(node.ws_url, **fast())
        with pytest.raises(switchboard.TokenRefused) as refused:
            await within(client.connect())
        assert refused.value.code == "missing_token"

    run(main())


def test_long_messages_cross_compressed_both_ways(node: Node) -> None:
    """The client offers permessage-deflate (websockets' default) and the node takes it: a long
    message goes compressed to the node and back, and arrives as it was sent."""
    async def main() -> None:
        text = " ".join("word%d" % (i % 40) for i in range(800))  # 6.8 KB: above the node's 1 KiB threshold
        sent, received = node.metric("switchboard_deflate_frames_sent_total"), \
            node.metric("switchboard_deflate_frames_received_total")
        async with switchboard.Client(node.ws_url, token=token("iris"), **fast()) as client:
            room = await within(client.subscribe("zip:python"))
            assert (await within(room.publish({"text": text}))).offset == 1
            message = await next_of(room, switchboard.Message)
            assert message.data == {"text": text}
            assert node.metric("switchboard_deflate_frames_received_total") > received
            # The push is counted once its write completes, which may follow its arrival by a moment.
            await until(lambda: node.metric("switchboard_deflate_frames_sent_total") == sent + 1,
                        what="the push sent compressed")

    run(main())


def test_backoff_is_capped_with_full_jitter() -> None:
    assert switchboard.backoff_delay(0, 0.5, 30, lambda: 0.0) == 0.5
    assert switchboard.backoff_delay(0, 0.5, 30, lambda: 1.0) == 1.0
    assert switchboard.backoff_delay(3, 0.5, 30, lambda: 1.0) == 8.0
    assert switchboard.backoff_delay(50, 0.5, 30, lambda: 1.0) == 30.0
    assert switchboard.backoff_delay(50, 0.5, 30, lambda: 0.5) == 15.25
