"""Which manual levers (see :mod:`airoute.api.levers`) have done their work and are to be removed.

A gate is spent when it names no rollout that is still running after the decision: it was acted
on (the canary was promoted or aborted) or it is stale (its canary is gone, or never existed). A
drill is spent once it has ended and is no longer running in status (its report is there). What
cannot be read (a drill end that is not a time) is left for a person to see.
"""

from __future__ import annotations

from collections.abc import Mapping

from airoute.api.levers import DRILL_PREFIX, GATES, RUNNING, names_rollout
from airoute.api.status import AIRouteStatus
from airoute.core.clock import from_rfc3339


def _gate_spent(value: str, status: AIRouteStatus) -> bool:
    return not any(
        r.phase in RUNNING and names_rollout(value, r.canary_hash, r.started) for r in status.rollouts
    )


def _drill_spent(backend: str, value: str, status: AIRouteStatus, now: float) -> bool:
    try:
        until = from_rfc3339(value.strip())
    except ValueError:
        return False
    running = any(d.backend == backend and d.phase == "Running" for d in status.drills)
    return now >= until and not running


def spent_levers(annotations: Mapping[str, str], status: AIRouteStatus, now: float) -> dict[str, str]:
    """Annotation → the value seen, for every lever that has done its work given ``status`` (the
    status just decided and stored). Removed only while it still has that value."""
    return {key: value for key, value in annotations.items() if _spent(key, value, status, now)}


def _spent(key: str, value: str, status: AIRouteStatus, now: float) -> bool:
    if key in GATES:
        return _gate_spent(value, status)
    return key.startswith(DRILL_PREFIX) and _drill_spent(key.removeprefix(DRILL_PREFIX), value, status, now)
