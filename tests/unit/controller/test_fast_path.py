"""The evaluator's fast path against the full evaluation: identical decisions, conditions, events.

Random routes live through random histories (traffic regimes held for a while with jittering
numbers, outages, metrics gaps, drills, new provider blocks), evaluated at random intervals. One
side is the controller's :class:`Evaluator` (which skips routes at rest, see ``core/steady``);
the other calls the core's ``evaluate`` every time. Both store a status only when it changed.
The evaluator reads each route as the controller holds it in a cluster
(``kubestore.stored_route``: spec and status kept as compact JSON).
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from airoute.api import parse_route, parse_status
from airoute.controller.evaluator import Evaluator
from airoute.controller.kubestore import stored_route
from airoute.controller.observe import DrillBaselines, observe
from airoute.core import Signals, evaluate, to_rfc3339
from airoute.core.decide import Decision
from airoute.core.steady import same_decision
from airoute.ports import MetricsSnapshot
from tests.support.fakes import FakeClock, ScriptedMetrics
from tests.unit.core.factories import AZURE, BEDROCK, LOCAL, T0, VERTEX, backend, raw_route, spec_dict

BLOCKS = (AZURE, BEDROCK, VERTEX, LOCAL)
NS, NAME = "support", "support-chat"


@dataclass(frozen=True)
class Step:
    seconds: float
    signals: dict[str, Signals]
    available: bool
    drill: tuple[str, float] | None
    new_block: int | None  # a backend whose provider block changes (a canary starts)


def _signals(regime: str, jitter: float) -> Signals | None:
    if regime == "none":
        return None
    if regime == "idle":
        return Signals(0.0, 0.0, 0.0)
    if regime == "few":
        return Signals(2 + round(jitter * 3), 0.0, 0.0, 0.5)
    if regime == "ok":
        return Signals(200 + round(jitter * 50), round(jitter * 2), 0.0, 0.8 + jitter)
    if regime == "slow":
        return Signals(200 + round(jitter * 50), 0.0, 0.0, 12.0 + jitter)
    return Signals(200.0, 120 + round(jitter * 60), 0.0, 1.0)  # failing


@st.composite
def histories(draw: st.DrawFn, backends: int) -> list[Step]:
    regimes = st.sampled_from(["none", "idle", "few", "ok", "ok", "ok", "slow", "failing"])
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 6))):  # phases, each held for several evaluations
        regime = [draw(regimes) for _ in range(backends)]
        available = draw(st.booleans()) or draw(st.booleans())  # mostly available
        length = draw(st.integers(1, 10))
        drill_at = draw(st.integers(0, 2 * length))  # some phases have a drill, at any step
        drill = (f"b{draw(st.integers(0, backends - 1))}", draw(st.sampled_from([20.0, 90.0])))
        change_at = draw(st.integers(0, 4 * length))  # fewer have a new provider block
        new_block = draw(st.integers(0, backends - 1))
        for i in range(length):
            jitter = draw(st.floats(0, 1))
            signals = {f"b{b}": s for b, r in enumerate(regime) if (s := _signals(r, jitter)) is not None}
            seconds = draw(st.sampled_from([5.0, 15.0, 15.0, 30.0, 60.0, 150.0]))
            drilled, changed = drill if i == drill_at else None, new_block if i == change_at else None
            steps.append(Step(seconds, signals, available, drilled, changed))
    return steps


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[Step]]:
    weights = draw(st.lists(st.sampled_from([0, 10, 30, 50, 100]), min_size=1, max_size=4).filter(any))
    spec = spec_dict(
        backends=[backend(f"b{i}", w, BLOCKS[i]) for i, w in enumerate(weights)],
        health={
            "interval": "15s",
            "window": "1m",
            "maxErrorRate": 0.1,
            "maxLatencyP95": "8s",
            "minRequests": draw(st.sampled_from([0, 1, 5, 20])),
            "unhealthyAfter": draw(st.integers(1, 3)),
            "healthyAfter": draw(st.integers(1, 3)),
        },
        failover={
            "ejectFor": draw(st.sampled_from(["20s", "1m"])),
            "recoveryRamp": draw(st.sampled_from([[50, 100], [10, 25, 50, 100], [100]])),
            "recoveryInterval": draw(st.sampled_from(["10s", "30s"])),
        },
        rollout={
            "steps": draw(st.sampled_from([[50, 100], [5, 20, 100]])),
            "interval": draw(st.sampled_from(["20s", "1m"])),
            "maxErrorRate": 0.1,
            "minRequests": 1,
            "failureLimit": draw(st.integers(1, 2)),
        },
    )
    return spec, draw(histories(len(weights)))


class Reference:
    """The full evaluation, every time, with the same write policy."""

    def __init__(self) -> None:
        self.baselines = DrillBaselines()

    def decide(self, obj: dict[str, Any], snapshot: MetricsSnapshot, now: float) -> tuple[Decision, bool]:
        route = parse_route(obj)
        decision = evaluate(route, observe(route, snapshot, {}, now, self.baselines), now)
        return decision, not same_decision(decision.status, route.status)


def _apply(obj: dict[str, Any], step: Step, now: float) -> None:
    if step.drill is not None:
        backend_name, seconds = step.drill
        obj["metadata"].setdefault("annotations", {})[f"drill.airoute.dev/{backend_name}"] = to_rfc3339(now + seconds)
    if step.new_block is not None:
        b = obj["spec"]["backends"][step.new_block]
        block = next(v for k, v in b.items() if k not in ("name", "weight"))
        for field in ("deployment", "modelId", "model"):
            if field in block:
                block[field] += "-next"
        obj["metadata"]["generation"] += 1


def _check(spec: dict[str, Any], history: list[Step]) -> Evaluator:
    clock, metrics, reference = FakeClock(T0), ScriptedMetrics(), Reference()
    evaluator = Evaluator(metrics, clock)
    fast = raw_route(spec, name=NAME, namespace=NS)
    full = copy.deepcopy(fast)
    for n, step in enumerate(history):
        clock.t += step.seconds
        for obj in (fast, full):
            _apply(obj, step, clock.t)
        series = {(NS, NAME, b, "stable"): s for b, s in step.signals.items()}
        error = "" if step.available else "Prometheus unavailable"
        metrics.snapshot = MetricsSnapshot(available=step.available, error=error, series=series)
        (outcome,) = asyncio.run(evaluator.cycle([stored_route(fast)], force=True))
        decision, changed = reference.decide(full, metrics.snapshot, clock.t)
        where = f"step {n} at +{clock.t - T0:g}s"
        # A route at rest gets no decision: its stored status stands.
        decided = outcome.decision.status if outcome.decision is not None else parse_status(fast["status"])[0]
        assert outcome.changed == changed, where
        assert same_decision(decided, decision.status), where
        assert decided.conditions == decision.status.conditions, where
        assert outcome.events == decision.events, where
        if changed:
            fast["status"] = decided.to_wire()
            full["status"] = decision.status.to_wire()
    return evaluator


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_the_fast_path_decides_what_the_full_evaluation_decides(scenario: tuple[dict[str, Any], list[Step]]) -> None:
    evaluator = _check(*scenario)
    event(f"fast path taken: {evaluator.skipped > 0}")


def test_a_route_at_rest_with_jittering_traffic_takes_the_fast_path() -> None:
    spec = spec_dict(backends=[backend(f"b{i}", 50, BLOCKS[i]) for i in range(2)])
    history = [Step(15.0, {"b0": _signals("ok", j / 10), "b1": _signals("ok", 1 - j / 10)}, True, None, None)
               for j in range(10)]  # fmt: skip
    evaluator = _check(spec, history)
    # Two evaluations count the good streak up to healthyAfter (2), the third finds the status
    # unchanged; every later one is skipped although the measured numbers keep moving.
    assert (evaluator.decided, evaluator.skipped) == (3, 7)
