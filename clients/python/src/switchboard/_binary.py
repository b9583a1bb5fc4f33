"""Binary data (PROTOCOL.md, "Binary data"): bytes published as a WebSocket binary frame (a
JSON header, a newline, the bytes) or, over HTTP, as ``{"$binary":"<base64>"}``; received in
either form, and handed to the application as :class:`bytes`."""

import base64
import binascii
import json
from typing import Any, Dict, Optional

BYTES_TYPES = (bytes, bytearray, memoryview)


def is_bytes(data: Any) -> bool:
    return isinstance(data, BYTES_TYPES)


def to_json_data(data: Any) -> Any:
    """``data`` as JSON carries it: bytes as ``{"$binary":"<base64>"}``, anything else as is."""
    if is_bytes(data):
        return {"$binary": base64.b64encode(bytes(data)).decode("ascii")}
    return data


def from_json_data(data: Any) -> Any:
    """A message's data as the application receives it: ``{"$binary":"<base64>"}`` (that one
    member) as bytes, anything else as is."""
    if isinstance(data, dict) and len(data) == 1 and isinstance(data.get("$binary"), str):
        try:
            return base64.b64decode(data["$binary"], validate=True)
        except (binascii.Error, ValueError):
            return data
    return data


def binary_frame(header: Dict[str, Any], data: Any) -> bytes:
    """A publish of bytes as a binary frame: the request's JSON header, a newline, the bytes."""
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" + bytes(data)


def parse_binary_frame(frame: bytes) -> Optional[Dict[str, Any]]:
    """A binary frame from the node: its JSON header (a message push without ``data``) with the
    bytes after the newline as ``data``; None when it is not of that form."""
    header, newline, payload = frame.partition(b"\n")
    if not newline:
        return None
    try:
        m = json.loads(header)
    except ValueError:
        return None
    if not isinstance(m, dict):
        return None
    m["data"] = payload
    return m
