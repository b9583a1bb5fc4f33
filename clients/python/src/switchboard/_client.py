"""The client: a WebSocket connection to a Switchboard node that reconnects by itself, keeps its
rooms subscribed (recovering what was missed), answers token refreshes and runs a heartbeat."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import ssl as _ssl
import urllib.parse
from typing import (Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, Union)

import websockets.exceptions
from websockets.legacy.client import connect as websocket_connect

from ._binary import binary_frame, is_bytes, parse_binary_frame
from ._errors import (CLOSE_ABNORMAL, CLOSE_NORMAL, CLOSE_TOKEN_EXPIRED, RETRYABLE,
                      TOKEN_REFUSALS, Closed, Disconnected, Error, RequestTimeout, TokenExpired,
                      node_error)
from ._http import answer_error, fetch
from ._room import Room
from ._types import (Ack, Disconnection, History, Position, PresenceUser, Unsubscribed,
                     history_of, presence_users)

log = logging.getLogger("switchboard")

TokenSource = Callable[[], Union[Optional[str], Awaitable[Optional[str]]]]

# A connection that stayed open this long resets the backoff: the next retry is a quick one.
STABLE_AFTER = 5.0


def backoff_delay(attempt: int, minimum: float, maximum: float,
                  rand: Callable[[], float] = random.random) -> float:
    """The delay before reconnect attempt ``attempt`` (0 for the first retry): exponential
    backoff with full jitter above the floor, uniform in
    ``[minimum, min(maximum, minimum * 2**(attempt+1))]``."""
    ceiling = min(maximum, minimum * 2.0 ** min(attempt + 1, 30))
    return minimum + rand() * max(0.0, ceiling - minimum)


class _Pending:
    __slots__ = ("future", "on_ok", "room", "op")

    def __init__(self, future: "Optional[asyncio.Future[Dict[str, Any]]]",
                 on_ok: Optional[Callable[[Dict[str, Any]], None]], room: Optional[str],
                 op: str) -> None:
        self.future = future  # None: a heartbeat ping, whose reply only counts as traffic
        self.on_ok = on_ok
        self.room = room
        self.op = op


class Client:
    """A connection to a Switchboard node (``ws://`` or ``wss://…/ws``) for a backend::

        async with switchboard.Client("wss://chat.example.com/ws", token=TOKEN) as client:
            room = await client.subscribe("chat:lobby", presence=True)
            ack = await room.publish({"text": "hi"})
            async for event in room:
                ...

    ``token`` is a JWT sent with every connection (``Authorization: Bearer``); ``get_token``, a
    function or coroutine function returning one (or None: anonymous), is asked before every
    (re)connect and when the node asks for a refresh, and wins over ``token``.

    The client reconnects after any close, forever, with exponential backoff and full jitter
    (``min_reconnect_delay`` to ``max_reconnect_delay`` seconds), until ``close()`` — except
    after a close no retry can change: close 4001 (token expired) or a refused token at the
    handshake, without ``get_token``; then it stops with :class:`TokenExpired` /
    :class:`TokenRefused`, which ``wait_closed()`` and the rooms' iterations raise.

    ``heartbeat_interval`` seconds without receiving anything make it send a ``ping``;
    ``heartbeat_timeout`` more without anything drop the connection (1006, ``heartbeat
    timeout``) and reconnect (0 turns the heartbeat off). ``request_timeout`` bounds every
    request, the handshake and ``get_token``. ``max_buffered`` events may wait in each room
    before the client stops reading (see :class:`Room`). ``ssl`` is the context for ``wss://``.

    ``on_connect(reconnected)``, ``on_disconnect(Disconnection)`` and ``on_error(Error)`` are
    called (plain functions) when a connection opens, when a connection or an attempt ends, and
    for errors no request receives (a refused refresh, ``get_token`` failing, a resubscribe
    refused, an error the node sent without an id).
    """

    def __init__(self, url: str, *, token: Optional[str] = None,
                 get_token: Optional[TokenSource] = None,
                 min_reconnect_delay: float = 0.5, max_reconnect_delay: float = 30.0,
                 heartbeat_interval: float = 20.0, heartbeat_timeout: float = 10.0,
                 request_timeout: float = 10.0, max_buffered: int = 1000,
                 ssl: Optional[_ssl.SSLContext] = None,
                 on_connect: Optional[Callable[[bool], None]] = None,
                 on_disconnect: Optional[Callable[[Disconnection], None]] = None,
                 on_error: Optional[Callable[[Error], None]] = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"switchboard.Client: url must be ws(s)://host[:port]/ws, not {url!r}")
        if min_reconnect_delay <= 0 or max_reconnect_delay < min_reconnect_delay:
            raise ValueError("switchboard.Client: need 0 < min_reconnect_delay <= max_reconnect_delay")
        if max_buffered < 1:
            raise ValueError("switchboard.Client: max_buffered must be at least 1")
        self._url = url
        self._token = token
        self._get_token = get_token
        self._min_delay = min_reconnect_delay
        self._max_delay = max_reconnect_delay
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._request_timeout = request_timeout
        self._max_buffered = max_buffered
        self._ssl = ssl
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_error = on_error

        self._state = "disconnected"
        self._wanted = False
        self._task: Optional[asyncio.Task[None]] = None
        self._opened: Optional[asyncio.Future[None]] = None
        self._ws: Any = None
        self._ever_connected = False
        self._rooms: Dict[str, Room] = {}
        self._pending: Dict[int, _Pending] = {}
        self._next_id = 0
        self._last_received = 0.0
        self._reader_paused = False
        self._drop_reason: Optional[str] = None
        self._final: Optional[Error] = None
        self._tasks: Set[asyncio.Task[Any]] = set()

    # ---- the application's side ----

    @property
    def url(self) -> str:
        return self._url

    @property
    def state(self) -> str:
        """``disconnected`` (not started), ``connecting``, ``connected``, ``reconnecting``
        (waiting to retry), or ``closed`` (for good)."""
        return self._state

    @property
    def rooms(self) -> List[Room]:
        """The rooms subscribed or being subscribed."""
        return list(self._rooms.values())

    @property
    def final_error(self) -> Optional[Error]:
        """Why the client stopped by itself (:class:`TokenExpired`, :class:`TokenRefused`), if
        it did."""
        return self._final

    async def __aenter__(self) -> "Client":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Starts connecting (and reconnecting, until ``close()``), and returns once connected.
        Failures worth retrying are retried (bound the wait with ``asyncio.wait_for``); a final
        one (a refused token without ``get_token``) raises."""
        if self._state == "closed":
            raise self._final or Closed("closed", "the client was closed")
        if self._task is None:
            loop = asyncio.get_running_loop()
            self._opened = loop.create_future()
            self._wanted = True
            self._task = loop.create_task(self._run())
        assert self._opened is not None
        await asyncio.shield(self._opened)

    async def close(self) -> None:
        """Closes the connection (1000) and stops. Pending requests raise :class:`Disconnected`;
        the rooms' iterations end once their buffered events are taken."""
        if self._state == "closed":
            return
        was_connected = self._state == "connected"
        self._wanted = False
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(CLOSE_NORMAL, "client close"), self._request_timeout)
            except (asyncio.TimeoutError, OSError, websockets.exceptions.WebSocketException):
                _abort(ws)
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
        for t in list(self._tasks):
            t.cancel()
        self._stop(None)
        if was_connected:
            self._report_disconnect(Disconnection(CLOSE_NORMAL, "client close", False))

    async def wait_closed(self) -> None:
        """Returns when the client has stopped: after ``close()``, or raising the final error
        (:class:`TokenExpired`, :class:`TokenRefused`) that stopped it."""
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                if self._state != "closed":
                    raise
        if self._final is not None:
            raise self._final

    async def subscribe(self, name: str, *, presence: bool = False,
                        since: Optional[Position] = None) -> Room:
        """Subscribes to room ``name`` and returns its :class:`Room` once the node confirmed;
        the room stays subscribed across reconnects. ``presence``: receive its join/leave
        events. ``since``: a position saved earlier (``room.position``), to receive the
        messages published after it first (``room.recovered`` says whether they all follow).
        Subscribing again to the same name returns the same Room (its presence flag updated).
        Raises :class:`Error` when the node refuses (``bad_room``, ``forbidden``,
        ``too_many_rooms``); retryable refusals are retried."""
        if not isinstance(name, str):
            raise TypeError("switchboard: a room name is a string")
        if self._state == "closed":
            raise self._final or Closed("closed", "the client was closed")
        if self._task is None:
            raise Disconnected("disconnected", "not connected: call connect() first (or use async with)",
                               room=name, op="subscribe")
        room = self._rooms.get(name)
        if room is not None:
            if room._set_presence_events(bool(presence)) and self._connected():
                await self._send_subscribe(room)
            await asyncio.shield(room._first)
            return room
        room = Room(self, name, bool(presence), since, self._max_buffered)
        self._rooms[name] = room
        if self._connected():
            self._spawn(self._send_subscribe(room))
        try:
            await asyncio.shield(room._first)
        except BaseException:
            if self._rooms.get(name) is room and not room._first.done():
                # Given up on (cancelled, timed out): leave the room, should the node say yes.
                self._spawn(self._unsubscribe(room))
            raise
        return room

    async def publish(self, room: str, data: Any, *, idem: Optional[str] = None) -> Ack:
        """Publishes ``data`` (any JSON value, or bytes: ``bytes``, ``bytearray``, ``memoryview``,
        sent as a binary frame and received by subscribers as ``bytes``) to ``room``, subscribed
        or not. Returns the
        node's Ack, whose ``offset`` is the message's number in the room. Raises
        :class:`Error`: a protocol code (``bad_room``, ``forbidden``, ``rate_limited``, …),
        ``timeout``, or ``disconnected`` (not connected, or the connection was lost before the
        reply: the message may or may not have been delivered). ``idem``: an idempotency key
        (1-64 letters, digits and ``_ - . :``, unpredictable, e.g. ``uuid.uuid4().hex``): a retry
        with the same key, through any node, gets the first publish's Ack and is not delivered
        again, so a publish that failed with ``disconnected``, ``timeout`` or ``unavailable``
        can be sent again safely."""
        fields: Dict[str, Any] = {"room": room}
        if idem is not None:
            fields["idem"] = idem
        if is_bytes(data):  # one binary frame: the header, a newline, the bytes
            reply = await self._request("publish", fields, room=room, payload=bytes(data))
        else:
            reply = await self._request("publish", {**fields, "data": data}, room=room)
        return Ack(offset=int(reply.get("offset", 0)))

    async def presence(self, room: str) -> List[PresenceUser]:
        """The users present in ``room`` (subscribed or not), sorted by user id."""
        reply = await self._request("presence", {"room": room}, room=room)
        return presence_users(reply.get("users"))

    async def history(self, room: str, *, limit: Optional[int] = None) -> History:
        """The latest messages of ``room`` kept by the node (``limit`` 1-1000, default 100),
        oldest first, and the room's position."""
        fields: Dict[str, Any] = {"room": room}
        if limit is not None:
            fields["limit"] = limit
        return history_of(await self._request("history", fields, room=room))

    async def ping(self) -> float:
        """An application-level round trip; returns its duration in seconds."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self._request("ping", {})
        return loop.time() - start

    # ---- requests ----

    def _connected(self) -> bool:
        return self._ws is not None and self._state == "connected"

    async def _request(self, op: str, fields: Dict[str, Any], *, room: Optional[str] = None,
                       on_ok: Optional[Callable[[Dict[str, Any]], None]] = None,
                       payload: Optional[bytes] = None) -> Dict[str, Any]:
        # The frame first: a value that is not JSON raises ValueError or TypeError whether or not
        # the client is connected.
        frame: Union[str, bytes]
        if payload is None:
            frame = json.dumps({"op": op, "id": self._next_id + 1, **fields}, separators=(",", ":"),
                               ensure_ascii=False, allow_nan=False)
        else:  # a publish of bytes
            frame = binary_frame({"op": op, "id": self._next_id + 1, **fields}, payload)
        ws = self._ws
        if ws is None or self._state != "connected":
            if self._state == "closed" and self._final is not None:
                raise self._final
            raise Disconnected("disconnected", "not connected", room=room, op=op)
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(future, on_ok, room, op)
        try:
            await ws.send(frame)
        except (websockets.exceptions.ConnectionClosed, OSError):
            self._pending.pop(request_id, None)
            raise Disconnected("disconnected", "the connection was lost", room=room, op=op) from None
        try:
            return await asyncio.wait_for(future, self._request_timeout)
        except asyncio.TimeoutError:
            self._pending.pop(request_id, None)
            raise RequestTimeout("timeout", f"no reply to {op} within {self._request_timeout} s",
                                 room=room, op=op) from None

    # ---- connecting ----

    async def _run(self) -> None:
        attempt = 0
        try:
            while self._wanted:
                self._state = "connecting"
                token = self._token
                if self._get_token is not None:
                    try:
                        token = await self._ask_token()
                    except Error as err:
                        self._report_error(err)
                        attempt = await self._wait_to_retry(attempt)
                        continue
                try:
                    ws = await self._open(token)
                except _Refused as refused:
                    why = refused.error
                    if why is not None and why.code in TOKEN_REFUSALS and self._get_token is None:
                        self._finish(why, Disconnection(CLOSE_ABNORMAL, why.message, False))
                        return
                    if why is not None:
                        self._report_error(why)
                    self._report_disconnect(Disconnection(CLOSE_ABNORMAL, refused.reason, True))
                    attempt = await self._wait_to_retry(attempt)
                    continue
                code, reason, open_for = await self._serve(ws)
                if open_for >= STABLE_AFTER:
                    attempt = 0
                if not self._wanted:
                    return
                if code == CLOSE_TOKEN_EXPIRED and self._get_token is None:
                    self._finish(TokenExpired("token_expired", "the connection's token expired (close 4001)",
                                              close_code=code, reason=reason),
                                 Disconnection(code, reason, False))
                    return
                self._report_disconnect(Disconnection(code, reason, True))
                attempt = await self._wait_to_retry(attempt)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - a bug: stop rather than spin
            log.exception("switchboard: the connection loop failed")
            self._finish(Error("internal", f"the client failed: {err!r}"), None)

    async def _wait_to_retry(self, attempt: int) -> int:
        delay = backoff_delay(attempt, self._min_delay, self._max_delay)
        self._state = "reconnecting"
        await asyncio.sleep(delay)
        return attempt + 1

    async def _ask_token(self) -> Optional[str]:
        assert self._get_token is not None
        try:
            result = self._get_token()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self._request_timeout)
        except asyncio.TimeoutError:
            raise Error("token_error", "get_token() did not answer in time") from None
        except Exception as err:  # noqa: BLE001 - the application's function
            raise Error("token_error", f"get_token() failed: {err!r}") from err
        if result is not None and not isinstance(result, str):
            raise Error("token_error", "get_token() must return a string or None")
        return result or None

    async def _open(self, token: Optional[str]) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: Dict[str, Any] = {
            "open_timeout": self._request_timeout,
            "ping_interval": None,  # the heartbeat below; the node's pings are answered anyway
            "close_timeout": self._request_timeout,
            "max_size": 64 * 1024 * 1024,
            "extra_headers": headers,
        }
        if self._url.startswith("wss:") and self._ssl is not None:
            kwargs["ssl"] = self._ssl
        try:
            return await websocket_connect(self._url, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - every way a handshake fails
            status = getattr(err, "status_code", None)
            response = getattr(err, "response", None)
            if status is None and response is not None:
                status = getattr(response, "status_code", None)
            if isinstance(status, int) and status >= 400:
                why = await self._ask_why(token)
                raise _Refused(why, f"handshake refused: HTTP {status}"
                               + (f" {why.code}" if why else "")) from None
            raise _Refused(None, f"cannot connect: {err!r}") from None

    async def _ask_why(self, token: Optional[str]) -> Optional[Error]:
        """What a handshake of this request is told (GET of the WebSocket path, no upgrade)."""
        parts = urllib.parse.urlsplit(self._url)
        url = urllib.parse.urlunsplit(("https" if parts.scheme == "wss" else "http",) + tuple(parts[1:]))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            status, got, parsed = await fetch("GET", url, headers=headers,
                                              timeout=self._request_timeout, context=self._ssl)
        except Error:
            return None
        if status < 400:
            return None
        return answer_error(status, got, parsed, room=None, op="connect")

    async def _serve(self, ws: Any) -> Tuple[int, str, float]:
        """Runs an open connection until it ends: its close code, reason, and how long it was
        open."""
        loop = asyncio.get_running_loop()
        opened_at = self._last_received = loop.time()
        self._ws = ws
        self._drop_reason = None
        self._state = "connected"
        reconnected = self._ever_connected
        self._ever_connected = True
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)
        if self._on_connect is not None:
            self._callback(self._on_connect, reconnected)
        heartbeat = loop.create_task(self._heartbeat(ws))
        for room in list(self._rooms.values()):
            self._spawn(self._send_subscribe(room))
        try:
            await self._read(ws)
        finally:
            heartbeat.cancel()
            code = ws.close_code if isinstance(getattr(ws, "close_code", None), int) else CLOSE_ABNORMAL
            reason = str(getattr(ws, "close_reason", "") or "")
            if self._drop_reason is not None:
                code, reason = CLOSE_ABNORMAL, self._drop_reason
            self._teardown(ws, code)
        return code, reason, loop.time() - opened_at

    def _teardown(self, ws: Any, code: int) -> None:
        if self._ws is ws:
            self._ws = None
        self._reader_paused = False
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(Disconnected(
                    "disconnected", "the connection was lost before the reply", room=entry.room, op=entry.op))
        for room in self._rooms.values():
            room._connection_lost(code)

    async def _read(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for raw in ws:
                self._last_received = loop.time()
                if isinstance(raw, bytes):  # a message of bytes: its header, a newline, the bytes
                    m = parse_binary_frame(raw)
                    if m is None:
                        continue
                else:
                    try:
                        m = json.loads(raw)
                    except ValueError:
                        continue
                    if not isinstance(m, dict):
                        continue
                room = self._dispatch(ws, m)
                if room is not None and room._full():
                    # Backpressure: stop reading until the application takes this room's events.
                    self._reader_paused = True
                    await room._wait_space()
                    self._reader_paused = False
                    self._last_received = loop.time()
        except websockets.exceptions.ConnectionClosed:
            pass

    def _drop(self, ws: Any, reason: str) -> None:
        """Gives up on a connection that is not answering, without a close handshake."""
        if self._ws is not ws:
            return
        self._drop_reason = reason
        _abort(ws)

    async def _heartbeat(self, ws: Any) -> None:
        if self._heartbeat_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        while True:
            wait = self._last_received + self._heartbeat_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self._reader_paused:  # the application is behind, not the network
                self._last_received = loop.time()
                continue
            sent = loop.time()
            self._next_id += 1
            self._pending[self._next_id] = _Pending(None, None, None, "ping")
            try:
                await asyncio.wait_for(ws.send(json.dumps({"op": "ping", "id": self._next_id})),
                                       self._heartbeat_timeout)
            except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed, OSError):
                self._drop(ws, "heartbeat timeout")
                return
            await asyncio.sleep(max(0.0, sent + self._heartbeat_timeout - loop.time()))
            if self._last_received < sent and not self._reader_paused:
                self._drop(ws, "heartbeat timeout")
                return

    # ---- what the node sends ----

    def _dispatch(self, ws: Any, m: Dict[str, Any]) -> Optional[Room]:
        """Handles one frame; returns the room whose buffer it went to, if any."""
        if "ok" in m or "error" in m:
            request_id = m.get("id")
            entry = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
            if entry is None:
                if "error" in m:
                    self._report_error(node_error(m.get("error")))
                return None
            if entry.future is None or entry.future.done():
                if "error" in m and entry.future is not None:
                    self._report_error(node_error(m.get("error"), room=entry.room, op=entry.op))
                return None
            if "error" in m:
                entry.future.set_exception(node_error(m.get("error"), room=entry.room, op=entry.op))
            else:
                if entry.on_ok is not None:
                    entry.on_ok(m)
                entry.future.set_result(m)
            return None
        name = m.get("room")
        room = self._rooms.get(name) if isinstance(name, str) else None
        kind = m.get("type")
        if kind == "message":
            if room is not None and not room._message(m):
                self._spawn(self._recover(room))  # a gap: messages were lost on the way
            return room
        if kind == "subscribed":
            if room is not None:
                room._announced(m)
            return room
        if kind in ("join", "leave"):
            if room is not None:
                room._presence(m)
            return room
        if kind == "unsubscribed":
            if room is not None:
                self._end_room(room, Unsubscribed(room.name, _str(m.get("code")), _str(m.get("message"))))
            return None
        if kind == "refresh":
            self._spawn(self._refresh(ws))
        return None  # a push this client does not know yet

    async def _refresh(self, ws: Any) -> None:
        if self._get_token is None:
            return  # a static token: the node closes with 4001 at expiry
        try:
            token = await self._ask_token()
        except Error as err:
            self._report_error(err)
            return
        if self._ws is not ws:
            return
        if not token:
            self._report_error(Error("token_error", "get_token() gave no token for a refresh", op="refresh"))
            return
        try:
            await self._request("refresh", {"token": token})
        except Disconnected:
            pass
        except Error as err:
            self._report_error(err)

    # ---- rooms ----

    async def _send_subscribe(self, room: Room) -> None:
        while True:
            ws = self._ws
            attempt, fields, with_since = room._subscribing()

            def on_ok(reply: Dict[str, Any], attempt: int = attempt, with_since: bool = with_since) -> None:
                if room._is_current(attempt):
                    room._subscribed(reply, with_since)

            try:
                await self._request("subscribe", fields, room=room.name, on_ok=on_ok)
                return
            except Disconnected:
                return  # resubscribed after the reconnect
            except Error as err:
                if not room._is_current(attempt):
                    return
                if err.code not in RETRYABLE:
                    if not room._first.done():
                        room._first.set_exception(err)
                    self._end_room(room, Unsubscribed(room.name, err.code, err.message))
                    return
                self._report_error(err)
                await asyncio.sleep(backoff_delay(0, self._min_delay, self._max_delay))
                if not room._is_current(attempt) or self._ws is not ws or not self._connected():
                    return

    async def _recover(self, room: Room) -> None:
        """Offsets jumped: subscribe again from the last position received, which replays the
        gap (or says it cannot). Until the reply, the room's messages are ignored."""
        ws = self._ws
        if ws is None or not room._recovering():
            return
        try:
            await self._request("unsubscribe", {"room": room.name}, room=room.name)
        except Disconnected:
            return
        except Error:
            pass
        if self._rooms.get(room.name) is room and self._ws is ws:
            await self._send_subscribe(room)

    def _end_room(self, room: Room, event: Optional[Unsubscribed]) -> None:
        if self._rooms.get(room.name) is room:
            del self._rooms[room.name]
        room._end(event)

    async def _unsubscribe(self, room: Room) -> None:
        if self._rooms.get(room.name) is not room:
            return
        connected = self._connected()
        self._end_room(room, None)
        if not connected:
            return
        try:
            await self._request("unsubscribe", {"room": room.name}, room=room.name)
        except Disconnected:
            pass
        except Error as err:
            if err.code != "not_subscribed":
                raise

    # ---- ending ----

    def _finish(self, error: Error, disconnection: Optional[Disconnection]) -> None:
        """Stops for good because of ``error``."""
        self._final = error
        self._wanted = False
        if disconnection is not None:
            self._report_disconnect(disconnection)
        self._stop(error)

    def _stop(self, error: Optional[Error]) -> None:
        self._state = "closed"
        for room in list(self._rooms.values()):
            room._end(None, error)
        self._rooms.clear()
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(error or Closed("closed", "the client was closed"))
            self._opened.exception()

    # ---- reporting ----

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("switchboard: %r", task.exception())

    def _report_error(self, err: Error) -> None:
        log.debug("switchboard: %s: %s", err.code, err.message)
        if self._on_error is not None:
            self._callback(self._on_error, err)

    def _report_disconnect(self, d: Disconnection) -> None:
        log.debug("switchboard: disconnected %s %s", d.code, d.reason)
        if self._on_disconnect is not None:
            self._callback(self._on_disconnect, d)

    @staticmethod
    def _callback(fn: Callable[[Any], None], arg: Any) -> None:
        try:
            fn(arg)
        except Exception:  # noqa: BLE001 - the application's callback
            log.exception("switchboard: a callback failed")


class _Refused(Exception):
    def __init__(self, error: Optional[Error], reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


def _abort(ws: Any) -> None:
    transport = getattr(ws, "transport", None)
    if transport is not None:
        transport.abort()


def _str(value: object) -> Optional[str]:
    return value if isinstance(value, str) else None
