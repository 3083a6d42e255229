"""The controller closing the loop on real parts.

Real kube-apiserver (fixture), real Prometheus scraping a real gateway process in front of
provider emulators, real ``airoute controller`` processes (Kopf). Clients send traffic through
the gateway throughout. Health interval 1 s, window 4 s, Prometheus scrape 1 s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airoute.emulators import Faults
from tests.support.fakes import wait_for
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(apiserver, tmp_path_factory, "scenarios")


ROLLOUT = {"steps": [30, 100], "interval": "3s", "minRequests": 3, "maxErrorRate": 0.1, "failureLimit": 2}


def _steady(stack: Stack, name: str) -> None:
    wait_for(
        f"{name} to be served at its declared weights", lambda: stack.weights(name) == {"b0": 50, "b1": 30, "b2": 20}
    )


def _set_model(stack: Stack, name: str, backend: int, model: str) -> None:
    route = stack.get(name)
    route["spec"]["backends"][backend]["openAICompatible"]["model"] = model
    stack.apply(
        {
            "apiVersion": route["apiVersion"],
            "kind": route["kind"],
            "metadata": {"name": name, "namespace": stack.namespace},
            "spec": route["spec"],
        }
    )


READS = "airoute_controller_signal_reads_total"
CYCLE_SLACK = 2
"""Reads of the signals a watched version may lag or lead by: the reads counter is sampled when
the version reaches the test, up to a tick after the write (or more on a busy machine)."""


def _b0(version: dict[str, Any]) -> dict[str, Any]:
    status = version.get("status") or {}
    return next((b for b in status.get("backends", []) if b["name"] == "b0"), {})


def test_hard_outage_shifts_weight_away_and_ramps_back(stack: Stack) -> None:
    """docs/operations/provider-outage.md: once Prometheus shows the failures, the weight is 0
    after ``health.unhealthyAfter`` bad evaluations, one per ``health.interval`` (here one per
    tick). Counted in evaluations and signal reads from the route's history, not in seconds: a
    busy machine slows every part, a controller that waits more evaluations or more cycles fails."""
    route = stack.route("outage", failover={"ejectFor": "4s", "recoveryRamp": [25, 50, 100], "recoveryInterval": "1s"})
    unhealthy_after = route["spec"]["health"].get("unhealthyAfter", 2)
    stack.apply(route)
    with stack.load("outage") as load:
        _steady(stack, "outage")
        time.sleep(2)
        reads = lambda: stack.controller_metric(READS)  # noqa: E731
        with stack.watch("outage", sample=reads) as history:
            stack.emulators.set_faults(0, Faults(down="refuse"))
            try:
                wait_for("b0's weight to reach 0", lambda: stack.weights("outage").get("b0") == 0, 60)
                weights = stack.weights("outage")
                assert sum(weights.values()) == 100 and weights["b1"] > 30 and weights["b2"] > 20
                assert load.tally.failed == 0, f"clients saw errors during the outage: {load.tally.failures}"
            finally:
                stack.emulators.set_faults(0)
            wait_for("b0 back at full weight", lambda: stack.weights("outage").get("b0") == 50, 60)
            wait_for("the watch to see it", lambda: history[-1][0]["status"]["weights"].get("b0") == 50, 30)
        assert load.tally.failed == 0
    streaks = [(_b0(v).get("badStreak", 0), v["status"]["weights"].get("b0"), n) for v, n in history]
    first = next(i for i, (streak, _, _) in enumerate(streaks) if streak >= 1)
    ejected = next(i for i, (_, weight, _) in enumerate(streaks) if weight == 0)
    bad = [streak for streak, _, _ in streaks[first : ejected + 1]]
    assert bad == list(range(1, unhealthy_after + 1)), f"each bad evaluation written once, in order: {streaks}"
    assert 0 < streaks[first][1] < 50, "the first bad evaluation already lowers the weight"
    cycles = streaks[ejected][2] - streaks[first][2]
    print(f"outage: history {streaks}; {cycles:g} signal reads from the first bad evaluation to weight 0")
    assert cycles <= (unhealthy_after - 1) + CYCLE_SLACK, f"{cycles:g} reads of the signals, one per evaluation"
    ramp = [_b0(v).get("rampStep") for v, _ in history[ejected:]]
    steps = [step for i, step in enumerate(ramp) if step is not None and (i == 0 or ramp[i - 1] != step)]
    assert steps[-2:] == [0, 1], f"back through every step of failover.recoveryRamp, in order: {ramp}"
    reasons = {e["reason"] for e in stack.events("outage")}
    assert {"BackendEjected", "BackendRecovered"} <= reasons


def test_bad_canary_is_rolled_back_and_gets_no_more_traffic(stack: Stack) -> None:
    stack.apply(stack.route("bad-canary"))
    stack.emulators.set_faults(1, Faults(error_rate=1.0, model="m1-v2"))
    try:
        with stack.load("bad-canary") as load:
            _steady(stack, "bad-canary")
            _set_model(stack, "bad-canary", 1, "m1-v2")
            wait_for("the canary to start", lambda: stack.rollout("bad-canary", "b1").get("phase") == "Progressing", 20)
            rollout = wait_for(
                "the rollback",
                lambda: (r := stack.rollout("bad-canary", "b1")).get("phase") == "RolledBack" and r,
                40,
            )
            assert "canary error rate" in rollout["message"]
            assert stack.status("bad-canary").get("canaryWeights", {}).get("b1") is None
            time.sleep(2)  # let the gateway pick the rollback up
            before = _requests_for(stack, 1, "m1-v2")
            time.sleep(3)
            assert _requests_for(stack, 1, "m1-v2") == before, "the rolled-back canary still gets traffic"
            assert load.tally.failed == 0, "the gateway retried the canary's failures on other backends"
    finally:
        stack.emulators.set_faults(1)
    ready = stack.condition("bad-canary", "RolledBack")
    assert ready.get("status") == "True"
    assert "CanaryRolledBack" in {e["reason"] for e in stack.events("bad-canary")}


def _requests_for(stack: Stack, index: int, model: str) -> int:
    return stack.emulators.servers[index].stats.count(model=model)


def _events_in_order(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The route's Events in the order the API server stored them (resourceVersions grow)."""
    return sorted(stack.events(name), key=lambda e: int(e["metadata"]["resourceVersion"]))


