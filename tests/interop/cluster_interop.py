#!/usr/bin/python3
"""A cluster of real processes: redis-server, three switchboard executables sharing it, and
HAProxy in front of them with deploy/haproxy.cfg (its ports, servers and check interval
rewritten for the test), driven by Debian's python3-websockets with tokens from PyJWT.

- messages: subscribers on every node receive each message of two publishers on two nodes
  exactly once, in order per publisher;
- HAProxy: the WebSocket handshake's 101 sets the SBNODE cookie, reconnects that send it back
  land on the same node (even when leastconn would pick another), and when that node stops
  (SIGTERM: new clients with its cookie go elsewhere at once, its clients get close 1001, it
  exits 0) the reconnect lands on another node and works; back on its port, the node gets its
  cookie's clients again;
- a node killed with SIGKILL: its users leave the presence of the others within
  --node-timeout-ms plus a third, users on other nodes stay, and the node that reaped it logs
  it with the number of connections;
- Redis stopped and restarted on its port: publishes get `unavailable`, /readyz goes 503 and
  back to 200, and a subscription made before the outage carries messages again after it,
  told first (a `subscribed` push with recovered:false) that the room's epoch changed;
- deploy/local-cluster starts a working cluster behind HAProxy, keeps it up through the operator
  guide's experiments (a node stopped, a node killed, Redis stopped), starts each again on
  SIGHUP, and stops it all on SIGTERM.

Every port is a free loopback port picked here; every process is stopped in a finally block,
killed if it does not stop in time. Usage: cluster_interop.py path/to/switchboard"""
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import jwt
import websockets

BIN = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "deploy", "haproxy.cfg")
LOCAL_CLUSTER = os.path.join(ROOT, "deploy", "local-cluster")
TIMEOUT = 10          # seconds for any single step
NODE_TIMEOUT_MS = 900  # --node-timeout-ms: a SIGKILLed node's users leave within 1.2 s
DRAIN_MS = 500        # --drain-delay-ms: on SIGTERM, /readyz 503 this long before close 1001
LEAVE_BOUND = 3.0     # what the test allows for it
SECRET = "cluster-interop-secret-0123456789"
NODE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
NODE_ENV["SWITCHBOARD_JWT_SECRET"] = SECRET


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deadline_loop(what, timeout=TIMEOUT, step=0.02):
    """Yields until the caller breaks out; fails with `what` once `timeout` has passed."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > end:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


def http_get(url):
    """(status, body); status None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return None, ""


def token(user):
    return jwt.encode({"sub": user, "exp": int(time.time()) + 600, "info": {"name": user}}, SECRET, algorithm="HS256")


