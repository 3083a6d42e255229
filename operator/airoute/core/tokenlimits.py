"""Tokens-per-minute limits (issue 16.5) as a pure bucket that may go into debt.

A bucket holds up to a minute's tokens and refills at ``per_minute / 60`` a second. A request is
let through while the bucket holds anything at all, and takes its *estimate* — so one request
larger than the whole limit still passes when the bucket is full, and the bucket then owes the
difference. Once the backend reported the usage, the difference between estimate and usage is
given back (or taken). A request that finds the bucket empty waits until it holds a token again:
that is its ``Retry-After``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
"""How many bytes of a request count as one token in the estimate (OpenAI's rule of thumb)."""
_MAX_TOKENS = re.compile(rb'"max_(?:completion_)?tokens"\s*:\s*([0-9]{1,9})')


def estimate(body: bytes) -> int:
    """Tokens a request is counted at before it goes out: its length over
    :data:`CHARS_PER_TOKEN`, plus the output it allows (``max_tokens`` / ``max_completion_tokens``)."""
    allowed = _MAX_TOKENS.search(body)
    return math.ceil(len(body) / CHARS_PER_TOKEN) + (int(allowed.group(1)) if allowed else 0)


@dataclass(frozen=True)
class Bucket:
    """Tokens available at time ``at`` (negative: owed)."""

    level: float
    at: float


def full(per_minute: int, now: float) -> Bucket:
    return Bucket(float(per_minute), now)


def refilled(bucket: Bucket, per_minute: int, now: float) -> Bucket:
    level = min(float(per_minute), bucket.level + (now - bucket.at) * per_minute / 60.0)
    return Bucket(level, max(now, bucket.at))


def wait_seconds(bucket: Bucket, per_minute: int, now: float) -> float:
    """Seconds until a request may go (0: now)."""
    level = refilled(bucket, per_minute, now).level
    return 0.0 if level > 0 else (1.0 - level) * 60.0 / per_minute


def spend(bucket: Bucket, per_minute: int, now: float, tokens: float) -> Bucket:
    """The bucket after ``tokens`` were taken (or given back, when negative)."""
    found = refilled(bucket, per_minute, now)
    return Bucket(min(float(per_minute), found.level - tokens), found.at)
