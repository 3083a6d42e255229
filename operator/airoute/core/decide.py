"""The one entry point: a route, what was observed, and the time → the new status and events.

``evaluate`` steps every backend's health and rollout, the drills, then the weights, and
explains every change in conditions and events. It never raises for a valid spec; it reads no
clock and does no I/O. While metrics are unavailable nothing is ejected, ramped, analysed or
rolled back: health-driven weights stay as they were and rollouts pause. Explicit actions —
drills, the promote/abort gates, a change of the spec — still take effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airoute.api.spec import AIRouteSpec
from airoute.api.status import AIRouteStatus, BackendStatus, RolloutStatus
from airoute.api.validation import AIRoute, FieldProblem
from airoute.core.conditions import set_condition
from airoute.core.drills import step_drills
from airoute.core.events import Event, clip
from airoute.core.health import assess, step_backend, traffic_factor
from airoute.core.report import condition_events, route_conditions, weight_events
from airoute.core.rollout import FAILED, Gates, RolloutStep, backend_factor, canary_share, step_rollout
from airoute.core.signals import Observations
from airoute.core.spillover import spilled_share
from airoute.core.weights import effective_weights


@dataclass(frozen=True)
class Decision:
    """The status to write and the events to record."""

    status: AIRouteStatus
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class _Backends:
    """Every backend of the route after one evaluation, before weights are applied."""

    statuses: dict[str, BackendStatus]
    rollouts: dict[str, RolloutStep]
    desired: dict[str, int]
    factors: dict[str, float]


def _step_backends(spec: AIRouteSpec, prev: AIRouteStatus, obs: Observations, now: float) -> _Backends:
    first = not prev.backends
    statuses: dict[str, BackendStatus] = {}
    rollouts: dict[str, RolloutStep] = {}
    desired: dict[str, int] = {}
    factors: dict[str, float] = {}
    for b in spec.backends:
        before = prev.backend(b.name)
        gates = Gates(obs.canaries.get(b.name), obs.metrics_available, obs.promote, obs.abort)
        step = step_rollout(spec.rollout, b, before, prev.rollout(b.name), gates, first=first, now=now)
        seen = assess(spec.health, obs.backends.get(b.name), obs.metrics_available)
        status = step_backend(b.name, spec.health, spec.failover, before, seen, b.weight, now, obs.drills.get(b.name))
        statuses[b.name] = status.updated(
            {"provider_hash": step.stable_hash, "provider": step.stable_provider},
        )
        rollouts[b.name] = step
        desired[b.name] = 0 if _withdrawn(step.rollout) else b.weight
        factors[b.name] = traffic_factor(status, spec.failover) * backend_factor(step.rollout)
    return _Backends(statuses, rollouts, desired, factors)


def _withdrawn(rollout: RolloutStatus | None) -> bool:
    """A new backend whose canary was rolled back or aborted is not part of the route."""
    return rollout is not None and rollout.kind == "NewBackend" and rollout.phase in FAILED


def evaluate(route: AIRoute, obs: Observations, now: float) -> Decision:
    """The route's new status and the events explaining what changed."""
    spec, prev = route.spec, route.status
    generation = route.metadata.generation
    stepped = _step_backends(spec, prev, obs, now)
    plan = effective_weights(stepped.desired, stepped.factors)
    names = [b.name for b in spec.backends]
    backends = [stepped.statuses[n].updated({"effective_weight": plan.weights[n]}) for n in names]
    rollouts = [s.rollout for s in stepped.rollouts.values() if s.rollout is not None]
    back = {n: s.ejected_until is None and s.ramp_step is None for n, s in stepped.statuses.items()}
    drills, drill_events = step_drills(prev.drills, obs.drills, plan.weights, back, obs.client_errors, now)
    conditions = route_conditions(prev.conditions, spec, plan, backends, rollouts, obs, now, generation)
    status = AIRouteStatus(
        observed_generation=generation,
        weights=dict(plan.weights),
        weights_summary=clip(plan.summary(names), 1024),
        canary_weights={n: w for n, s in stepped.rollouts.items() if (w := canary_share(s.rollout)) > 0},
        backends=backends,
        spilled_share=spilled_share(spec, backends),
        rollouts=rollouts,
        drills=drills,
        conditions=conditions,
    )
    events = (
        *(e for s in stepped.rollouts.values() for e in s.events),
        *weight_events(prev, status, spec, plan),
        *drill_events,
        *condition_events(prev.conditions, conditions, first=not prev.backends),
    )
    return Decision(status, tuple(events))


def invalid_spec_status(
    prev: AIRouteStatus,
    problems: Sequence[FieldProblem | str],
    generation: int,
    now: float,
) -> Decision:
    """Ready=False (InvalidSpec) with the validation message; the last good routing stays in force."""
    message = clip("; ".join(str(p) for p in problems) or "the spec is invalid", 32768)
    conditions = set_condition(prev.conditions, "Ready", "False", "InvalidSpec", message, now, generation)
    before = prev.condition("Ready")
    status = prev.model_copy(update={"observed_generation": generation, "conditions": conditions})
    if before is not None and (before.reason, before.message) == ("InvalidSpec", message):
        return Decision(status)
    text = f"spec is invalid, the last good routing stays in force: {message}"
    return Decision(status, (Event("Warning", "InvalidSpec", clip(text, 1024)),))


__all__ = ["Decision", "Event", "evaluate", "invalid_spec_status"]
