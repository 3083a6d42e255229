"""The share of a route's traffic that spilled out of its first priority group (issue 16.4).

Backends have a ``priority`` (lowest first); the gateway keeps traffic in the lowest group while
it serves and spills to the next on 429s, hold-offs, ejection or failures. What spilled, over a
health window, is read from what each backend was measured at: the requests it *answered*
(requests less its failed and throttled ones) outside the lowest group, over all answered.
"""

from __future__ import annotations

from collections.abc import Sequence

from airoute.api.spec import AIRouteSpec
from airoute.api.status import BackendStatus


def answered(backend: BackendStatus) -> float:
    """Requests ``backend`` answered in the window (0 when not measured)."""
    if not backend.requests:
        return 0.0
    failed = (backend.error_rate or 0.0) + (backend.throttle_rate or 0.0)
    return backend.requests * max(0.0, 1.0 - failed)


def spilled_share(spec: AIRouteSpec, backends: Sequence[BackendStatus]) -> float | None:
    """Share (0-1) of the answered requests that came from outside the lowest priority group;
    None for a route of one group, or when nothing was answered."""
    priority = {b.name: b.priority for b in spec.backends}
    if len(set(priority.values())) < 2:
        return None
    first = min(priority.values())
    total = spilled = 0.0
    for backend in backends:
        count = answered(backend)
        total += count
        if priority.get(backend.name, first) > first:
            spilled += count
    return round(spilled / total, 4) if total > 0 else None
