"""Switchboard client for Python backends: a WebSocket client that reconnects by itself, keeps
its rooms subscribed and recovers what was missed (:class:`Client`, :class:`Room`), and the
node's HTTP API (:class:`Api`). The wire protocol is protocol/PROTOCOL.md in Switchboard's
repository."""

from ._api import Api
from ._client import Client, backoff_delay
from ._errors import (CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_SLOW_CONSUMER,
                      CLOSE_TOKEN_EXPIRED, CLOSE_TOO_MANY_REQUESTS, BadRequest, Closed,
                      Disconnected, Error, Forbidden, RateLimited, RequestTimeout, TokenExpired,
                      TokenRefused, Unavailable)
from ._room import Room
from ._types import (Ack, Disconnection, Event, History, Join, Leave, Message, Position,
                     PresenceUser, Subscribed, Unsubscribed)

__version__ = "0.1.0"

__all__ = [
    "Api", "Client", "Room", "backoff_delay",
    "Error", "BadRequest", "Closed", "Disconnected", "Forbidden", "RateLimited", "RequestTimeout",
    "TokenExpired", "TokenRefused", "Unavailable",
    "Ack", "Disconnection", "Event", "History", "Join", "Leave", "Message", "Position",
    "PresenceUser", "Subscribed", "Unsubscribed",
    "CLOSE_NORMAL", "CLOSE_GOING_AWAY", "CLOSE_ABNORMAL", "CLOSE_TOKEN_EXPIRED",
    "CLOSE_SLOW_CONSUMER", "CLOSE_TOO_MANY_REQUESTS",
]
