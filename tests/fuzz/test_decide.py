"""Generated valid routes through the core, over generated histories of health signals.

``evaluate`` must never raise for a valid spec; what it decides must always be a status the API
accepts back (weights 0-100 summing to 100, one per backend) — the controller writes it, and the
next cycle reads it again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from airoute.api import parse_route, parse_status
from airoute.core.clock import to_rfc3339
from airoute.core.decide import evaluate, invalid_spec_status
from airoute.core.signals import Observations, Signals
from tests.support.strategies import fuzz, provider_blocks, valid_routes

T0 = 1_800_000_000.0
counts = st.one_of(st.integers(0, 1000).map(float), st.floats(0, 1e12, allow_nan=False, allow_infinity=False))


@st.composite
def signals(draw: st.DrawFn) -> Signals:
    errors, throttled, ok = draw(counts), draw(counts), draw(counts)
    latency = st.none() | st.floats(0, 1e7, allow_nan=False, allow_infinity=False)
    page = st.none() | st.sampled_from(["operational", "degraded", "outage"])
    return Signals(errors + throttled + ok, errors, throttled, draw(latency), draw(latency), draw(page))


@dataclass(frozen=True)
class Step:
    """What happens before one evaluation."""

    after: float
    available: bool
    stable: dict[str, Signals]
    canary: dict[str, Signals]
    new_block: tuple[int, dict[str, Any]] | None
    drill: tuple[int, float] | None
    gate: str | None


@st.composite
def steps(draw: st.DrawFn, backends: int) -> Step:
    index = st.integers(0, backends - 1)
    names = st.integers(0, backends - 1).map(lambda i: f"#{i}")
    return Step(
        after=draw(st.sampled_from([0.0, 1.0, 15.0, 30.0, 119.0, 300.0, 3600.0]) | st.floats(0, 1e5)),
        available=draw(st.booleans()),
        stable=draw(st.dictionaries(names, signals(), max_size=backends)),
        canary=draw(st.dictionaries(names, signals(), max_size=backends)),
        new_block=draw(st.none() | st.tuples(index, provider_blocks)),
        drill=draw(st.none() | st.tuples(index, st.floats(0, 7200))),
        gate=draw(st.sampled_from([None, None, None, "promote", "abort"])),
    )


def _observations(step: Step, names: list[str], canary_hashes: set[str]) -> Observations:
    def by_name(series: dict[str, Signals]) -> dict[str, Signals]:
        return {names[int(k[1:])]: s for k, s in series.items()}

    return Observations(
        metrics_available=step.available,
        metrics_error="" if step.available else "Prometheus unavailable",
        backends=by_name(step.stable),
        canaries=by_name(step.canary),
        promote=step.gate == "promote" and bool(canary_hashes),
        abort=step.gate == "abort" and bool(canary_hashes),
    )


def _check(status: Any, names: list[str]) -> None:
    assert list(status.weights) == names
    assert all(isinstance(w, int) and 0 <= w <= 100 for w in status.weights.values())
    assert sum(status.weights.values()) == 100
    assert all(0 < w <= 100 for w in status.canary_weights.values())
    again, problems = parse_status(status.to_wire())  # what the controller writes, it can read back
    assert problems == [], problems
    assert again == status


@fuzz(250)
@given(st.data())
def test_evaluate_never_raises_and_always_decides_a_valid_status(data: st.DataObject) -> None:
    obj = data.draw(valid_routes(max_backends=6))
    n = len(obj["spec"]["backends"])
    history = data.draw(st.lists(steps(n), min_size=1, max_size=12))
    now = T0
    status: dict[str, Any] = {}
    for step in history:
        now += step.after
        if step.new_block is not None:  # a new model version: the provider block changes, a canary starts
            i, block = step.new_block
            obj = copy.deepcopy(obj)
            backend = obj["spec"]["backends"][i]
            obj["spec"]["backends"][i] = {k: v for k, v in backend.items() if k in ("name", "weight", "timeout")}
            obj["spec"]["backends"][i].update(block)
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        route = parse_route({**obj, "status": status})
        names = [b.name for b in route.spec.backends]
        if step.drill is not None:
            i, length = step.drill
            annotations = {f"drill.airoute.dev/{names[i]}": to_rfc3339(now + length)}
            meta = route.metadata.model_copy(update={"annotations": annotations})
            route = route.model_copy(update={"metadata": meta})
        canaries = {r.canary_hash for r in route.status.rollouts if r.phase in ("Progressing", "Paused")}
        obs = _observations(step, names, canaries)
        if step.drill is not None:
            obs = Observations(**{**obs.__dict__, "drills": {names[step.drill[0]]: now + step.drill[1]}})
        decision = evaluate(route, obs, now)
        _check(decision.status, names)
        assert all(len(e.message) <= 1024 and e.reason for e in decision.events)
        quiet = not step.available and step.new_block is None and step.drill is None and step.gate is None
        if quiet and route.status.weights and not route.status.drills:
            assert decision.status.weights == route.status.weights, "no metrics: the weights must stay"
        status = decision.status.to_wire()


@fuzz(150)
@given(valid_routes(max_backends=4), st.lists(st.text(max_size=3000), max_size=40), st.integers(1, 2**62))
def test_an_invalid_update_keeps_the_last_good_weights(obj: dict[str, Any], messages: list[str], gen: int) -> None:
    route = parse_route(obj)
    good = evaluate(route, Observations(metrics_available=True), T0).status
    decision = invalid_spec_status(good, messages, gen, T0 + 15)
    assert decision.status.weights == good.weights
    ready = decision.status.condition("Ready")
    assert ready is not None and (ready.status, ready.reason) == ("False", "InvalidSpec")
    assert parse_status(decision.status.to_wire())[1] == []
