"""Kubernetes-style conditions that don't churn: ``lastTransitionTime`` moves only with status."""

from __future__ import annotations

from collections.abc import Sequence

from airoute.api.status import Condition, ConditionStatus
from airoute.core.clock import to_rfc3339
from airoute.core.events import clip

CONDITION_ORDER = ("Ready", "Degraded", "Progressing", "RolledBack", "MetricsAvailable", "Served")


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
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=stamp,
        observed_generation=generation,
    )
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