def test_healthy_canary_is_promoted_step_by_step(stack: Stack) -> None:
    steps = [10, 30, 60, 100]
    stack.apply(stack.route("good-canary", rollout={**ROLLOUT, "steps": steps}))
    seen: list[int] = []
    with stack.load("good-canary"):
        _steady(stack, "good-canary")
        _set_model(stack, "good-canary", 2, "m2-v2")

        def promoted() -> bool:
            rollout = stack.rollout("good-canary", "b2")
            if rollout.get("phase") == "Progressing" and (not seen or seen[-1] != rollout["canaryWeight"]):
                seen.append(rollout["canaryWeight"])
            return rollout.get("phase") == "Succeeded"

        wait_for("the canary to be promoted", promoted, 90)
    assert seen == sorted(seen) and seen[0] == 10, f"canary shares seen in status: {seen}"
    rollout_events = [
        (e["reason"], e["message"])
        for e in _events_in_order(stack, "good-canary")
        if e["reason"].startswith("Canary") and "b2" in e["message"]
    ]
    reasons = [reason for reason, _ in rollout_events]
    assert reasons == ["CanaryStarted", "CanaryStepped", "CanaryStepped", "CanaryStepped", "CanaryPromoted"], reasons
    assert "10% on" in rollout_events[0][1]
    moves = [message.rsplit("now at ", 1)[-1] for reason, message in rollout_events if reason == "CanaryStepped"]
    assert moves == ["30%", "60%", "100%"], "every step, in order"
    stable = next(b for b in stack.status("good-canary")["backends"] if b["name"] == "b2")
    assert stable["provider"]["openAICompatible"]["model"] == "m2-v2"
    assert _requests_for(stack, 2, "m2-v2") > 0


