"""HTTP requests with the standard library (urllib in a worker thread), for the HTTP API and
for asking the node why it refused a handshake."""

from __future__ import annotations

import asyncio
import json
import ssl as _ssl
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

from ._errors import Error, RateLimited, node_error

Answer = Tuple[int, Dict[str, str], Any]


def _fetch(method: str, url: str, headers: Dict[str, str], body: Optional[bytes],
           timeout: float, context: Optional[_ssl.SSLContext]) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, got, raw = response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        status, got, raw = err.code, dict(err.headers.items()), err.read()
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        parsed = None
    return status, got, parsed


async def fetch(method: str, url: str, *, headers: Optional[Dict[str, str]] = None,
                body: Optional[bytes] = None, timeout: float = 10.0,
                context: Optional[_ssl.SSLContext] = None) -> Answer:
    """``(status, headers, parsed JSON body or None)`` of one request. Raises Error ``timeout``
    or ``unreachable`` when there is no answer."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_fetch, method, url, dict(headers or {}), body, timeout, context),
            timeout + 1)
    except asyncio.TimeoutError:
        raise Error("timeout", f"{method} {url}: no answer within {timeout} s", op=method) from None
    except (OSError, urllib.error.URLError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, TimeoutError) or isinstance(err, TimeoutError):
            raise Error("timeout", f"{method} {url}: no answer within {timeout} s") from None
        raise Error("unreachable", f"{method} {url}: {reason}") from err


def answer_error(status: int, headers: Dict[str, str], parsed: Any, *, room: Optional[str],
                 op: str) -> Error:
    """The Error of an HTTP error answer (``{"error":{"code","message"}}``)."""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        error = {"code": "internal", "message": f"HTTP {status} without an error body"}
    err = node_error(error, room=room, op=op, status=status)
    if isinstance(err, RateLimited):
        retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        try:
            err.retry_after = float(retry) if retry is not None else None
        except ValueError:
            err.retry_after = None
    return err
