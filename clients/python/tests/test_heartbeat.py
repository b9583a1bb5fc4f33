"""The heartbeat finds a dead network (a TCP proxy in the test that goes silent), and the
client recovers what was published meanwhile; a subscribe with since= recovers too."""

from __future__ import annotations

import asyncio
from typing import List, Set

import switchboard
from conftest import Node, fast, next_of, run, token, within


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of a node. freeze() makes the connections open now
    swallow every byte in both directions, sockets left open: a dead network. Connections
    opened later pass."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.frozen: Set[asyncio.StreamWriter] = set()
        self.open: Set[asyncio.StreamWriter] = set()
        self.server: asyncio.AbstractServer

    async def start(self) -> "Proxy":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def freeze(self) -> None:
        self.frozen |= self.open

    async def close(self) -> None:
        self.server.close()
        for w in self.open:
            w.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if dst not in self.frozen:
                        dst.write(data)
                        await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_the_heartbeat_drops_a_dead_connection_and_the_client_recovers(node: Node) -> None:
    async def main() -> None:
        proxy = await Proxy(node.port).start()
        closes: List[switchboard.Disconnection] = []
        try:
            async with switchboard.Client(f"ws://127.0.0.1:{proxy.port}/ws", token=token("jo"),
                                          heartbeat_interval=0.3, heartbeat_timeout=0.3,
                                          on_disconnect=closes.append, **fast()) as client, \
                    switchboard.Client(node.ws_url, token=token("kim"), **fast()) as publisher:
                room = await within(client.subscribe("chat:hb"))
                await within(publisher.publish("chat:hb", 1))
                assert (await next_of(room, switchboard.Message)).offset == 1
                proxy.freeze()
                for n in range(2, 5):
                    await within(publisher.publish("chat:hb", n))
                subscribed = await next_of(room, switchboard.Subscribed)
                assert subscribed.resubscribed and subscribed.recovered is True
                assert [(await next_of(room, switchboard.Message)).data for _ in range(3)] == [2, 3, 4]
                assert closes[0] == switchboard.Disconnection(1006, "heartbeat timeout", True)
        finally:
            await proxy.close()

    run(main())


def test_subscribe_since_a_saved_position(node: Node) -> None:
    async def main() -> None:
        async with switchboard.Client(node.ws_url, token=token("lee"), **fast()) as client:
            room = await within(client.subscribe("chat:since"))
            for n in range(1, 4):
                await within(room.publish(n))
            saved = room.position
            assert saved is not None and saved == switchboard.Position(0, saved.epoch)
            await within(room.unsubscribe())
        async with switchboard.Client(node.ws_url, token=token("lee"), **fast()) as client:
            room = await within(client.subscribe("chat:since", since=saved))
            assert room.recovered is True
            assert [(await next_of(room, switchboard.Message)).data for _ in range(3)] == [1, 2, 3]
            assert room.position == switchboard.Position(3, saved.epoch)
            stale = await within(client.subscribe("chat:stale", since=switchboard.Position(5, "no-such-epoch")))
            assert stale.recovered is False and stale.position is not None
            assert stale.position.epoch != "no-such-epoch"

    run(main())
