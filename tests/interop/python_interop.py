#!/usr/bin/python3
"""Interoperability: Debian's python3-websockets (a client no one here wrote) against the real
switchboard executable. Starts the node on a free loopback port, talks the protocol, and stops
it with SIGTERM, expecting close 1001 and exit status 0."""
import asyncio
import json
import re
import subprocess
import urllib.request
import sys

import time

import jwt
import websockets

BIN = sys.argv[1]
TIMEOUT = 10


SECRET = "interop-secret-0123456789abcdef"


def start_node(*args):
    node = subprocess.Popen(
        [BIN, "--bind", "127.0.0.1", "--port", "0", "--threads", "2", "--max-message-size", "4096", *args],
        stderr=subprocess.PIPE, text=True)
    node.log_lines = []
    for line in node.stderr:
        node.log_lines.append(line)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return node, int(m.group(1))
    raise SystemExit("node exited before listening: status %s" % node.wait())


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def session(port):
    url = "ws://127.0.0.1:%d/ws" % port
    async with websockets.connect(url) as alice, websockets.connect(url) as bob:
        await alice.send(json.dumps({"op": "subscribe", "id": 1, "room": "chat:lobby", "presence": True}))
        reply = await recv_json(alice)
        assert reply == {"id": 1, "ok": True, "offset": 0, "epoch": reply.get("epoch")}, reply
        assert isinstance(reply["epoch"], str) and reply["epoch"], reply
        me = await recv_json(alice)
        assert me["type"] == "join" and me["user"].startswith("anon-"), me

        await bob.send(json.dumps({"op": "subscribe", "id": 1, "room": "chat:lobby"}))
        assert await recv_json(bob) == {"id": 1, "ok": True, "offset": 0, "epoch": reply["epoch"]}
        bob_join = await recv_json(alice)
        assert bob_join["type"] == "join", bob_join

        await bob.send(json.dumps({"op": "publish", "id": 2, "room": "chat:lobby", "data": {"text": "héllo ✓"}}))
        frames = [await recv_json(bob), await recv_json(bob)]
        assert {"id": 2, "ok": True, "offset": 1} in frames, frames
        message = await recv_json(alice)
        assert message == {"type": "message", "room": "chat:lobby", "data": {"text": "héllo ✓"},
                           "from": bob_join["user"], "offset": 1}, message

        await alice.send(json.dumps({"op": "presence", "id": 3, "room": "chat:lobby"}))
        reply = await recv_json(alice)
        assert sorted(u["user"] for u in reply["users"]) == sorted([me["user"], bob_join["user"]]), reply

        await alice.send("nonsense")
        assert (await recv_json(alice))["error"]["code"] == "bad_json"

        pong = await alice.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)

        # Oversize: the node closes bob with 1009 and alice sees bob leave.
        await bob.send("x" * 5000)
        try:
            await asyncio.wait_for(bob.recv(), TIMEOUT)
            raise AssertionError("expected a close")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009, closed
        leave = await recv_json(alice)
        assert leave["type"] == "leave" and leave["user"] == bob_join["user"], leave
        return alice


async def shutdown(port, node):
    url = "ws://127.0.0.1:%d/ws" % port
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 1}))
        assert await recv_json(ws) == {"id": 1, "ok": True}
        node.terminate()
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            raise AssertionError("expected a close")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed


SECRET_BODY = "a message body that must not reach the log"


async def jwt_session(port):
    """Tokens minted by PyJWT (Debian's python3-jwt) are accepted; a missing one is a 401.
    Returns the token, which must not appear in the node's log."""
    url = "ws://127.0.0.1:%d/ws" % port
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60, "info": {"name": "Alice"}},
                       SECRET, algorithm="HS256")
    async with websockets.connect(url + "?token=" + token) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "room": "r", "presence": True}))
        reply = await recv_json(ws)
        assert reply["id"] == 1 and reply["ok"] is True and reply["offset"] == 0, reply
        assert await recv_json(ws) == {"type": "join", "room": "r", "user": "alice", "info": {"name": "Alice"}}
        await ws.send(json.dumps({"op": "publish", "id": 2, "room": "r", "data": SECRET_BODY}))
        await recv_json(ws)
        await recv_json(ws)
        await ws.send("not json " + token)  # a bad frame: its error is logged at most, not its text
    async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + token}) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 1}))
        assert await recv_json(ws) == {"id": 1, "ok": True}
    try:
        async with websockets.connect(url):
            raise AssertionError("a handshake without a token was accepted")
    except websockets.InvalidStatusCode as refused:
        assert refused.status_code == 401, refused
    return token


