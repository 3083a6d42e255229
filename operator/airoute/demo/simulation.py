"""A route stepped through an outage and a canary in virtual time, with the pure core only.

No servers, no clock: traffic is synthesised from the weights the core itself chose, so the
timeline shows exactly what the decisions would do. ``airoute demo --simulate`` prints it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airoute.api import AIRoute, parse_duration, parse_route
from airoute.core.decide import evaluate
from airoute.core.events import Event
from airoute.core.signals import Observations, Signals

ErrorRates = Callable[[float], Mapping[str, float]]  # seconds since start → error rate per backend/variant


@dataclass(frozen=True)
class Moment:
    """One evaluation of the simulated route."""

    at: float
    weights: dict[str, int]
    canary: dict[str, int]
    health: dict[str, str]
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Scenario:
    """What happens when: provider error rates over time, and an optional spec change."""

    duration: float
    error_rates: ErrorRates
    change_at: float | None = None
    change: Callable[[dict[str, Any]], None] | None = None
    requests_per_window: float = 2000.0


def _signals(
    route: AIRoute, rates: Mapping[str, float], volume: float
) -> tuple[dict[str, Signals], dict[str, Signals]]:
    stable: dict[str, Signals] = {}
    canary: dict[str, Signals] = {}
    weights = route.status.weights or {b.name: b.weight for b in route.spec.backends}
    for b in route.spec.backends:
        share = weights.get(b.name, 0) / 100 * volume
        split = route.status.canary_weights.get(b.name, 0) / 100
        for name, part, into in ((b.name, share * (1 - split), stable), (f"{b.name}:canary", share * split, canary)):
            if part > 0:
                errors = part * rates.get(name, 0.0)
                into[b.name] = Signals(requests=part, errors=errors, throttled=0.0, latency_p95=0.8)
    return stable, canary


def simulate(obj: Mapping[str, Any], scenario: Scenario, start: float = 1_800_000_000.0) -> Iterator[Moment]:
    """Evaluate the route at every ``health.interval`` until ``scenario.duration``."""
    doc = copy.deepcopy(dict(obj))
    route = parse_route(doc)
    interval = parse_duration(route.spec.health.interval)
    t = 0.0
    changed = False
    while t <= scenario.duration:
        if scenario.change is not None and scenario.change_at is not None and not changed and t >= scenario.change_at:
            scenario.change(doc)
            changed = True
            doc.setdefault("metadata", {})["generation"] = route.metadata.generation + 1
            route = parse_route({**doc, "status": route.status.to_wire()})
        stable, canary = _signals(route, scenario.error_rates(t), scenario.requests_per_window)
        decision = evaluate(route, Observations(True, backends=stable, canaries=canary), start + t)
        route = route.model_copy(update={"status": decision.status})
        yield Moment(
            at=t,
            weights=dict(decision.status.weights),
            canary=dict(decision.status.canary_weights),
            health={b.name: b.health for b in decision.status.backends},
            events=decision.events,
        )
        t += interval


def outage_then_canary(obj: Mapping[str, Any]) -> Scenario:
    """The README's story: the first backend fails for 3 minutes; later the second gets a bad new version."""
    names = [b["name"] for b in obj["spec"]["backends"]]
    first, second = names[0], names[1]

    def rates(t: float) -> dict[str, float]:
        out = {first: 1.0} if 60 <= t < 240 else {}
        if t >= 600:
            out[f"{second}:canary"] = 0.3
        return out

    def change(doc: dict[str, Any]) -> None:
        backend = doc["spec"]["backends"][1]
        block_name = next(k for k in backend if k not in ("name", "weight", "timeout"))
        block = backend[block_name]
        for field in ("modelId", "deployment", "model"):
            if field in block:
                block[field] = f"{block[field]}-next"
                break
        doc["spec"].setdefault("rollout", {})["interval"] = "1m"

    return Scenario(duration=900, error_rates=rates, change_at=480, change=change)
