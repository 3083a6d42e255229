"""How a decision is explained: the route's conditions, and events that name the numbers."""

from __future__ import annotations

from collections.abc import Sequence

from airoute.api.spec import AIRouteSpec, FailoverPolicy
from airoute.api.status import AIRouteStatus, BackendStatus, Condition, ConditionStatus, RolloutStatus
from airoute.core.conditions import CONDITION_ORDER, changed, set_condition
from airoute.core.events import Event, EventType, clip
from airoute.core.health import DRILL
from airoute.core.rollout import ACTIVE, FAILED
from airoute.core.signals import Observations
from airoute.core.weights import WeightPlan

State = tuple[ConditionStatus, str, str]
"""A condition's status, reason and message."""


def _out(backend: BackendStatus) -> bool:
    return backend.ejected_until is not None


def _ready(plan: WeightPlan, spec: AIRouteSpec) -> State:
    if plan.panic:
        text = "every backend is out; traffic is spread by desired weights as a last resort"
        if spec.degraded_response:
            text += " (the degraded response answers when they fail)"
        return "False", "AllBackendsDown", text
    reason = "StandbyServing" if plan.standby_active else "Serving"
    return "True", reason, plan.summary([b.name for b in spec.backends])


def _degraded(plan: WeightPlan, backends: Sequence[BackendStatus], rollouts: Sequence[RolloutStatus]) -> State:
    withdrawn = {r.backend for r in rollouts if r.kind == "NewBackend" and r.phase in FAILED}
    out = [
        b
        for b in backends
        if b.desired_weight > 0 and b.name not in withdrawn and (_out(b) or plan.weights.get(b.name, 0) == 0)
    ]
    described = "; ".join(f"{b.name} out: {b.message}" for b in out)
    if plan.panic:
        return "True", "AllBackendsDown", described or "every backend is out"
    if plan.standby_active:
        return "True", "StandbyActive", f"every weighted backend is out, standbys serve. {described}".strip()
    if out:
        return "True", "BackendsOut", described
    return "False", "AllBackendsIn", "every weighted backend is serving"


def _progressing(rollouts: Sequence[RolloutStatus]) -> State:
    active = [r for r in rollouts if r.phase in ACTIVE]
    if not active:
        done = [r for r in rollouts if r.phase == "Succeeded"]
        text = "; ".join(f"canary of {r.backend} succeeded" for r in done)
        return "False", "RolloutSucceeded" if done else "NoRollout", text
    reason = "RolloutPaused" if any(r.phase == "Paused" for r in active) else "RolloutProgressing"
    return "True", reason, "; ".join(f"{r.backend}: {r.message}" for r in active)


def _rolled_back(rollouts: Sequence[RolloutStatus]) -> State:
    failed = [r for r in rollouts if r.phase in FAILED]
    if not failed:
        return "False", "NoRollback", ""
    reason = "CanaryRolledBack" if any(r.phase == "RolledBack" for r in failed) else "CanaryAborted"
    return "True", reason, "; ".join(f"{r.backend}: {r.message}" for r in failed)


UNSERVABLE_WHY = {
    "SecretNotFound": "a Secret it references is missing, in another namespace, or not labelled "
    "airoute.dev/credentials=true",
    "InvalidProviderConfig": "its provider block or credentials cannot be used as written",
    "ClientBuildFailed": "its provider client could not be built",
}


def _served(obs: Observations) -> State:
    if not obs.metrics_available:
        return "Unknown", "MetricsUnavailable", "the gateways' state could not be read"
    if obs.unservable is None:
        return "True", "ServedByGateways", "no gateway reports a problem loading this route"
    backend, reason = obs.unservable
    why = UNSERVABLE_WHY.get(reason, "see the gateway's log")
    text = (f"the gateways cannot serve this route (backend {backend}: {reason}: {why}); clients get 503 "
            "route_unavailable; the gateway's log has the details")
    return "False", reason or "NotServed", text