class Process:
    """A started process whose output is read by a thread (so that it never blocks on a full
    pipe) and kept for the failure report."""
    everyone = []

    def __init__(self, name, argv, env=None, new_session=False):
        self.name = name
        self.new_session = new_session  # then its children are in its process group
        self.lines = []
        self.eof = False
        self.seen = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, start_new_session=new_session)
        Process.everyone.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line.rstrip("\n"))
                self.seen.notify_all()
        with self.seen:
            self.eof = True
            self.seen.notify_all()

    def wait_for_line(self, pattern, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        with self.seen:
            while True:
                for line in self.lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
                if self.eof:
                    raise AssertionError("%s exited (status %s) before printing %r"
                                         % (self.name, self.proc.wait(), pattern))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s did not print %r within %ss" % (self.name, pattern, timeout))
                self.seen.wait(min(left, 0.1))

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Sends `sig` to the process and waits; kills it (and its group) on timeout. Returns
        the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("%s did not stop within %ss of signal %d" % (self.name, timeout, sig))
        return self.proc.returncode

    def wait(self, timeout=TIMEOUT):
        """Waits for the process to exit by itself (after a signal already sent); kills it on
        timeout. Returns the exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within %ss" % (self.name, timeout))

    def kill(self):
        try:
            if self.new_session:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the children too
            else:
                self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()

    @classmethod
    def stop_everyone(cls):
        for p in reversed(cls.everyone):
            try:
                p.stop(signal.SIGTERM, timeout=5)
            except AssertionError as e:
                print(e, file=sys.stderr)
            if p.new_session:
                p.kill()  # leftovers in its group

    @classmethod
    def dump_logs(cls):
        for p in cls.everyone:
            print("---- %s (pid %d, status %s)" % (p.name, p.proc.pid, p.proc.returncode), file=sys.stderr)
            for line in p.lines[-40:]:
                print("  " + line, file=sys.stderr)


class Redis:
    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None
        self.start()

    def start(self):
        self.proc = Process("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", self.workdir])
        for _ in deadline_loop("redis-server on port %d" % self.port):
            if self.ping():
                break
            assert self.proc.proc.poll() is None, "redis-server exited: %s" % self.proc.lines[-5:]

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port


class Node:
    def __init__(self, name, redis, port=0):
        self.name = name  # also its HAProxy server name and cookie value
        self.redis = redis
        self.port = port
        self.start()

    def start(self):
        self.proc = Process(self.name, [BIN, "--bind", "127.0.0.1", "--port", str(self.port), "--threads", "2",
                                        "--redis", self.redis.url, "--node-timeout-ms", str(NODE_TIMEOUT_MS),
                                        "--drain-delay-ms", str(DRAIN_MS)],
                            env=NODE_ENV)
        self.port = int(self.proc.wait_for_line(r"listening on http://127\.0\.0\.1:(\d+)").group(1))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def ws(self, user):
        return "ws://127.0.0.1:%d/ws?token=%s" % (self.port, token(user))

    def readyz(self):
        return http_get(self.url("/readyz"))[0]

    def wait_ready(self, want=200):
        for _ in deadline_loop("%s /readyz %d" % (self.name, want)):
            if self.readyz() == want:
                return

    def opened(self):
        """WebSocket connections accepted so far; None when the node does not answer."""
        status, body = http_get(self.url("/metrics"))
        if status is None:
            return None
        assert status == 200, "%s /metrics: %s" % (self.name, status)
        return int(re.search(r"^switchboard_connections_opened_total (\d+)$", body, re.M).group(1))


def haproxy_config(port, nodes, check="inter 200ms fall 1 rise 1"):
    """deploy/haproxy.cfg with the test's bind address, servers and check interval."""
    with open(TEMPLATE) as f:
        template = f.read()
    out, servers_done = [], False
    for line in template.splitlines():
        if re.match(r"\s*bind\s", line):
            line = "    bind 127.0.0.1:%d" % port
        elif re.match(r"\s*default-server\s", line):
            line = "    default-server check " + check
        elif re.match(r"\s*server\s", line):
            if servers_done:
                continue
            servers_done = True
            line = "\n".join("    server %s 127.0.0.1:%d cookie %s" % (n.name, n.port, n.name) for n in nodes)
        out.append(line)
    assert servers_done, "no server lines in " + TEMPLATE
    return "\n".join(out) + "\n"


class HAProxy:
    def __init__(self, workdir, nodes):
        self.port = free_port()
        path = os.path.join(workdir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(haproxy_config(self.port, nodes))
        check = subprocess.run(["haproxy", "-c", "-q", "-f", path], capture_output=True, text=True, timeout=TIMEOUT)
        assert check.returncode == 0, "haproxy -c: " + check.stdout + check.stderr
        self.proc = Process("haproxy", ["haproxy", "-db", "-f", path])
        for _ in deadline_loop("HAProxy on port %d" % self.port):
            if http_get("http://127.0.0.1:%d/healthz" % self.port)[0] == 200:
                break
            assert self.proc.proc.poll() is None, "haproxy exited: %s" % self.proc.lines[-5:]

    def ws(self, user):
        return "ws://127.0.0.1:%d/ws?token=%s" % (self.port, token(user))


# ---- WebSocket helpers

async def recv_json(ws, timeout=TIMEOUT):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def request(ws, **req):
    """Sends a request with an id and returns its reply; pushes met meanwhile are returned too."""
    await ws.send(json.dumps(req))
    pushes = []
    while True:
        frame = await recv_json(ws)
        if frame.get("id") == req["id"]:
            return frame, pushes
        pushes.append(frame)


async def ok(ws, **req):
    reply, pushes = await request(ws, **req)
    assert reply.get("ok") is True, (req, reply)
    return reply, pushes


async def expect_closed(ws, code):
    try:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        raise AssertionError("expected close %s, got %s" % (code, frame))
    except websockets.ConnectionClosed as closed:
        got = closed.rcvd.code if closed.rcvd else 1006
        assert got == code, "closed with %s, expected %s" % (got, code)


def opened_counts(nodes):
    return [n.opened() for n in nodes]


def served_by(nodes, before):
    """The one node that accepted one WebSocket since `before` (opened_counts). The node counts
    a connection once its side of the handshake is done, which may be just after the client's."""
    for _ in deadline_loop("a node to count the connection (from %s)" % before, step=0.005):
        after = opened_counts(nodes)
        grew = [n for n, b, a in zip(nodes, before, after) if a is not None and a != b]
        if grew:
            break
    assert len(grew) == 1 and after[nodes.index(grew[0])] == before[nodes.index(grew[0])] + 1, \
        "expected one node to accept the connection: %s -> %s" % (before, after)
    return grew[0]


def cookie_of(ws):
    """The SBNODE value of the handshake response's Set-Cookie, or None."""
    for value in ws.response_headers.get_all("Set-Cookie"):
        m = re.match(r"SBNODE=([^;]*)", value)
        if m:
            return m.group(1)
    return None


# ---- b. messages across nodes

async def check_messages(nodes):
    room, count = "fanout", 100
    subs = [await websockets.connect(n.ws("sub-%s" % n.name)) for n in nodes]
    pubs = {"pub-a": await websockets.connect(nodes[0].ws("pub-a")),
            "pub-b": await websockets.connect(nodes[1].ws("pub-b"))}
    try:
        for ws in subs:
            await ok(ws, op="subscribe", id=1, room=room)

        async def publish(user, ws):
            for n in range(count):
                await ws.send(json.dumps({"op": "publish", "id": n, "room": room, "data": {"n": n}}))
            acks = set()
            while len(acks) < count:
                frame = await recv_json(ws)
                assert frame.get("ok") is True, frame
                acks.add(frame["id"])
            assert acks == set(range(count))

        async def collect(ws):
            got = {"pub-a": [], "pub-b": []}
            while sum(map(len, got.values())) < 2 * count:
                frame = await recv_json(ws)
                assert frame["type"] == "message" and frame["room"] == room, frame
                got[frame["from"]].append(frame["data"]["n"])
            return got

        results = await asyncio.gather(*(collect(ws) for ws in subs), *(publish(u, ws) for u, ws in pubs.items()))
        for node, got in zip(nodes, results[:len(subs)]):
            for user, seq in got.items():
                assert seq == list(range(count)), "%s got from %s: %s" % (node.name, user, seq)
        # Nothing more: a ping's reply comes after any message already on its way (one connection, one order).
        for ws in subs:
            reply, pushes = await request(ws, op="ping", id="after")
            assert pushes == [], "extra frames after the messages: %s" % pushes[:3]
    finally:
        for ws in [*subs, *pubs.values()]:
            await ws.close()
    print("messages: 2 publishers x %d messages reached subscribers on %d nodes once, in order" % (count, len(nodes)))


# ---- Server-Sent Events through HAProxy

def check_sse(nodes, haproxy):
    """A Server-Sent Events stream opened through HAProxy gets what is published (over the HTTP
    API) on every node, and resumes with Last-Event-ID on another node."""
    room = "sse-room"

    def publish(node, n):
        req = urllib.request.Request(node.url("/api/publish"), method="POST",
                                     data=json.dumps({"room": room, "data": n}).encode(),
                                     headers={"Authorization": "Bearer " + token("sse-writer"),
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
            return json.load(res)["offset"]

    def open_stream(port, last_id=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        headers = {"Authorization": "Bearer " + token("sse-reader")}
        if last_id:
            headers["Last-Event-ID"] = last_id
        conn.request("GET", "/sse?rooms=" + room, headers=headers)
        res = conn.getresponse()
        assert res.status == 200, res.status
        assert res.getheader("Content-Type").startswith("text/event-stream")
        return conn, res

    def next_event(res):
        """(id, data as JSON) of the next event with data; comments are skipped."""
        ident, data = None, None
        while True:
            line = res.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\r\n")
            if line == "":
                if data is not None:
                    return ident, json.loads(data)
                continue
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("data: "):
                data = line[6:]

    conn, res = open_stream(haproxy.port)
    _, subscribed = next_event(res)
    assert subscribed["type"] == "subscribed", subscribed
    for n, node in enumerate(nodes):
        publish(node, n)
    last_id = None
    for n in range(len(nodes)):
        last_id, event = next_event(res)
        assert event["type"] == "message" and event["data"] == n, event
    conn.close()
    for n in range(len(nodes), len(nodes) + 5):
        publish(nodes[n % len(nodes)], n)
    conn, res = open_stream(nodes[-1].port, last_id)
    _, resumed = next_event(res)
    assert resumed["type"] == "subscribed" and resumed["recovered"] is True, resumed
    got = [next_event(res)[1]["data"] for _ in range(5)]
    assert got == list(range(len(nodes), len(nodes) + 5)), got
    conn.close()
    print("sse: a stream through HAProxy got messages published on %d nodes; resumed on another node "
          "with Last-Event-ID, 5 missed messages in order" % len(nodes))


# ---- a. HAProxy: sticky sessions and failover

async def check_haproxy(nodes, haproxy):
    before = opened_counts(nodes)
    first = await websockets.connect(haproxy.ws("sticky"))
    home = served_by(nodes, before)
    assert cookie_of(first) == home.name, "Set-Cookie %r, served by %s" % (first.response_headers.get_all("Set-Cookie"), home.name)
    cookie = {"Cookie": "SBNODE=" + home.name}
    others = []
    try:
        # Without the cookie, leastconn sends a second client elsewhere...
        before = opened_counts(nodes)
        others.append(await websockets.connect(haproxy.ws("other")))
        assert served_by(nodes, before) is not home, "leastconn sent a second client to the busy node"
        # ...but reconnects with it stick to their node, busy or not.
        for i in range(3):
            before = opened_counts(nodes)
            async with websockets.connect(haproxy.ws("sticky"), extra_headers=cookie) as again:
                assert served_by(nodes, before) is home, "reconnect %d left %s" % (i, home.name)
                assert cookie_of(again) is None, "a valid cookie was set again"
                await ok(again, op="ping", id=1)

        # The node stops. As soon as it says so (/readyz 503 while it drains), HAProxy sends new
        # clients elsewhere, even with its cookie, whether its checks have seen it or not.
        await ok(first, op="subscribe", id=1, room="failover")
        home.proc.proc.send_signal(signal.SIGTERM)
        for _ in deadline_loop("%s to stop being ready" % home.name, step=0.005):
            if home.readyz() != 200:
                break
        before = opened_counts(nodes)
        async with websockets.connect(haproxy.ws("newcomer"), extra_headers=cookie) as newcomer:
            elsewhere = served_by(nodes, before)
            assert elsewhere is not home and cookie_of(newcomer) == elsewhere.name, (elsewhere.name, cookie_of(newcomer))
        # Its own clients are told 1001, and their reconnect lands on another node.
        await expect_closed(first, 1001)
        before = opened_counts(nodes)
        started = time.monotonic()
        moved = await websockets.connect(haproxy.ws("sticky"), extra_headers=cookie)
        reconnect_time = time.monotonic() - started
        others.append(moved)
        new_home = served_by(nodes, before)
        assert new_home is not home and cookie_of(moved) == new_home.name, (new_home.name, cookie_of(moved))
        status = home.proc.wait()
        assert status == 0, "%s exited with %s after SIGTERM" % (home.name, status)
        # Subscribe + publish + receive there, with a publisher on the third node.
        third = next(n for n in nodes if n is not home and n is not new_home)
        await ok(moved, op="subscribe", id=2, room="failover")
        async with websockets.connect(third.ws("announcer")) as announcer:
            await ok(announcer, op="publish", id=1, room="failover", data="from " + third.name)
            _, pushes = await ok(moved, op="publish", id=3, room="failover", data="mine")
            frames = pushes + [await recv_json(moved) for _ in range(2 - len(pushes))]
            # (Two publishers: in either order.)
            assert sorted(frames, key=lambda f: f["from"]) == [
                {"type": "message", "room": "failover", "data": "from " + third.name, "from": "announcer",
                 "offset": frames[0]["offset"] if frames[0]["from"] == "announcer" else frames[1]["offset"]},
                {"type": "message", "room": "failover", "data": "mine", "from": "sticky",
                 "offset": frames[0]["offset"] if frames[0]["from"] == "sticky" else frames[1]["offset"]}], frames
            # Numbered by the room in the order they reached every node.
            assert [f["offset"] for f in frames] == [1, 2], frames

        # Back on its port, the node gets its cookie's clients again once HAProxy's check sees it.
        home.start()
        home.wait_ready()
        for _ in deadline_loop("HAProxy to send SBNODE=%s to it again" % home.name):
            before = opened_counts(nodes)
            async with websockets.connect(haproxy.ws("sticky"), extra_headers=cookie):
                if served_by(nodes, before) is home:
                    break
    finally:
        await first.close()
        for ws in others:
            await ws.close()
    print("haproxy: reconnects stuck to %s; after its SIGTERM the client moved to %s in %.3fs and works; "
          "back, it gets its clients again" % (home.name, new_home.name, reconnect_time))


# ---- c. a node killed with SIGKILL

async def check_node_killed(nodes):
    room = "presence:kill"
    watcher_node, other, victim = nodes
    watcher = await websockets.connect(watcher_node.ws("watcher"))
    conns = []
    try:
        _, pushes = await ok(watcher, op="subscribe", id=1, room=room, presence=True)
        events = pushes + [await recv_json(watcher)]
        assert events == [{"type": "join", "room": room, "user": "watcher", "info": {"name": "watcher"}}], events

        async def join(node, user, expect_event=True):
            ws = await websockets.connect(node.ws(user))
            conns.append(ws)
            await ok(ws, op="subscribe", id=1, room=room)
            if expect_event:
                event = await recv_json(watcher)
                assert event == {"type": "join", "room": room, "user": user, "info": {"name": user}}, event
            return ws

        await join(victim, "only-victim-1")
        await join(victim, "only-victim-2")
        await join(other, "elsewhere")
        await join(other, "both")
        await join(victim, "both", expect_event=False)  # already present: no event
        # Another node's join reaches Redis a moment after that node's ok: wait for the list.
        before = {"both": 2, "elsewhere": 1, "only-victim-1": 1, "only-victim-2": 1, "watcher": 1}
        for _ in deadline_loop("the presence of %s to be %s" % (room, before)):
            reply, pushes = await ok(watcher, op="presence", id=2, room=room)
            assert pushes == [], pushes
            if {u["user"]: u["conns"] for u in reply["users"]} == before:
                break

        killed = time.monotonic()
        assert victim.proc.stop(signal.SIGKILL) == -signal.SIGKILL
        left = {}
        while len(left) < 2:
            remaining = killed + LEAVE_BOUND - time.monotonic()
            try:
                event = await recv_json(watcher, timeout=max(remaining, 0.001))
            except asyncio.TimeoutError:
                raise AssertionError("after %.1fs only these left: %s" % (LEAVE_BOUND, sorted(left)))
            assert event["type"] == "leave" and event["user"] in ("only-victim-1", "only-victim-2"), event
            assert event["user"] not in left, "two leave events for %s" % event["user"]
            left[event["user"]] = time.monotonic() - killed
        # The surviving node that reaped it says so in its log, with the count (the nodes stopped
        # cleanly earlier left the cluster's list, and are never reaped).
        reaped = re.compile(r"presumed node \S+ dead \(no heartbeat for \d+ ms\): reaped its (\d+) connections")
        for _ in deadline_loop("a surviving node to log that it reaped the killed one"):
            counts = [int(m.group(1)) for node in (watcher_node, other) for line in list(node.proc.lines)
                      for m in [reaped.search(line)] if m]
            if counts:
                # Once, by one node: only-victim-1, only-victim-2, both.
                assert len(counts) == 1 and counts[0] >= 3, counts
                break
        expected = {"both": 1, "elsewhere": 1, "watcher": 1}
        for _ in deadline_loop("the presence of %s to be %s" % (room, expected)):
            reply, pushes = await ok(watcher, op="presence", id="p", room=room)
            assert pushes == [], "unexpected events: %s" % pushes
            if {u["user"]: u["conns"] for u in reply["users"]} == expected:
                break
    finally:
        for ws in [watcher, *conns]:
            await ws.close()
    print("SIGKILL: its users left within %.3fs (bound %.1fs), the others stayed"
          % (max(left.values()), NODE_TIMEOUT_MS * 4 / 3 / 1000))


# ---- d. Redis stopped and restarted

async def check_redis_outage(nodes, redis, haproxy):
    room = "outage"
    a, b = nodes
    sub = await websockets.connect(a.ws("subscriber"))
    watcher = await websockets.connect(b.ws("watcher"))
    pub = await websockets.connect(b.ws("publisher"))
    via_lb = await websockets.connect(haproxy.ws("via-lb"))
    lb_healthz = "http://127.0.0.1:%d/healthz" % haproxy.port
    try:
        for ws in (sub, watcher, via_lb):
            await ok(ws, op="subscribe", id=1, room=room)
        await ok(pub, op="publish", id=1, room=room, data="before")
        for ws in (sub, via_lb):
            assert await recv_json(ws) == {"type": "message", "room": room, "data": "before", "from": "publisher",
                                           "offset": 1}

        assert redis.proc.stop(signal.SIGTERM) == 0
        for node in nodes:
            node.wait_ready(503)
            assert http_get(node.url("/healthz"))[0] == 200
        # HAProxy's checks of /readyz take every node out: it answers new requests itself.
        for _ in deadline_loop("HAProxy to answer 503 with every node unready"):
            if http_get(lb_healthz)[0] == 503:
                break
        reply, _ = await request(pub, op="publish", id=2, room=room, data="during")
        assert reply.get("error", {}).get("code") == "unavailable", reply
        reply, _ = await request(watcher, op="subscribe", id=2, room="outage:new")
        assert reply.get("error", {}).get("code") == "unavailable", reply

        redis.start()  # the same port
        for node in nodes:
            node.wait_ready(200)
        for _ in deadline_loop("HAProxy to take the nodes back"):
            if http_get(lb_healthz)[0] == 200:
                break
        # Nobody did anything: the subscriptions made before the outage carry messages again
        # (the one through HAProxy too: its tunnel was left open), and the message refused
        # during the outage never shows up.
        await ok(pub, op="publish", id=3, room=room, data="after")
        for ws in (sub, via_lb):
            # Redis came back empty: the room's history is gone, and its numbering starts again
            # under another epoch, which the subscriber is told first, in-band.
            announced = await recv_json(ws)
            assert announced["type"] == "subscribed" and announced["room"] == room, announced
            assert announced["recovered"] is False and announced["offset"] == 0, announced
            got = await recv_json(ws)
            assert got == {"type": "message", "room": room, "data": "after", "from": "publisher", "offset": 1}, got
            _, pushes = await ok(ws, op="ping", id=2)
            assert pushes == [], "after the outage: %s" % pushes
        # The nodes registered their connections again.
        expected = ["subscriber", "via-lb", "watcher"]
        for _ in deadline_loop("presence of %s to be %s again" % (room, expected)):
            reply, _ = await request(pub, op="presence", id="p", room=room)
            if reply.get("ok") and [u["user"] for u in reply["users"]] == expected:
                break
        # Their metrics say so, in a form Prometheus's own linter accepts.
        for node in nodes:
            status, body = http_get(node.url("/metrics"))
            assert status == 200, status
            lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True,
                                  timeout=TIMEOUT)
            assert lint.returncode == 0, "promtool check metrics: " + lint.stdout + lint.stderr
            assert "\nswitchboard_redis_up 1\n" in body, body
            reconnects = int(re.search(r"^switchboard_redis_reconnects_total (\d+)$", body, re.M).group(1))
            assert reconnects >= 2, "%s reconnected %d times" % (node.name, reconnects)  # both connections
    finally:
        for ws in (sub, watcher, pub, via_lb):
            await ws.close()
    print("redis outage: publishes unavailable, /readyz 503 then 200 (and HAProxy with it), "
          "subscriptions back by themselves, reconnects in /metrics")


# ---- deploy/local-cluster

def free_consecutive_ports(count):
    for _ in range(100):
        base = free_port()
        if base + count > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no %d consecutive free ports" % count)


async def cluster_session(port):
    status, body = http_get("http://127.0.0.1:%d/dev/token?user=tester" % port)
    assert status == 200, (status, body)
    url = "ws://127.0.0.1:%d/ws?token=%s" % (port, json.loads(body)["token"])
    # As the demo page in a browser would: its Origin is HAProxy's address, which the node
    # sees as its own (HAProxy passes the Host header on).
    async with websockets.connect(url, origin="http://127.0.0.1:%d" % port) as ws:
        assert cookie_of(ws) is not None, "no SBNODE cookie through local-cluster's HAProxy"
        await ok(ws, op="subscribe", id=1, room="local")
        _, pushes = await ok(ws, op="publish", id=2, room="local", data="hi")
        frame = pushes[0] if pushes else await recv_json(ws)
        assert frame == {"type": "message", "room": "local", "data": "hi", "from": "tester", "offset": 1}, frame


def dev_token(port, user):
    status, body = http_get("http://127.0.0.1:%d/dev/token?user=%s" % (port, user))
    assert status == 200, (status, body)
    return json.loads(body)["token"]


async def local_cluster_experiments(script, cluster_dir, port, node_ports):
    """The operator guide's "things to try", each through deploy/local-cluster as written: the
    rest of the cluster stays up when a process exits, and SIGHUP to the script starts it again."""
    def pid_of(name):
        with open(os.path.join(cluster_dir, name + ".pid")) as f:
            return int(f.read())

    def ws_url(p, user):
        return "ws://127.0.0.1:%d/ws?token=%s" % (p, dev_token(port, user))

    def readyz(p):
        return http_get("http://127.0.0.1:%d/readyz" % p)[0]

    def start_again(name, node_port=None):
        script.proc.send_signal(signal.SIGHUP)
        script.wait_for_line(r"local-cluster: %s started again \(pid \d+\)" % name)
        for p in [node_port] if node_port else node_ports:
            for _ in deadline_loop("node on port %d ready again" % p):
                if readyz(p) == 200:
                    break

    # Stop a node (kill <pid>): its client gets 1001 and reconnects through HAProxy to another.
    async with websockets.connect(ws_url(port, "walker")) as ws:
        stopped = cookie_of(ws)
        assert stopped in ("node1", "node2"), stopped
        os.kill(pid_of(stopped), signal.SIGTERM)
        await expect_closed(ws, 1001)
    script.wait_for_line(r"local-cluster: %s exited with status 0; the rest of the cluster goes on" % stopped)
    async with websockets.connect(ws_url(port, "walker")) as ws:
        assert cookie_of(ws) not in (None, stopped), cookie_of(ws)
        await ok(ws, op="subscribe", id=1, room="experiments")
        await ok(ws, op="publish", id=2, room="experiments", data="still here")
    stopped_port = node_ports[int(stopped[len("node"):]) - 1]
    start_again(stopped, stopped_port)

    # Kill one (kill -9): after --node-timeout-ms, its users leave the others' presence.
    async with websockets.connect(ws_url(node_ports[0], "observer")) as observer, \
            websockets.connect(ws_url(node_ports[1], "victim")) as victim:
        await ok(observer, op="subscribe", id=1, room="experiments", presence=True)
        await ok(victim, op="subscribe", id=1, room="experiments", presence=True)
        while (await recv_json(observer)) != {"type": "join", "room": "experiments", "user": "victim",
                                              "info": {"name": "victim"}}:
            pass
        os.kill(pid_of("node2"), signal.SIGKILL)
        script.wait_for_line(r"local-cluster: node2 was killed by signal 9 \(KILL\); the rest of the cluster goes on")
        while True:
            frame = await recv_json(observer, timeout=LEAVE_BOUND + 2)
            if frame.get("type") == "leave":
                assert frame["user"] == "victim", frame
                break
    start_again("node2", node_ports[1])

    # Stop Redis: /readyz 503 and publishes unavailable; when it is back, everything resumes.
    async with websockets.connect(ws_url(node_ports[0], "writer")) as ws:
        await ok(ws, op="subscribe", id=1, room="experiments")
        os.kill(pid_of("redis"), signal.SIGTERM)
        script.wait_for_line(r"local-cluster: redis exited with status 0; the rest of the cluster goes on")
        for p in node_ports:
            for _ in deadline_loop("node on port %d unready without Redis" % p):
                if readyz(p) == 503:
                    break
        reply, _ = await request(ws, op="publish", id=2, room="experiments", data="lost")
        assert reply.get("error", {}).get("code") == "unavailable", reply
        start_again("redis")
        await ok(ws, op="publish", id=3, room="experiments", data="back")
    assert script.proc.poll() is None, "local-cluster exited during the experiments"


def check_local_cluster(workdir):
    port, redis_port, node_port = free_port(), free_port(), free_consecutive_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_BIN"] = BIN
    cluster_dir = os.path.join(workdir, "local-cluster")
    script = Process("local-cluster", [LOCAL_CLUSTER, "-n", "2", "--port", str(port), "--node-port", str(node_port),
                                       "--redis-port", str(redis_port), "--check-interval", "200ms",
                                       "--dir", cluster_dir, "--", "--dev", "--threads", "1",
                                       "--node-timeout-ms", str(NODE_TIMEOUT_MS), "--drain-delay-ms", str(DRAIN_MS)],
                     env=env, new_session=True)
    script.wait_for_line(r"local-cluster: ready at http://127\.0\.0\.1:%d/" % port, timeout=30)
    asyncio.run(cluster_session(port))
    asyncio.run(local_cluster_experiments(script, cluster_dir, port, [node_port, node_port + 1]))
    assert script.stop(signal.SIGTERM) == 0, "local-cluster exited with %s" % script.proc.returncode
    for p in (port, redis_port, node_port, node_port + 1):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, "port %d still answers after local-cluster stopped" % p
    print("local-cluster: ready, a session through its HAProxy; a node stopped, one killed and Redis stopped, "
          "each with the rest up and started again on SIGHUP; everything stopped on SIGTERM")


def run_on_cluster(name, prefix, test):
    """The main() of a test against a cluster of real processes: redis-server, three nodes
    sharing it and HAProxy in front of them, in a temporary directory. test(workdir, redis,
    nodes, haproxy) returns how many checks passed. Every process is stopped at the end (their
    output printed when the test failed), also when a test runner stops this one with SIGTERM."""
    started = time.monotonic()
    # Stopped from outside (a test runner's timeout): still clean up in the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("%s: terminated" % name))
    passed = False
    with tempfile.TemporaryDirectory(prefix="switchboard-%s-test." % prefix) as workdir:
        try:
            redis = Redis(workdir)
            nodes = [Node("node%d" % i, redis) for i in (1, 2, 3)]
            for node in nodes:
                node.wait_ready()
            haproxy = HAProxy(workdir, nodes)
            checks = test(workdir, redis, nodes, haproxy)
            passed = True
        finally:
            Process.stop_everyone()
            if not passed:
                Process.dump_logs()
    print("%d passed, 0 failed (%.1fs)" % (checks, time.monotonic() - started))


def check_everything(workdir, redis, nodes, haproxy):
    asyncio.run(check_messages(nodes))
    check_sse(nodes, haproxy)
    asyncio.run(check_haproxy(nodes, haproxy))
    asyncio.run(check_node_killed(nodes))
    asyncio.run(check_redis_outage([n for n in nodes if n.proc.proc.poll() is None], redis, haproxy))
    haproxy.proc.stop()
    running = [n for n in nodes if n.proc.proc.poll() is None]
    for node in running:
        node.proc.proc.send_signal(signal.SIGTERM)
    for node in running:
        assert node.proc.wait() == 0, "%s did not exit 0 on SIGTERM" % node.name
    check_local_cluster(workdir)
    return 6


if __name__ == "__main__":
    run_on_cluster("cluster_interop", "cluster", check_everything)
