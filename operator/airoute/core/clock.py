"""RFC 3339 timestamps from and to epoch seconds: the core is handed ``now``, it never reads a clock."""

from __future__ import annotations

from datetime import UTC, datetime

# Timestamps are written with millisecond precision; comparisons allow this much slack.
RESOLUTION = 0.001


def to_rfc3339(now: float) -> str:
    """``1795428000.0`` → ``"2026-11-22T10:00:00Z"`` (milliseconds only when not whole)."""
    millis = round(now * 1000)
    seconds, frac = divmod(millis, 1000)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += f".{frac:03d}".rstrip("0")
    return text + "Z"


def from_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp (``Z`` or an offset; a naive one is taken as UTC)."""
    parsed = datetime.fromisoformat(text.replace("z", "Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def reached(now: float, stamp: str | None) -> bool:
    """Whether ``now`` is at or past ``stamp`` (``None`` counts as reached)."""
    return stamp is None or now + RESOLUTION / 2 >= from_rfc3339(stamp)


def elapsed(now: float, stamp: str) -> float:
    """Seconds from ``stamp`` to ``now``, rounded to the timestamp resolution; never negative (a
    stamp is stored rounded to the millisecond, so it can be a little after the ``now`` it recorded)."""
    return max(0.0, round(now - from_rfc3339(stamp), 3))
