"""How much a gateway retries, and how long it leaves a throttled backend alone (issue 16.3).

**Hold-off.** A backend that answered 429 is not broken, it is full: the gateway leaves it alone
for as long as it asked — ``Retry-After`` / ``retry-after-ms`` first, else the earliest
``x-ratelimit-reset-*`` (the soonest moment anything can change), else :data:`DEFAULT_HOLD_OFF` —
at most :data:`MAX_HOLD_OFF`, so a hostile or confused endpoint cannot park its backend for
ever. A hold-off is not an ejection: it does not count towards ``consecutiveFailures``, and the
controller sees ``outcome="throttled"``, never an error.

**Retry budget** (like Envoy's ``retry_budget``). A request makes at most ``maxRetries`` extra
upstream attempts, and a route's retries in flight are at most ``retryBudget`` percent of its
requests in flight — never fewer than :data:`MIN_RETRY_CONCURRENCY`. The default, 100 %, puts
failover first (local ejection ends an outage's retries); a lower budget caps what an outage adds
to the other backends, at the price of client errors in its first moments.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_HOLD_OFF = 1.0
MAX_HOLD_OFF = 300.0
MIN_RETRY_CONCURRENCY = 3


def hold_off_seconds(retry_after: float | None, resets: Mapping[str, float]) -> float:
    """How long a backend that answered 429 is left alone."""
    if retry_after is not None:
        wait = retry_after
    else:
        soonest = [seconds for seconds in resets.values() if seconds > 0]
        wait = min(soonest) if soonest else DEFAULT_HOLD_OFF
    return min(max(wait, 0.0), MAX_HOLD_OFF)


def retry_allowed(retries_so_far: int, max_retries: int, in_flight: int, retrying: int, budget_percent: int) -> bool:
    """Whether a request that already made ``retries_so_far`` retries may make one more, with
    ``in_flight`` requests of its route running and ``retrying`` of them in a retry now."""
    if retries_so_far >= max_retries:
        return False
    return retrying < max(MIN_RETRY_CONCURRENCY, in_flight * budget_percent // 100)
