"""An incremental decoder of AWS event-stream frames (``application/vnd.amazon.eventstream``, how
Bedrock's ConverseStream answers): bytes in as they arrive, whole messages out.

A frame: ``total length (u32) | headers length (u32) | prelude CRC32 (u32) | headers | payload |
message CRC32 (u32)``, big-endian; a header: ``name length (u8) | name | type (u8) | value``.
Both CRCs are checked (``zlib.crc32``, C speed); a frame is parsed only once it is whole, and
bytes are copied once per frame. ``botocore.eventstream`` is the judge in the tests
(``tests/unit/providers/test_eventstream.py``).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAX_FRAME = 16 * 1024 * 1024
"""A frame announcing more than this is refused (AWS's own limit is 16 MiB)."""

_PRELUDE = struct.Struct(">III")
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}  # bool true/false, byte, short, int, long, timestamp, uuid


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad length, CRC or header)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded frame: its string headers (``:message-type``, ``:event-type``, …) and payload."""

    headers: dict[str, str]
    payload: bytes


def _headers(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    i, end = 0, len(data)
    while i < end:
        size = data[i]
        name = data[i + 1: i + 1 + size].decode("utf-8", "replace")
        i += 1 + size
        if i >= end:
            raise EventStreamError("a header is cut short")
        kind = data[i]
        i += 1
        if kind in (6, 7):  # bytes, string: u16 length then the value
            length = int.from_bytes(data[i:i + 2], "big")
            value = data[i + 2: i + 2 + length]
            i += 2 + length
            if kind == 7:
                out[name] = value.decode("utf-8", "replace")
        elif kind in _FIXED:
            i += _FIXED[kind]
        else:
            raise EventStreamError(f"unknown header value type {kind}")
        if i > end:
            raise EventStreamError("a header is cut short")
    return out


class EventStreamDecoder:
    """Feed bytes with :meth:`feed`; it returns the messages they completed."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        start = 0
        while len(buffer) - start >= 12:
            total, header_length, prelude_crc = _PRELUDE.unpack_from(buffer, start)
            if zlib.crc32(buffer[start:start + 8]) != prelude_crc:
                raise EventStreamError("prelude CRC mismatch")
            if total > MAX_FRAME or total < 16 or header_length > total - 16:
                raise EventStreamError(f"a frame of {total} bytes with {header_length} bytes of headers")
            if len(buffer) - start < total:
                break
            frame = bytes(buffer[start:start + total])
            start += total
            if zlib.crc32(frame[:-4]) != int.from_bytes(frame[-4:], "big"):
                raise EventStreamError("message CRC mismatch")
            messages.append(Message(_headers(frame[12:12 + header_length]), frame[12 + header_length:-4]))
        if start:
            del buffer[:start]
        return messages