def check_json_log(lines, token):
    """--log-format json: every line is one JSON object with ts, level and msg; neither the token
    nor a message body is in it, even at debug level."""
    assert len(lines) >= 3, lines
    for line in lines:
        entry = json.loads(line)
        assert set(entry) == {"ts", "level", "msg"}, entry
        assert entry["level"] in ("debug", "info", "warn", "error"), entry
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", entry["ts"]), entry
    text = "".join(lines)
    assert token not in text and token.split(".")[2] not in text, "the token is in the log"
    assert SECRET_BODY not in text, "a message body is in the log"


def check_metrics(port):
    """/metrics passes Prometheus's own linter, and counts what the session did."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=TIMEOUT) as res:
        body = res.read()
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=TIMEOUT)
    assert lint.returncode == 0, "promtool check metrics: %s%s" % (lint.stdout.decode(), lint.stderr.decode())
    text = body.decode()
    for needle in ("switchboard_messages_published_total 1\n", 'switchboard_request_errors_total{code="bad_json"} 1\n',
                   'switchboard_closes_total{code="1009"} 1\n', "switchboard_publish_seconds_count 1\n",
                   "# TYPE switchboard_delivery_seconds histogram\n", "# TYPE switchboard_write_queue_bytes histogram\n"):
        assert needle in text, "%r not in /metrics:\n%s" % (needle, text)


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=TIMEOUT) as res:
        for line in res.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    raise AssertionError("%s not in /metrics" % name)


async def compression(port):
    """permessage-deflate as websockets offers it by default (client_max_window_bits): taken, and
    a long message crosses both ways compressed; a client that offers nothing reads plain frames."""
    url = "ws://127.0.0.1:%d/ws" % port
    async with websockets.connect(url) as deflating, websockets.connect(url, compression=None) as plain:
        assert deflating.response_headers["Sec-WebSocket-Extensions"] == \
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        assert [type(e).__name__ for e in deflating.extensions] == ["PerMessageDeflate"], deflating.extensions
        assert plain.extensions == [] and "Sec-WebSocket-Extensions" not in plain.response_headers
        for ws in (deflating, plain):
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "room": "zip"}))
            assert (await recv_json(ws))["ok"] is True
        sent, received = metric(port, "switchboard_deflate_frames_sent_total"), \
            metric(port, "switchboard_deflate_frames_received_total")
        text = " ".join("word%d" % (i % 40) for i in range(500))  # 3.4 KB: compressed above the threshold
        await deflating.send(json.dumps({"op": "publish", "id": 2, "room": "zip", "data": text}))
        frames = [await recv_json(deflating), await recv_json(deflating)]
        assert {"id": 2, "ok": True, "offset": 1} in frames, frames
        assert [f["data"] for f in frames if "data" in f] == [text], frames
        assert (await recv_json(plain))["data"] == text
        assert metric(port, "switchboard_deflate_frames_received_total") == received + 1
        # The push, not the short reply: counted once its write completes, which may follow its
        # arrival by a moment.
        deadline = time.monotonic() + TIMEOUT
        while metric(port, "switchboard_deflate_frames_sent_total") != sent + 1:
            assert time.monotonic() < deadline, metric(port, "switchboard_deflate_frames_sent_total")
            await asyncio.sleep(0.01)


def main():
    node, port = start_node("--jwt-secret", SECRET, "--log-format", "json", "--log-level", "debug")
    try:
        token = asyncio.run(jwt_session(port))
    finally:
        node.terminate()
        node.wait(timeout=TIMEOUT)
    check_json_log(node.log_lines + node.stderr.readlines(), token)

    node, port = start_node("--allow-anonymous")
    try:
        asyncio.run(session(port))
        check_metrics(port)
        asyncio.run(compression(port))
        asyncio.run(shutdown(port, node))
        status = node.wait(timeout=TIMEOUT)
        assert status == 0, "node exited with %s" % status
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
