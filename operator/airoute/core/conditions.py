"""Kubernetes-style conditions that don't churn: ``lastTransitionTime`` moves only with status."""

from __future__ import annotations

from collections.abc import Sequence

from airoute.api.status import Condition, ConditionStatus
from airoute.core.clock import to_rfc3339
from airoute.core.events import clip

CONDITION_ORDER = ("Ready", "Degraded", "Progressing", "RolledBack", "MetricsAvailable", "Served")


_SHARED: dict[tuple[str, ConditionStatus, str, str, str, int | None], Condition] = {}
SHARED_MAX = 4096


def _shared(
    type_: str, status: ConditionStatus, reason: str, message: str, stamp: str, generation: int | None
) -> Condition:
    """The condition with these values, one object for every route that has it (conditions are
    immutable; routes decided in the same cycle mostly share theirs: at 10,000 routes, 60,000
    equal objects would be tens of MiB). Forgets them all once :data:`SHARED_MAX` are kept."""
    key = (type_, status, reason, message, stamp, generation)
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[key] = Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=stamp,
            observed_generation=generation,
        )
    return found


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: float,
    generation: int | None = None,
) -> list[Condition]:
    """``conditions`` with ``type_`` set; its transition time is kept when its status is unchanged.

    Reason, message and observed generation are updated in place either way; other conditions
    and the order are left alone (a new type is appended).
    """
    old = next((c for c in conditions if c.type == type_), None)
    message = clip(message, 32768)
    if old is not None and (old.status, old.reason, old.message, old.observed_generation) == (
        status,
        reason,
        message,
        generation,
    ):
        return list(conditions)  # the same condition object: nothing is allocated for what did not change
    stamp = old.last_transition_time if old is not None and old.status == status else to_rfc3339(now)
    new = _shared(type_, status, reason, message, stamp, generation)
    if old is None:
        return [*conditions, new]
    return [new if c.type == type_ else c for c in conditions]


def changed(before: Sequence[Condition], after: Sequence[Condition], type_: str) -> bool:
    """Whether ``type_`` differs in status or reason between two condition lists."""
    old = next((c for c in before if c.type == type_), None)
    new = next((c for c in after if c.type == type_), None)
    if old is None or new is None:
        return old is not new
    return (old.status, old.reason) != (new.status, new.reason)
