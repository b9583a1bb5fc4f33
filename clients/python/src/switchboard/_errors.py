"""Errors of the client and of the node, and the close codes the client acts on."""

from __future__ import annotations

from typing import Dict, Optional, Type


class Error(Exception):
    """An error of the node or of the client.

    ``code`` is the protocol's error code (``bad_room``, ``forbidden``, ``rate_limited``, …, see
    protocol/PROTOCOL.md) or one of the client's own: ``timeout``, ``disconnected``,
    ``token_error``, ``token_expired``, ``closed``. ``room`` and ``op`` say which request it was,
    ``status`` is the HTTP status of an HTTP API answer or of a refused handshake.
    """

    def __init__(self, code: str, message: Optional[str] = None, *, room: Optional[str] = None,
                 op: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.room = room
        self.op = op
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class Disconnected(Error):
    """Not connected, or the connection was lost before the reply (a publish may or may not
    have been delivered)."""


class RequestTimeout(Error):
    """No reply within the client's ``request_timeout``."""


class Forbidden(Error):
    """``forbidden``: the token does not allow this in this room."""


class RateLimited(Error):
    """``rate_limited``: too fast. ``retry_after`` (seconds) comes with HTTP API answers."""

    retry_after: Optional[float] = None


class Unavailable(Error):
    """``unavailable``, ``draining``, ``too_many_connections``: the node cannot take it right
    now; retry later."""


class BadRequest(Error):
    """``bad_request``, ``bad_json``, ``bad_room``, ``unknown_op``, ``not_subscribed``,
    ``too_many_rooms``, ``too_large``: a request the node will never accept as it is."""


class TokenRefused(Error):
    """The node refused the token (``missing_token``, ``bad_token``, ``expired``,
    ``bad_signature``, …): at the handshake (``op == "connect"``, with ``status``), for a
    ``refresh``, or by the HTTP API."""


class Closed(Error):
    """The client stopped for good: ``close()`` was called (code ``closed``), or the node ended
    the connection in a way no retry can change. ``close_code`` is the WebSocket close code."""

    def __init__(self, code: str, message: Optional[str] = None, *, close_code: int = 1000,
                 reason: str = "") -> None:
        super().__init__(code, message)
        self.close_code = close_code
        self.reason = reason


class TokenExpired(Closed):
    """Close 4001: the connection's token expired without a refresh, and the client has no
    ``get_token`` to ask for a new one."""


# Close codes (PROTOCOL.md, "Close codes").
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006  # a connection dropped without a close frame; never sent
CLOSE_TOKEN_EXPIRED = 4001
CLOSE_SLOW_CONSUMER = 4008
CLOSE_TOO_MANY_REQUESTS = 4029

# Refusals that say the token is not good: final when there is no get_token to ask again.
TOKEN_REFUSALS = frozenset({"missing_token", "bad_token", "expired", "not_yet_valid",
                            "bad_signature", "bad_audience", "bad_issuer", "unknown_key",
                            "alg_not_allowed"})

# Subscribe failures worth retrying on the same connection; any other code ends the room.
RETRYABLE = frozenset({"timeout", "rate_limited", "unavailable", "internal"})

_BY_CODE: Dict[str, Type[Error]] = {
    "forbidden": Forbidden,
    "origin_not_allowed": Forbidden,
    "rate_limited": RateLimited,
    "unavailable": Unavailable,
    "draining": Unavailable,
    "too_many_connections": Unavailable,
    "bad_request": BadRequest,
    "bad_json": BadRequest,
    "bad_room": BadRequest,
    "unknown_op": BadRequest,
    "not_subscribed": BadRequest,
    "too_many_rooms": BadRequest,
    "too_large": BadRequest,
    "timeout": RequestTimeout,
    "disconnected": Disconnected,
    **{code: TokenRefused for code in TOKEN_REFUSALS},
}


def error_for(code: str, message: Optional[str] = None, *, room: Optional[str] = None,
              op: Optional[str] = None, status: Optional[int] = None) -> Error:
    """The Error (of the subclass for ``code``) of an error the node or the client reports."""
    return _BY_CODE.get(code, Error)(code, message, room=room, op=op, status=status)


def node_error(error: object, *, room: Optional[str] = None, op: Optional[str] = None,
               status: Optional[int] = None) -> Error:
    """The Error of an ``{"code", "message"}`` object the node sent."""
    code, message = "internal", None
    if isinstance(error, dict):
        if isinstance(error.get("code"), str):
            code = error["code"]
        if isinstance(error.get("message"), str):
            message = error["message"]
    return error_for(code, message, room=room, op=op, status=status)