def _metrics(obs: Observations) -> State:
    if obs.metrics_available:
        return "True", "MetricsReceived", "health signals were read"
    return "False", "MetricsUnavailable", obs.metrics_error or "the metrics source could not be read"


def route_conditions(
    prev: Sequence[Condition],
    spec: AIRouteSpec,
    plan: WeightPlan,
    backends: Sequence[BackendStatus],
    rollouts: Sequence[RolloutStatus],
    obs: Observations,
    now: float,
    generation: int,
) -> list[Condition]:
    """Ready, Degraded, Progressing, RolledBack, MetricsAvailable and Served for the new status; a
    route the gateways cannot serve is not Ready, whatever its weights."""
    served = _served(obs)
    verdicts = {
        "Ready": served if served[0] == "False" else _ready(plan, spec),
        "Degraded": _degraded(plan, backends, rollouts),
        "Progressing": _progressing(rollouts),
        "RolledBack": _rolled_back(rollouts),
        "MetricsAvailable": _metrics(obs),
        "Served": served,
    }
    conditions = list(prev)
    for type_ in CONDITION_ORDER:
        status, reason, message = verdicts[type_]
        conditions = set_condition(conditions, type_, status, reason, message, now, generation)
    return conditions


def condition_events(before: Sequence[Condition], after: Sequence[Condition], *, first: bool) -> list[Event]:
    """Events for a route that stops or starts serving, and for metrics that go or come back."""
    events: list[Event] = []
    for type_, good in (("Ready", "True"), ("MetricsAvailable", "True")):
        new = next((c for c in after if c.type == type_), None)
        if new is None or not changed(before, after, type_) or (first and new.status == good):
            continue
        kind: EventType = "Normal" if new.status == good else "Warning"
        text = f"{type_} is {new.status} ({new.reason})" + (f": {new.message}" if new.message else "")
        events.append(Event(kind, new.reason, clip(text, 1024)))
    return events


def _cause(prev: BackendStatus, new: BackendStatus, failover: FailoverPolicy, plan: WeightPlan) -> tuple[str, str]:
    """``(reason, words)`` for the change of one backend's weight."""
    if new.reason == DRILL and _out(new):
        return "BackendDrilled", new.message
    if _out(new) and not _out(prev):
        return "BackendEjected", f"{new.message} (out for {failover.eject_for})"
    if new.ramp_step is not None:
        percent = failover.recovery_ramp[min(new.ramp_step, len(failover.recovery_ramp) - 1)]
        return "BackendRecovering", f"recovery ramp step {new.ramp_step + 1}: {percent}% of its weight"
    if (_out(prev) or prev.ramp_step is not None) and not _out(new):
        return "BackendRecovered", "back at full weight"
    if plan.panic:
        return "PanicRouting", "every backend is out: traffic spread by desired weights"
    if plan.standby_active and new.desired_weight == 0:
        return "StandbyActive", "every weighted backend is out: the standby takes over"
    if prev.desired_weight != new.desired_weight:
        return "WeightChanged", f"spec weight {prev.desired_weight}→{new.desired_weight}"
    if new.health in ("Degraded", "Unhealthy") and new.health != prev.health:
        return "BackendDegraded", new.message
    return "WeightChanged", "rebalanced across the backends in service"


def weight_events(prev: AIRouteStatus, new: AIRouteStatus, spec: AIRouteSpec, plan: WeightPlan) -> list[Event]:
    """One event per backend whose effective weight changed, with its cause and numbers."""
    events: list[Event] = []
    for b in new.backends:
        old = prev.backend(b.name)
        if old is None or old.effective_weight == b.effective_weight:
            continue
        reason, words = _cause(old, b, spec.failover, plan)
        kind: EventType = "Warning" if b.effective_weight < old.effective_weight else "Normal"
        message = f"weight of {b.name} {old.effective_weight}→{b.effective_weight}: {words}"
        events.append(Event(kind, reason, clip(message, 1024), b.name))
    return events
