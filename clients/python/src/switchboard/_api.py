"""The node's HTTP API (POST /api/publish, GET /api/presence, GET /api/history), for backends
that publish without holding a WebSocket."""

from __future__ import annotations

import json
import ssl as _ssl
import urllib.parse
from typing import Any, Dict, List, Optional

from ._binary import to_json_data
from ._errors import Error
from ._http import answer_error, fetch
from ._types import Ack, History, PresenceUser, history_of, presence_users


class Api:
    """The HTTP API of a node (or of the load balancer in front of a cluster)::

        api = switchboard.Api("https://chat.example.com", api_key=KEY)
        ack = await api.publish("chat:lobby", {"text": "deployed"}, sender="ci")

    ``base_url`` is the node's ``http(s)://host[:port]`` (a path prefix is kept). ``api_key`` is
    one of the node's ``--api-keys``, or ``token`` a JWT (the API then acts as its user, within
    its ``rooms`` grant); with neither, calls are anonymous (nodes with ``--allow-anonymous``).
    ``ssl`` is the context for https (default: the system's trust store). Every call raises
    :class:`switchboard.Error` (of the subclass for its code, with ``status``) when refused.
    """

    def __init__(self, base_url: str, *, api_key: Optional[str] = None,
                 token: Optional[str] = None, timeout: float = 10.0,
                 ssl: Optional[_ssl.SSLContext] = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"switchboard.Api: base_url must be http(s)://host[:port], not {base_url!r}")
        self._base = base_url.rstrip("/")
        self._credential = api_key if api_key is not None else token
        self._timeout = timeout
        self._ssl = ssl

    async def publish(self, room: str, data: Any, *, sender: Optional[str] = None,
                      idem: Optional[str] = None) -> Ack:
        """Publishes ``data`` (any JSON value, or bytes, sent as ``{"$binary":"<base64>"}``) to
        ``room``; ``sender`` (the protocol's ``from``,
        API keys only; default ``"server"``) names the publisher. Returns the node's Ack.
        ``idem``: an idempotency key, shared with WebSocket publishes (see
        :meth:`Client.publish`): a retry with it is delivered once."""
        body: Dict[str, Any] = {"room": room, "data": to_json_data(data)}
        if sender is not None:
            body["from"] = sender
        if idem is not None:
            body["idem"] = idem
        reply = await self._call("POST", "/api/publish", room, "publish",
                                 json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return Ack(offset=int(reply.get("offset", 0)))

    async def presence(self, room: str) -> List[PresenceUser]:
        """The users present in ``room``, sorted by user id."""
        reply = await self._call("GET", "/api/presence?" + urllib.parse.urlencode({"room": room}),
                                 room, "presence")
        return presence_users(reply.get("users"))

    async def history(self, room: str, *, limit: Optional[int] = None) -> History:
        """The latest messages of ``room`` kept by the node (``limit`` 1-1000, default 100),
        oldest first."""
        query = {"room": room} if limit is None else {"room": room, "limit": str(limit)}
        reply = await self._call("GET", "/api/history?" + urllib.parse.urlencode(query), room, "history")
        return history_of(reply)

    async def _call(self, method: str, path: str, room: str, op: str,
                    body: Optional[bytes] = None) -> Dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._credential:
            headers["Authorization"] = f"Bearer {self._credential}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, got, parsed = await fetch(method, self._base + path, headers=headers, body=body,
                                          timeout=self._timeout, context=self._ssl)
        if status != 200 or not isinstance(parsed, dict):
            if status == 200:
                raise Error("internal", f"{op}: the node's answer is not a JSON object", room=room,
                            op=op, status=status)
            raise answer_error(status, got, parsed, room=room, op=op)
        return parsed
