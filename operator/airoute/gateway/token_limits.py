"""Tokens-per-minute limits of routes and of clients on them (``spec.limits``; the arithmetic is
:mod:`airoute.core.tokenlimits`). A request is counted at its estimate before it goes out and
corrected by the usage the backend reported once it is answered; a route or client over its
limit gets 429 with the ``Retry-After`` at which it may send again. Buckets are per gateway
process, keyed by route and client name (a bounded set: routes and the key file's clients)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from airoute.core.tokenlimits import Bucket, estimate, full, spend, wait_seconds
from airoute.gateway import errors
from airoute.gateway.failover.route import LiveRoute
from airoute.gateway.metrics import GatewayMetrics

Scope = tuple[str, str, int]
"""(route key, client name or "" for the whole route, tokens per minute)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one request was counted at, and where."""

    scopes: tuple[Scope, ...]
    tokens: int


class TokenLimiter:
    """The buckets of every limited route and client; see the module's docstring."""

    def __init__(self, metrics: GatewayMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def reserve(self, route: LiveRoute, client: str | None, body: bytes) -> Reservation | None:
        """Counts a request against its route's and its client's limits (None: the route has
        none); raises the 429 when one of them is used up."""
        entry = route.entry
        scopes: list[Scope] = []
        if entry.tokens_per_minute is not None:
            scopes.append((entry.key, "", entry.tokens_per_minute))
        if entry.tokens_per_minute_per_client is not None and client is not None:
            scopes.append((entry.key, client, entry.tokens_per_minute_per_client))
        if not scopes:
            return None
        now = self.clock()
        for key, who, per_minute in scopes:
            wait = wait_seconds(self._buckets.get((key, who)) or full(per_minute, now), per_minute, now)
            if wait > 0:
                scope = "client" if who else "route"
                self.metrics.token_limited.inc((entry.namespace, entry.name, scope))
                self.metrics.requests.inc(route.outcome("throttled"))
                raise errors.tokens_exhausted(entry.model, per_minute, scope, max(1, math.ceil(wait)))
        tokens = estimate(body)
        for key, who, per_minute in scopes:
            self._spend(key, who, per_minute, now, tokens)
        return Reservation(tuple(scopes), tokens)

    def settle(self, reservation: Reservation, used: int) -> None:
        """Corrects the estimate by the ``used`` tokens the backend reported (0: not reported,
        the estimate stands)."""
        if used <= 0:
            return
        now = self.clock()
        for key, who, per_minute in reservation.scopes:
            self._spend(key, who, per_minute, now, used - reservation.tokens)

    def _spend(self, key: str, who: str, per_minute: int, now: float, tokens: float) -> None:
        bucket = self._buckets.get((key, who)) or full(per_minute, now)
        self._buckets[(key, who)] = spend(bucket, per_minute, now, tokens)
