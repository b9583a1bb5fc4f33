"""What a real node does rarely or never on cue — a gap in the offsets, a duplicate, a room's
stream moving on, a subscription ended by the node, an error without an id — played by a
scripted WebSocket server in the test, frame by frame as PROTOCOL.md describes them."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import websockets.legacy.server

import switchboard
from conftest import fast, run, within


class ScriptedNode:
    """A WebSocket server on 127.0.0.1 that hands the test every frame a client sends, and sends
    what the test tells it to."""

    def __init__(self) -> None:
        self.requests: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.connected = asyncio.Event()
        self.ws: Any = None
        self.server: Any = None

    async def __aenter__(self) -> "ScriptedNode":
        self.server = await websockets.legacy.server.serve(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ws"

    async def _serve(self, ws: Any, path: str = "/ws") -> None:
        self.ws = ws
        self.connected.set()
        async for frame in ws:
            await self.requests.put(json.loads(frame))

    async def request(self, op: str) -> Dict[str, Any]:
        r = await within(self.requests.get())
        assert r["op"] == op, r
        return r

    async def send(self, frame: Dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))


def test_gaps_duplicates_announcements_and_ends() -> None:
    async def main() -> None:
        errors: List[switchboard.Error] = []
        async with ScriptedNode() as node, \
                switchboard.Client(node.url, token="t", on_error=errors.append, **fast()) as client:
            subscribing = asyncio.ensure_future(client.subscribe("r"))
            sub = await node.request("subscribe")
            assert sub == {"op": "subscribe", "id": sub["id"], "room": "r", "presence": False}
            await node.send({"id": sub["id"], "ok": True, "offset": 5, "epoch": "e1"})
            room = await within(subscribing)
            assert room.position == switchboard.Position(5, "e1")

            def message(offset: int) -> Dict[str, Any]:
                return {"type": "message", "room": "r", "data": offset, "from": "u", "offset": offset}

            await node.send(message(6))
            await node.send(message(6))  # a duplicate: dropped
            await node.send(message(8))  # a gap: 7 is missing
            unsub = await node.request("unsubscribe")
            await node.send({"id": unsub["id"], "ok": True})
            sub = await node.request("subscribe")
            assert sub["since"] == {"offset": 6, "epoch": "e1"}
            await node.send({"id": sub["id"], "ok": True, "offset": 8, "epoch": "e1", "recovered": True})
            await node.send(message(7))
            await node.send(message(8))
            # The room's history was lost: numbering starts again under a new epoch.
            await node.send({"type": "subscribed", "room": "r", "offset": 0, "epoch": "e2", "recovered": False})
            await node.send(message(1))
            await node.send({"error": {"code": "bad_json", "message": "frame is not valid JSON"}})
            await node.send({"type": "unsubscribed", "room": "r", "code": "forbidden", "message": "no longer allowed"})

            events = [e async for e in room]
            assert events == [
                switchboard.Message("r", 6, "u", 6),
                switchboard.Subscribed("r", True, True, switchboard.Position(6, "e1")),
                switchboard.Message("r", 7, "u", 7),
                switchboard.Message("r", 8, "u", 8),
                switchboard.Subscribed("r", True, False, switchboard.Position(0, "e2")),
                switchboard.Message("r", 1, "u", 1),
                switchboard.Unsubscribed("r", "forbidden", "no longer allowed"),
            ]
            assert room.state == "unsubscribed" and client.rooms == []
            assert room.position == switchboard.Position(1, "e2")
            assert [(type(e), e.code) for e in errors] == [(switchboard.BadRequest, "bad_json")]

    run(main())
