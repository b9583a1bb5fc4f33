"""A room the client is subscribed to: its state, its position, and its events."""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any, AsyncIterator, Deque, Dict, List, Optional, Tuple

from ._errors import Error
from ._types import (Ack, Event, History, Join, Leave, Message, Position, PresenceUser,
                     Subscribed, Unsubscribed, message_of)

if TYPE_CHECKING:
    from ._client import Client


class Room:
    """A room of a :class:`Client`, made by ``await client.subscribe(name)``.

    Iterate over it for its events — :class:`Message`, :class:`Join` / :class:`Leave` (with
    ``presence=True``), :class:`Subscribed` (resubscribed after a reconnect or a gap, with
    ``recovered``), :class:`Unsubscribed` (the node ended it) — in the order the node sent them.
    Iteration ends when the room is unsubscribed or the client closed; it raises the client's
    final error (e.g. :class:`TokenExpired`) when the client stopped because of one.

    Events wait in the room's buffer (``max_buffered`` of the client) until the application
    takes them; while a room's buffer is full the client stops reading the connection, so an
    application that falls behind is closed by the node with 4008 (slow consumer) rather than
    growing without bound, and recovers from the node's history after the reconnect.
    """

    def __init__(self, client: "Client", name: str, presence: bool,
                 since: Optional[Position], max_buffered: int) -> None:
        self._client = client
        self._name = name
        self._presence_events = presence
        self._state = "subscribing"
        self._position: Optional[Position] = since  # of the last message received
        self._taken: Optional[Position] = since     # of the last event the application took
        self._recovered: Optional[bool] = None
        self._ever_subscribed = False
        self._attempt = 0
        # Events with the position each leaves the room at (None: unchanged).
        self._buffer: Deque[Tuple[Event, Optional[Position]]] = collections.deque()
        self._max_buffered = max_buffered
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._first: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._ended_with: Optional[BaseException] = None
        self._ended = False
        self._since_in_flight = False       # a subscribe with since awaits its reply
        self._replay_until: Optional[int] = None  # a recovery's messages still to come, up to this
        self._resume_without_since = False  # its last recovery overflowed the node's queue (4008)
        self._lost_messages = False         # resubscribed without since: recovered is False

    # ---- what the application uses ----

    @property
    def name(self) -> str:
        """The room's name."""
        return self._name

    @property
    def client(self) -> "Client":
        """The client this room belongs to."""
        return self._client

    @property
    def presence_events(self) -> bool:
        """Whether this subscription receives join/leave events."""
        return self._presence_events

    @property
    def state(self) -> str:
        """``subscribing`` (until the node's ok, and again while reconnecting), ``subscribed``,
        or ``unsubscribed`` (for good)."""
        return self._state

    @property
    def position(self) -> Optional[Position]:
        """Where the application stands in the room: the offset and epoch of the last message
        it took from the room (or of the subscribe reply, or of a Subscribed event it took).
        Save it after handling an event to subscribe later (another process, say) with
        ``since=``. (Resubscribes after a reconnect resume after the last message received,
        buffered ones included.)"""
        return self._taken

    @property
    def recovered(self) -> Optional[bool]:
        """What the latest subscribe said: True when every message missed since the position it
        resumed from follows, False when the node's history did not reach back (or the node
        announced that the room moved on), None for a subscribe that resumed from nothing."""
        return self._recovered

    @property
    def buffered(self) -> int:
        """Events received and not yet taken by the application."""
        return len(self._buffer)

    async def publish(self, data: Any, *, idem: Optional[str] = None) -> Ack:
        """Publishes ``data`` (any JSON value) to the room; returns the node's Ack (the
        message's offset). Raises :class:`Error` (``forbidden``, ``rate_limited``,
        ``disconnected``, ``timeout``, …). ``idem``: an idempotency key (see
        :meth:`Client.publish`)."""
        return await self._client.publish(self._name, data, idem=idem)

    async def presence(self) -> List[PresenceUser]:
        """The users present in the room, sorted by user id."""
        return await self._client.presence(self._name)

    async def history(self, *, limit: Optional[int] = None) -> History:
        """The room's latest messages kept by the node (``limit`` 1-1000, default 100), oldest
        first, and the room's position."""
        return await self._client.history(self._name, limit=limit)

    async def unsubscribe(self) -> None:
        """Leaves the room for good: no event of it is delivered from now on (those already
        buffered still are), and it is not resubscribed."""
        await self._client._unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                if self._ended_with is not None:
                    raise self._ended_with
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        event, position = self._buffer.popleft()
        if position is not None:
            self._taken = position
        if len(self._buffer) < self._max_buffered:
            self._space.set()
        return event

    async def next_event(self, timeout: Optional[float] = None) -> Event:
        """The next event, waiting at most ``timeout`` seconds (``asyncio.TimeoutError``).
        Raises StopAsyncIteration (or the client's final error) once the room ended."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def __repr__(self) -> str:
        return f"<switchboard.Room {self._name!r} {self._state} position={self._position}>"

    # ---- what the client tells the room ----

    def _push(self, event: Event, position: Optional[Position] = None) -> None:
        self._buffer.append((event, position))
        self._readable.set()
        if len(self._buffer) >= self._max_buffered:
            self._space.clear()

    def _full(self) -> bool:
        return len(self._buffer) >= self._max_buffered

    async def _wait_space(self) -> None:
        await self._space.wait()

    def _subscribing(self) -> Tuple[int, Dict[str, Any], bool]:
        """A subscribe is being sent: its number, its request fields, and whether it resumes
        from a position (with ``since``)."""
        self._attempt += 1
        fields: Dict[str, Any] = {"room": self._name, "presence": self._presence_events}
        p = self._position
        with_since = False
        if p is not None and p.epoch:
            if self._resume_without_since:
                self._lost_messages = True
            else:
                fields["since"] = {"offset": p.offset, "epoch": p.epoch}
                with_since = True
        self._since_in_flight = with_since
        return self._attempt, fields, with_since

    def _is_current(self, attempt: int) -> bool:
        return self._state != "unsubscribed" and attempt == self._attempt

    def _subscribed(self, reply: Dict[str, Any], with_since: bool) -> None:
        """The node's ok to a subscribe: read before anything that follows it."""
        self._since_in_flight = False
        offset, epoch = reply.get("offset"), reply.get("epoch")
        if not isinstance(offset, int) or not isinstance(epoch, str):
            self._state = "subscribed"  # subscribed already: the presence flag changed
            return
        resubscribed = self._ever_subscribed
        self._ever_subscribed = True
        if with_since:
            recovered: Optional[bool] = reply.get("recovered") is True
        else:
            recovered = False if self._lost_messages else None
        self._lost_messages = False
        self._resume_without_since = False
        if recovered:
            # The missed messages follow, and move the position on up to the reply's.
            self._replay_until = offset if self._position is None or offset > self._position.offset else None
        else:
            self._replay_until = None
            self._position = Position(offset, epoch)
        self._recovered = recovered
        self._state = "subscribed"
        if not self._first.done():
            self._first.set_result(None)
            self._taken = self._position
        else:
            self._push(Subscribed(self._name, resubscribed, recovered, self._position), self._position)

    def _connection_lost(self, close_code: int) -> None:
        if self._state == "unsubscribed":
            return
        # A recovery that the node's queue could not hold closes the connection with 4008, and
        # would again on every reconnect: resume without since next time (recovered False).
        if close_code == 4008 and (self._since_in_flight or self._replay_until is not None):
            self._resume_without_since = True
        self._since_in_flight = False
        self._replay_until = None
        self._state = "subscribing"
        self._attempt += 1

    def _recovering(self) -> bool:
        """A gap in the offsets: wait for a resubscribe from the position."""
        if self._state != "subscribed":
            return False
        self._state = "subscribing"
        return True

    def _message(self, m: Dict[str, Any]) -> bool:
        """A message push: buffered when it is the next one. False on a gap (the client then
        resubscribes from the position, which replays it)."""
        if self._state != "subscribed":
            return True
        offset = m.get("offset")
        position = self._position
        if isinstance(offset, int) and position is not None:
            if offset <= position.offset and offset != 1:
                return True  # already had it
            if offset != position.offset + 1:
                return False
        if isinstance(offset, int):
            self._position = Position(offset, position.epoch if position else "")
            if self._replay_until is not None and offset >= self._replay_until:
                self._replay_until = None
        self._push(message_of(m), self._position)
        return True

    def _announced(self, m: Dict[str, Any]) -> None:
        """The node re-announced the subscription (the room's epoch changed, or messages were
        lost): carry on from its position."""
        if self._state != "subscribed":
            return
        offset, epoch = m.get("offset"), m.get("epoch")
        if not isinstance(offset, int) or not isinstance(epoch, str):
            return
        self._position = Position(offset, epoch)
        self._recovered = m.get("recovered") is True
        self._replay_until = None
        self._push(Subscribed(self._name, True, self._recovered, self._position), self._position)

    def _presence(self, m: Dict[str, Any]) -> None:
        info = m.get("info") if isinstance(m.get("info"), dict) else {}
        user, info = str(m.get("user", "")), dict(info or {})
        if m.get("type") == "join":
            self._push(Join(room=self._name, user=user, info=info))
        else:
            self._push(Leave(room=self._name, user=user, info=info))

    def _set_presence_events(self, presence: bool) -> bool:
        if self._presence_events == presence:
            return False
        self._presence_events = presence
        return True

    def _end(self, event: Optional[Unsubscribed] = None,
             error: Optional[BaseException] = None) -> None:
        """The room ended for good: unsubscribed, refused, ended by the node, or the client
        stopped (with its final error, if any)."""
        if self._ended:
            return
        self._state = "unsubscribed"
        if event is not None:
            self._buffer.append((event, None))
        self._ended = True
        self._ended_with = error
        self._readable.set()
        self._space.set()
        if not self._first.done():
            self._first.set_exception(error if error is not None else
                                      Error("closed", "the client was closed", room=self._name, op="subscribe"))
            self._first.exception()  # retrieved: subscribe() may no longer be waiting
