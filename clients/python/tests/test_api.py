"""switchboard.Api, the HTTP API, against a real node."""

from __future__ import annotations

import pytest

import switchboard
from conftest import API_KEY, Node, Nodes, fast, next_of, run, token, within


def test_publish_presence_history(node: Node) -> None:
    async def main() -> None:
        api = switchboard.Api(node.http_url, api_key=API_KEY)
        async with switchboard.Client(node.ws_url, token=token("gina", info={"team": "ops"}), **fast()) as client:
            room = await within(client.subscribe("jobs:done"))
            ack = await within(api.publish("jobs:done", {"job": 7}, sender="ci"))
            assert ack == switchboard.Ack(1)
            assert await next_of(room, switchboard.Message) == switchboard.Message("jobs:done", {"job": 7}, "ci", 1)
            assert (await within(api.publish("jobs:done", "plain"))).offset == 2
            assert (await next_of(room, switchboard.Message)).sender == "server"

            assert await within(api.presence("jobs:done")) == [switchboard.PresenceUser("gina", {"team": "ops"}, 1)]
            assert await within(api.presence("jobs:none")) == []
            history = await within(api.history("jobs:done"))
            assert [(m.data, m.sender, m.offset) for m in history.messages] == [({"job": 7}, "ci", 1), ("plain", "server", 2)]
            assert history.position == room.position and not history.truncated
            assert [m.offset for m in (await within(api.history("jobs:done", limit=1))).messages] == [2]

            # A JWT acts as its user, within its grants.
            as_user = switchboard.Api(node.http_url + "/", token=token("gina", rooms={"pub": ["jobs:*"], "sub": ["jobs:*"]}))
            assert (await within(as_user.publish("jobs:done", 3))).offset == 3
            assert (await next_of(room, switchboard.Message)).sender == "gina"
            with pytest.raises(switchboard.Forbidden) as forbidden:
                await within(as_user.presence("jobs:done"))
            assert forbidden.value.status == 403 and forbidden.value.code == "forbidden"
            with pytest.raises(switchboard.Forbidden):
                await within(as_user.publish("jobs:done", 4, sender="someone-else"))

    run(main())


def test_a_retry_with_the_same_idempotency_key_is_delivered_once(node: Node) -> None:
    async def main() -> None:
        api = switchboard.Api(node.http_url, api_key=API_KEY)
        async with switchboard.Client(node.ws_url, token=token("ivy"), **fast()) as client:
            room = await within(client.subscribe("orders"))
            first = await within(api.publish("orders", {"order": 77}, idem="order-77"))
            assert await within(api.publish("orders", {"order": 77}, idem="order-77")) == first
            # Keys are per publisher: ivy's "order-77" is hers, over the WebSocket and the HTTP API.
            mine = await within(room.publish({"order": 77, "by": "ivy"}, idem="order-77"))
            assert mine == switchboard.Ack(first.offset + 1)
            assert await within(client.publish("orders", {"order": 77, "by": "ivy"}, idem="order-77")) == mine
            as_ivy = switchboard.Api(node.http_url, token=token("ivy"))
            assert await within(as_ivy.publish("orders", {"order": 77, "by": "ivy"}, idem="order-77")) == mine
            assert (await next_of(room, switchboard.Message)).data == {"order": 77}
            assert (await next_of(room, switchboard.Message)).data == {"order": 77, "by": "ivy"}
            with pytest.raises(switchboard.BadRequest) as bad:
                await within(client.publish("orders", 1, idem="no spaces"))
            assert bad.value.code == "bad_request"

    run(main())


def test_errors_carry_the_protocols_codes_and_status(node: Node) -> None:
    async def main() -> None:
        api = switchboard.Api(node.http_url, api_key=API_KEY)
        with pytest.raises(switchboard.BadRequest) as bad:
            await within(api.publish("no room", 1))
        assert (bad.value.code, bad.value.status, bad.value.room, bad.value.op) == ("bad_room", 400, "no room", "publish")
        with pytest.raises(switchboard.BadRequest) as bad:
            await within(api.history("jobs:done", limit=0))
        assert bad.value.code == "bad_request"
        with pytest.raises(switchboard.TokenRefused) as refused:
            await within(switchboard.Api(node.http_url, api_key="not-a-key").publish("jobs:done", 1))
        assert refused.value.status == 401 and refused.value.code == "bad_token"
        with pytest.raises(switchboard.TokenRefused) as refused:
            await within(switchboard.Api(node.http_url).presence("jobs:done"))
        assert refused.value.code == "missing_token"
        with pytest.raises(switchboard.Error) as unreachable:
            await within(switchboard.Api("http://127.0.0.1:1").publish("jobs:done", 1))
        assert unreachable.value.code == "unreachable"
        with pytest.raises(ValueError):
            switchboard.Api("ws://127.0.0.1")

    run(main())


def test_rate_limited_carries_retry_after(nodes: Nodes) -> None:
    node = nodes.start("--http-publish-rate-per-key", "1", "--http-publish-burst", "1")

    async def main() -> None:
        api = switchboard.Api(node.http_url, api_key=API_KEY)
        await within(api.publish("jobs:done", 1))
        with pytest.raises(switchboard.RateLimited) as limited:
            await within(api.publish("jobs:done", 2))
        assert limited.value.status == 429 and limited.value.retry_after is not None and limited.value.retry_after > 0

    run(main())


def test_bytes_published_over_a_websocket_and_over_http_are_received_as_bytes(node: Node) -> None:
    async def main() -> None:
        api = switchboard.Api(node.http_url, api_key=API_KEY)
        png = b"\x89PNG\r\n\x1a\n\x00\xff"
        large = bytes(i * 7 % 256 for i in range(3000))
        async with switchboard.Client(node.ws_url, token=token("hana"), **fast()) as client:
            room = await within(client.subscribe("files:bytes"))
            assert (await within(room.publish(png))).offset == 1  # a binary frame
            assert (await within(client.publish("files:bytes", bytearray(large), idem="k-large"))).offset == 2
            assert (await within(api.publish("files:bytes", memoryview(b"")))).offset == 3  # {"$binary":""}
            assert (await within(room.publish({"$binary": "aGk="}))).offset == 4  # JSON of that shape is bytes
            received = [await next_of(room, switchboard.Message) for _ in range(4)]
            assert [(m.data, m.sender) for m in received] == [(png, "hana"), (large, "hana"), (b"", "server"),
                                                               (b"hi", "hana")]
            # A retry with the key is the first publish's, as for any data.
            assert (await within(client.publish("files:bytes", large, idem="k-large"))).offset == 2
            # History, over the WebSocket and over HTTP, hands them back as bytes too.
            for history in (await within(room.history()), await within(api.history("files:bytes"))):
                assert [m.data for m in history.messages] == [png, large, b"", b"hi"]
            with pytest.raises(switchboard.Error) as refused:
                await within(room.publish({"$binary": "not base64"}))
            assert refused.value.code == "bad_request"

    run(main())
