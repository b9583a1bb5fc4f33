"""What the client hands to the application: events of a room, replies, positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from ._binary import from_json_data


@dataclass(frozen=True)
class Position:
    """Where a room's stream stands: the offset of a message and the epoch of the room's history
    (an offset only means something with its epoch)."""

    offset: int
    epoch: str


@dataclass(frozen=True)
class Ack:
    """The node's ``ok`` to a publish: the message is the room's message number ``offset``."""

    offset: int


@dataclass(frozen=True)
class PresenceUser:
    """A user present in a room, with the number of its connections subscribed to it."""

    user: str
    info: Dict[str, Any]
    conns: int


@dataclass(frozen=True)
class Message:
    """A message published to a room. ``data`` is its JSON value, or ``bytes`` for a message of
    bytes. ``sender`` is the protocol's ``from``: the publisher's user id (or the name an API key
    gave)."""

    room: str
    data: Any
    sender: str
    offset: int


@dataclass(frozen=True)
class Join:
    """A user's first connection entered the room (subscriptions with ``presence=True``)."""

    room: str
    user: str
    info: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Leave:
    """A user's last connection left the room (subscriptions with ``presence=True``)."""

    room: str
    user: str
    info: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscribed:
    """The room was subscribed again: after a reconnect, after a gap in the offsets, or because
    the node announced that the room's stream moved on (its epoch changed, messages were lost).

    ``recovered`` is True when every message missed meanwhile follows, in order; False when the
    node's history did not reach back (reload what the room shows, e.g. with ``history()``).
    """

    room: str
    resubscribed: bool
    recovered: Optional[bool]
    position: Optional[Position]


@dataclass(frozen=True)
class Unsubscribed:
    """The room ended: the node ended the subscription (``code`` ``forbidden`` after a token
    refresh), or a resubscribe was refused. Iteration over the room stops after it."""

    room: str
    code: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class History:
    """A room's latest messages kept by the node, oldest first, and the room's position.
    ``truncated``: older messages were left out to fit the node's queue."""

    messages: List[Message]
    position: Position
    truncated: bool = False


Event = Union[Message, Join, Leave, Subscribed, Unsubscribed]


@dataclass(frozen=True)
class Disconnection:
    """A connection (or an attempt) ended: ``code`` is its WebSocket close code (1006 when it
    was dropped without one, ``reason`` then says why, e.g. ``heartbeat timeout``)."""

    code: int
    reason: str
    will_reconnect: bool


def message_of(m: Dict[str, Any]) -> Message:
    """The Message of a ``{"type":"message",…}`` push or history entry."""
    return Message(room=str(m.get("room", "")), data=from_json_data(m.get("data")), sender=str(m.get("from", "")),
                   offset=int(m.get("offset", 0)))


def presence_users(users: object) -> List[PresenceUser]:
    """The PresenceUsers of a presence reply's ``users``."""
    if not isinstance(users, list):
        return []
    return [PresenceUser(user=str(u.get("user", "")), info=dict(u.get("info") or {}),
                         conns=int(u.get("conns", 0))) for u in users if isinstance(u, dict)]


def history_of(reply: Dict[str, Any]) -> History:
    """The History of a history reply."""
    messages = reply.get("messages")
    return History(messages=[message_of(m) for m in messages if isinstance(m, dict)]
                   if isinstance(messages, list) else [],
                   position=Position(int(reply.get("offset", 0)), str(reply.get("epoch", ""))),
                   truncated=reply.get("truncated") is True)
