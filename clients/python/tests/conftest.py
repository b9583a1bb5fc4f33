"""Fixtures: real Switchboard nodes and a real redis-server on free loopback ports, JWTs, and
bounded waits. Nothing here imitates the node."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import jwt
import pytest

REPO = Path(__file__).resolve().parents[3]
NODE_BIN = os.environ.get("SWITCHBOARD_BIN") or str(REPO / "build" / "server" / "switchboard")
SECRET = "python-client-tests-secret-0123456789"
API_KEY = "python-client-tests-api-key"

T = TypeVar("T")

# Loopback only: no proxy of the environment between the tests and their nodes.
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"


def token(user: str, ttl: float = 3600, **claims: Any) -> str:
    """An HS256 JWT for ``user``, verified by the nodes' --jwt-secret."""
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + int(ttl), **claims}, SECRET,
                      algorithm="HS256")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Runs a test's coroutine, bounded in time."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def within(aw: Awaitable[T], timeout: float = 5.0) -> T:
    """One await of a test, bounded in time."""
    return await asyncio.wait_for(aw, timeout)


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Waits for a condition the test cannot await directly (another process's state)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


class Node:
    """A running ``switchboard`` process on 127.0.0.1."""

    def __init__(self, args: List[str], port: int = 0) -> None:
        argv = [NODE_BIN, "--bind", "127.0.0.1", "--port", str(port), "--threads", "2",
                "--drain-delay-ms", "0", "--log-level", "info", "--jwt-secret", SECRET,
                "--api-keys", API_KEY, *args]
        self.log: List[str] = []
        self.port = 0
        self.tls_port = 0
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m and not self.port:
                    tls = re.search(r"https://127\.0\.0\.1:(\d+)", line)
                    self.tls_port = int(tls.group(1)) if tls else 0
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(10) or not self.port:
            self.stop()
            raise RuntimeError("the node did not start:\n" + "".join(self.log))

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metric(self, name: str) -> float:
        """A counter of the node's /metrics (the sum of its samples)."""
        import urllib.request
        with urllib.request.urlopen(self.http_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        """SIGTERM (the node closes its connections with 1001), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.reader.join(5)  # at the end of the log, now that the node exited
        if self.proc.stderr is not None and not self.reader.is_alive():
            self.proc.stderr.close()


class Nodes:
    """Starts nodes for a test and stops them all after it."""

    def __init__(self) -> None:
        self.started: List[Node] = []

    def start(self, *args: str, port: int = 0) -> Node:
        node = Node(list(args), port)
        self.started.append(node)
        return node

    def stop_all(self) -> None:
        for node in self.started:
            node.stop()


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    n = Nodes()
    try:
        yield n
    finally:
        n.stop_all()


@pytest.fixture
def node(nodes: Nodes) -> Node:
    return nodes.start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of the test's own on a free loopback port, without persistence."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", "/tmp"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    reader: Optional[threading.Thread] = None
    try:
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "Ready to accept connections" in line:
                    ready.set()
            ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if not ready.wait(10) or proc.poll() is not None:
            raise RuntimeError("redis-server did not start")
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if reader is not None:
            reader.join(5)
        if proc.stdout is not None and (reader is None or not reader.is_alive()):
            proc.stdout.close()


def fast(**options: Any) -> Dict[str, Any]:
    """Client options for tests: quick reconnects and requests."""
    return {"min_reconnect_delay": 0.02, "max_reconnect_delay": 0.2, "request_timeout": 3.0,
            **options}


async def next_of(room: Any, kind: type, timeout: float = 5.0, skip: Optional[Tuple[type, ...]] = None) -> Any:
    """The room's next event of type ``kind``, skipping those of the types in ``skip`` (others
    fail the test)."""
    while True:
        event = await room.next_event(timeout)
        if isinstance(event, kind):
            return event
        if skip is None or not isinstance(event, skip):
            raise AssertionError(f"expected a {kind.__name__}, got {event!r}")
