"""A Server-Sent Events decoder for tests: a pure, line-by-line state machine (bytes in, event
data out): what judges the streams the gateway and its callers relay."""

from __future__ import annotations


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the ``data`` of every event completed so far.

    Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; several ``data:`` lines of one event are joined
    with ``\\n``; comments and other fields (``event``, ``id``, ``retry``) are skipped.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        buffer = self._buffer + chunk
        events: list[str] = []
        position = 0
        while (cut := _line_end(buffer, position)) is not None:
            end, after = cut
            event = self._line(buffer[position:end].decode("utf-8"))
            if event is not None:
                events.append(event)
            position = after
        self._buffer = buffer[position:]
        return events

    def flush(self) -> list[str]:
        """The end of the stream: an event without its closing blank line still counts."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


def _line_end(buffer: bytes, start: int) -> tuple[int, int] | None:
    """(end of the line starting at ``start``, start of the next), or None if incomplete."""
    lf = buffer.find(b"\n", start)
    cr = buffer.find(b"\r", start, lf if lf != -1 else len(buffer))
    if cr == -1:
        return None if lf == -1 else (lf, lf + 1)
    if cr + 1 == len(buffer):
        return None  # a \r\n may be split across chunks
    return cr, cr + 2 if buffer[cr + 1] == 0x0A else cr + 1
