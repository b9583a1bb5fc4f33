#!/usr/bin/python3
"""A rolling restart of every node of a real cluster (redis-server, three switchboard executables,
HAProxy with deploy/haproxy.cfg), while clients connected through HAProxy keep publishing and
receiving, as the docker-compose deployment's operators do it.

Each node in turn gets SIGTERM (drain: /readyz 503, then close 1001), exits 0, and starts again on
its port; the next one goes once HAProxy sends clients to it again. Subscribers reconnect through
HAProxy after every close and subscribe with the position of the last message they received, as
the web client does. At the end every subscriber has every message the publisher got an ok for,
once, in order (consecutive offsets), every resubscribe said "recovered": true, and every
subscriber was moved at least once.

Usage: rolling_restart.py path/to/switchboard"""
import asyncio
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import websockets  # noqa: E402

from cluster_interop import TIMEOUT, recv_json, run_on_cluster  # noqa: E402

ROOM = "rolling"
SUBSCRIBERS = 6


async def until(what, condition, timeout=TIMEOUT):
    """Waits, without blocking the event loop, until condition() holds; fails after `timeout`."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        await asyncio.sleep(0.01)


class Subscriber:
    """Stays subscribed through HAProxy across closes, recovering from its last position."""

    def __init__(self, haproxy, name):
        self.haproxy = haproxy
        self.name = name
        self.offsets = []       # of every message received, in order
        self.data = {}          # offset -> data
        self.position = None    # {"offset", "epoch"} of the last message (or of the first reply)
        self.moves = 0          # reconnects
        self.recoveries = []    # "recovered" of every resubscribe
        self.stopping = False

    async def run(self):
        while not self.stopping:
            try:
                async with websockets.connect(self.haproxy.ws(self.name), open_timeout=TIMEOUT) as ws:
                    await self.session(ws)
            except (websockets.ConnectionClosed, websockets.InvalidStatusCode, OSError, asyncio.TimeoutError):
                pass  # the node went away, or HAProxy had none ready yet: try again
            if not self.stopping:
                self.moves += 1
                await asyncio.sleep(0.02)  # a client's reconnect delay

    async def session(self, ws):
        req = {"op": "subscribe", "id": 1, "room": ROOM}
        if self.position:
            req["since"] = self.position
        await ws.send(json.dumps(req))
        reply = await recv_json(ws)
        assert reply.get("ok") is True, (self.name, reply)
        if self.position:
            self.recoveries.append(reply.get("recovered"))
        else:
            self.position = {"offset": reply["offset"], "epoch": reply["epoch"]}
        while True:
            frame = await recv_json(ws, timeout=3600)
            if frame.get("type") != "message":
                continue
            self.offsets.append(frame["offset"])
            self.data[frame["offset"]] = frame["data"]
            self.position = {"offset": frame["offset"], "epoch": self.position["epoch"]}

    async def caught_up(self, offset):
        await until("%s to receive offset %d" % (self.name, offset), lambda: self.offsets and self.offsets[-1] >= offset)


class Publisher:
    """Publishes 0, 1, 2, … through HAProxy until stopped, reconnecting after every close; keeps
    the offset of every publish that got an ok."""

    def __init__(self, haproxy):
        self.haproxy = haproxy
        self.acked = {}  # data -> offset
        self.refused = 0
        self.stopping = False

    async def run(self):
        n = 0
        while not self.stopping:
            try:
                async with websockets.connect(self.haproxy.ws("publisher"), open_timeout=TIMEOUT) as ws:
                    while not self.stopping:
                        await ws.send(json.dumps({"op": "publish", "id": n, "room": ROOM, "data": n}))
                        reply = await recv_json(ws)
                        if reply.get("ok") is True:
                            self.acked[n] = reply["offset"]
                        else:
                            self.refused += 1
                        n += 1
                        await asyncio.sleep(0.005)
            except (websockets.ConnectionClosed, websockets.InvalidStatusCode, OSError, asyncio.TimeoutError):
                n += 1  # the publish in flight may or may not have been taken: not counted as acked
                await asyncio.sleep(0.02)


async def wait_for_clients(haproxy, node):
    """Until HAProxy sends clients to the restarted `node` again: a probe whose cookie names it,
    or any other client, has been accepted by it (it started from zero and nobody else can
    reach it)."""
    cookie = {"Cookie": "SBNODE=" + node.name}
    end = time.monotonic() + TIMEOUT
    while (node.opened() or 0) < 1:
        assert time.monotonic() < end, "HAProxy did not send SBNODE=%s to it again" % node.name
        async with websockets.connect(haproxy.ws("probe"), extra_headers=cookie):
            pass
        await asyncio.sleep(0.02)


async def rolling_restart(nodes, haproxy):
    subscribers = [Subscriber(haproxy, "sub%d" % i) for i in range(SUBSCRIBERS)]
    publisher = Publisher(haproxy)
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    for s in subscribers:
        await until("%s to subscribe" % s.name, lambda: s.position is not None)
    tasks.append(asyncio.create_task(publisher.run()))
    await until("the first acked publishes", lambda: len(publisher.acked) >= 20)

    started = time.monotonic()
    for node in nodes:
        node.proc.proc.send_signal(signal.SIGTERM)
        status = await asyncio.get_running_loop().run_in_executor(None, node.proc.wait)
        assert status == 0, "%s exited with %s after SIGTERM" % (node.name, status)
        node.start()
        node.wait_ready()
        await wait_for_clients(haproxy, node)
        acked = len(publisher.acked)
        await until("publishes to be acked again after %s restarted" % node.name,
                    lambda: len(publisher.acked) >= acked + 10)
    took = time.monotonic() - started

    publisher.stopping = True
    await tasks[-1]
    last = max(publisher.acked.values())
    for s in subscribers:
        await s.caught_up(last)
        s.stopping = True
    for t in tasks[:-1]:
        t.cancel()
    await asyncio.gather(*tasks[:-1], return_exceptions=True)

    for s in subscribers:
        first = s.offsets[0]
        assert s.offsets == list(range(first, first + len(s.offsets))), \
            "%s: offsets not consecutive (a gap or a repeat): %s" % (s.name, s.offsets)
        missing = [n for n, offset in publisher.acked.items() if offset >= first and s.data.get(offset) != n]
        assert not missing, "%s lost acked messages %s" % (s.name, missing[:20])
        assert s.moves >= 1, "%s was never moved to another node" % s.name
        assert s.recoveries and all(r is True for r in s.recoveries), "%s: %s" % (s.name, s.recoveries)
    print("rolling restart of %d nodes in %.1fs: %d messages acked (%d refused), %d subscribers moved %d times "
          "in all, each got every acked message once and in order"
          % (len(nodes), took, len(publisher.acked), publisher.refused, len(subscribers),
             sum(s.moves for s in subscribers)))


def check_rolling_restart(workdir, redis, nodes, haproxy):
    asyncio.run(rolling_restart(nodes, haproxy))
    return 1


if __name__ == "__main__":
    run_on_cluster("rolling_restart", "rolling", check_rolling_restart)