def test_prometheus_outage_pauses_a_rollout_and_changes_no_weight(stack: Stack) -> None:
    stack.apply(
        stack.route(
            "pause",
            rollout={"steps": [30, 100], "interval": "4s", "minRequests": 3, "maxErrorRate": 0.1, "failureLimit": 2},
        )
    )
    with stack.load("pause"):
        _steady(stack, "pause")
        _set_model(stack, "pause", 1, "m1-v3")
        wait_for("the canary at 30%", lambda: stack.rollout("pause", "b1").get("canaryWeight") == 30, 20)
        stack.prometheus.stop()
        try:
            wait_for("the rollout to pause", lambda: stack.rollout("pause", "b1").get("phase") == "Paused", 20)
            metrics = stack.condition("pause", "MetricsAvailable")
            assert metrics["status"] == "False" and "unavailable" in metrics["message"]
            weights = stack.weights("pause")
            time.sleep(4)
            assert stack.weights("pause") == weights, "no weight moves while nothing can be measured"
            assert stack.rollout("pause", "b1")["failedChecks"] == 0, "could not measure is never failed"
        finally:
            stack.prometheus.start()
        wait_for(
            "the rollout to resume and finish", lambda: stack.rollout("pause", "b1").get("phase") == "Succeeded", 60
        )


def test_controller_restarted_mid_rollout_resumes_at_the_same_step(stack: Stack) -> None:
    stack.apply(
        stack.route(
            "restart",
            rollout={
                "steps": [20, 50, 100],
                "interval": "4s",
                "minRequests": 3,
                "maxErrorRate": 0.1,
                "failureLimit": 2,
            },
        )
    )
    with stack.load("restart"):
        _steady(stack, "restart")
        _set_model(stack, "restart", 0, "m0-v2")
        before = wait_for("step 1 (50%)", lambda: (r := stack.rollout("restart", "b0")).get("step") == 1 and r, 40)
        stack.controller.stop(signal.SIGKILL)
        version = stack.get("restart")["metadata"]["resourceVersion"]
        # A live controller steps this canary every 4 s (the restarted one does, below): over 6 s
        # any writer left behind — a process that survived, a second replica without peering —
        # would change the route, and every write changes its resourceVersion.
        time.sleep(4 + 2)
        assert stack.get("restart")["metadata"]["resourceVersion"] == version, "something wrote while it was down"
        stack.controller = stack.new_controller("controller-2").start()
        steps: list[int] = []

        def done() -> bool:
            rollout = stack.rollout("restart", "b0")
            steps.append(rollout.get("step", -1))
            return rollout.get("phase") == "Succeeded"

        wait_for("the rollout to finish after the restart", done, 60)
    assert min(steps) >= 1, f"the restarted controller went back to an earlier step: {steps}"
    after = stack.rollout("restart", "b0")
    assert after["started"] == before["started"], "the same rollout resumed; it did not start over"


def test_invalid_update_is_refused_and_the_previous_weights_stay(stack: Stack) -> None:
    stack.apply(stack.route("invalid"))
    _steady(stack, "invalid")
    bad = stack.route("invalid")
    bad["spec"]["backends"][0]["weight"] = 150
    done = stack.apiserver.kubectl(
        "apply",
        "--server-side",
        "--field-manager=airoute-tests",
        "--force-conflicts",
        "-f",
        "-",
        input=_yaml(bad),
        check=False,
    )
    assert done.returncode != 0
    assert "spec.backends[0].weight" in done.stderr
    time.sleep(2)
    assert stack.weights("invalid") == {"b0": 50, "b1": 30, "b2": 20}
    assert stack.condition("invalid", "Ready")["status"] == "True"


def _yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc)


def test_drill_from_the_cli_takes_a_backend_out_and_reports(stack: Stack, tmp_path: Path) -> None:
    stack.apply(stack.route("drill"))
    with stack.load("drill"):
        _steady(stack, "drill")
        cli = [sys.executable, "-m", "airoute.cli", "drill", "start", f"{stack.namespace}/drill", "b2", "--for", "4s"]
        done = subprocess.run(cli, env=stack.env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        wait_for("b2 out for the drill", lambda: stack.weights("drill").get("b2") == 0, 20)
        drill = wait_for(
            "the drill report",
            lambda: next((d for d in stack.status("drill").get("drills", []) if d["phase"] == "Completed"), None),
            40,
        )
    assert drill["backend"] == "b2" and drill["weightShiftedAfter"] is not None
    assert drill["clientErrors"] == 0, "clients saw no failure while b2 was out (Prometheus-counted)"
    report = subprocess.run(
        [sys.executable, "-m", "airoute.cli", "drill", "report", f"{stack.namespace}/drill"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "b2: Completed" in report.stdout
    assert "DrillCompleted" in {e["reason"] for e in stack.events("drill")}
