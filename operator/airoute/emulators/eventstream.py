"""The AWS event-stream frame (``application/vnd.amazon.eventstream``), encoded directly.

A frame: ``total length (u32) | headers length (u32) | prelude CRC32 (u32) | headers | payload |
message CRC32 (u32)``, big-endian. A header: ``name length (u8) | name | type (u8) | value``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

HeaderValue = str | bytes | bool | int

_BOOL_TRUE, _BOOL_FALSE, _INT32, _INT64, _BYTES, _STRING = 0, 1, 4, 5, 6, 7
_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")


def _header(name: str, value: HeaderValue) -> bytes:
    key = name.encode()
    if len(key) > 255:
        raise ValueError(f"header name too long: {name!r}")
    head = bytes([len(key)]) + key
    if isinstance(value, bool):
        return head + bytes([_BOOL_TRUE if value else _BOOL_FALSE])
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return head + bytes([_INT32]) + struct.pack(">i", value)
        return head + bytes([_INT64]) + struct.pack(">q", value)
    data = value.encode() if isinstance(value, str) else value
    if len(data) > 0xFFFF:
        raise ValueError(f"header value too long for {name!r}")
    kind = _STRING if isinstance(value, str) else _BYTES
    return head + bytes([kind]) + struct.pack(">H", len(data)) + data


def encode_frame(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One complete event-stream message."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + 4 + len(encoded) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(encoded))
    prelude += _U32.pack(zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + _U32.pack(zlib.crc32(message))


def event_frame(event_type: str, body: Mapping[str, Any]) -> bytes:
    """An ``event`` message as Bedrock's ConverseStream sends it."""
    return encode_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body, separators=(",", ":")).encode(),
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    """An ``exception`` message (e.g. ``throttlingException``) in the middle of a stream."""
    return encode_frame(
        {":exception-type": exception_type, ":content-type": "application/json",
         ":message-type": "exception"},
        json.dumps({"message": message}).encode(),
    )
