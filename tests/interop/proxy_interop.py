#!/usr/bin/python3
"""The README's chat backend (deploy/examples/chat_backend.py) behind the real switchboard
executable's publish proxy, with python3-websockets clients: a message is stored by the backend
and delivered with its offset; a message with the refused word is answered forbidden with the
backend's message, neither stored nor delivered; the backend stopped, a publish is answered
unavailable within --proxy-timeout-ms and the node serves on."""
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile

import websockets

BIN = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 10
SECRET = "proxy-interop-secret-0123456789"


def start(args, pattern, env=None):
    """Starts a process and returns it with the port its first line matching `pattern` names."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in process.stdout:
        m = re.search(pattern, line)
        if m:
            return process, int(m.group(1))
    raise SystemExit("%s exited before listening: status %s" % (args[0], process.wait()))


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def request(ws, doc):
    await ws.send(json.dumps(doc))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if reply.get("id") == doc["id"]:
            return reply


async def chat(port, backend, store):
    async with websockets.connect("ws://127.0.0.1:%d/ws" % port) as reader, \
            websockets.connect("ws://127.0.0.1:%d/ws" % port) as writer:
        assert (await request(reader, {"op": "subscribe", "id": 1, "room": "chat:lobby"}))["ok"] is True
        ack = await request(writer, {"op": "publish", "id": 2, "room": "chat:lobby", "data": {"text": "hello"}})
        assert "offset" in ack, ack
        message = json.loads(await asyncio.wait_for(reader.recv(), TIMEOUT))
        assert message["data"] == {"text": "hello"}, message
        refused = await request(writer, {"op": "publish", "id": 3, "room": "chat:lobby", "data": {"text": "Darn!"}})
        assert refused["error"] == {"code": "forbidden", "message": "please keep it friendly"}, refused
        with open(store) as f:
            stored = [json.loads(line) for line in f]
        assert [(m["room"], m["data"]) for m in stored] == [("chat:lobby", {"text": "hello"})], stored
        assert all(m["user"] and m["connection"] for m in stored), stored

        stop(backend)
        down = await request(writer, {"op": "publish", "id": 4, "room": "chat:lobby", "data": {"text": "anyone?"}})
        assert down["error"]["code"] == "unavailable", down
        pong = await request(writer, {"op": "ping", "id": 5})
        assert pong == {"id": 5, "ok": True}, pong
        # Nothing was delivered but "hello".
        try:
            extra = await asyncio.wait_for(reader.recv(), 0.2)
            raise AssertionError("delivered: %s" % extra)
        except asyncio.TimeoutError:
            pass


def main():
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "messages.jsonl")
        env = dict(os.environ, SWITCHBOARD_PROXY_SECRET=SECRET)
        backend, backend_port = start([sys.executable, os.path.join(ROOT, "deploy/examples/chat_backend.py"), "0", store],
                                      r"listening (\d+)", env)
        node = None
        try:
            node, port = start([BIN, "--bind", "127.0.0.1", "--port", "0", "--threads", "2", "--allow-anonymous",
                                "--drain-delay-ms", "0", "--proxy-publish", "http://127.0.0.1:%d/" % backend_port,
                                "--proxy-timeout-ms", "1000"],
                               r"listening on http://127\.0\.0\.1:(\d+)", env)
            asyncio.run(chat(port, backend, store))
        finally:
            stop(backend)
            if node:
                stop(node)
    print("proxy interop: ok")


if __name__ == "__main__":
    main()
