"""The manual levers apply once, to the canary or drill they name, and the controller clears them
(issue 18.2). Real API server, gateway, Prometheus and ``airoute controller`` process; the levers
set through ``airoute abort|promote|drill``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]

ABORT, PROMOTE, DRILL = "airoute.dev/abort", "airoute.dev/promote", "drill.airoute.dev/b2"


@pytest.fixture(scope="module")
def stack(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    logs = tmp_path_factory.mktemp("gates-logs")
    s = Stack(apiserver, "gates", logs).start()
    try:
        yield s
    finally:
        s.close()
        log = logs / "controller.log"
        if log.exists():
            print(f"--- controller log (tail) ---\n{log.read_text(errors='replace')[-4000:]}")


def _cli(stack: Stack, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "airoute.cli", *argv], env=stack.env, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _set_model(stack: Stack, name: str, model: str) -> None:
    route = stack.route(name)
    route["spec"]["backends"][1]["openAICompatible"]["model"] = model
    stack.apply(route)


def _annotations(stack: Stack, name: str) -> dict[str, str]:
    return dict(stack.get(name)["metadata"].get("annotations") or {})


def _phase(stack: Stack, name: str) -> str | None:
    phase: str | None = stack.rollout(name, "b1").get("phase")
    return phase


def test_an_abort_is_spent_on_its_canary_and_never_fires_again(stack: Stack) -> None:
    """Abort a canary, revert to stable, apply the same new block again: the new canary runs."""
    name = "gated"
    stack.apply(stack.route(name))
    wait_for(f"{name} at its declared weights", lambda: stack.weights(name) == {"b0": 50, "b1": 30, "b2": 20})
    _set_model(stack, name, "m1-new")
    wait_for("the canary of b1", lambda: _phase(stack, name) == "Progressing")
    _cli(stack, "abort", f"{stack.namespace}/{name}", "--backend", "b1")
    wait_for("the abort", lambda: _phase(stack, name) == "Aborted")
    wait_for("the spent abort gate to be cleared", lambda: ABORT not in _annotations(stack, name))

    _set_model(stack, name, "m1")
    wait_for("the rollout to be cleared by the revert", lambda: not stack.rollout(name, "b1"))
    _set_model(stack, name, "m1-new")
    # Analysed at least once after it started (Inconclusive: no traffic) and still running: a stale
    # gate would have aborted it at the first evaluation after its start.
    analysed = wait_for(
        "the same canary, started again, to be analysed",
        lambda: (r := stack.rollout(name, "b1")).get("lastVerdict") and r,
    )
    assert (analysed["phase"], analysed["lastVerdict"]) == ("Progressing", "Inconclusive")
    assert [e["reason"] for e in stack.events(name)].count("CanaryAborted") == 1, "aborted once, by the person"


def test_a_promote_is_cleared_once_acted_on(stack: Stack) -> None:
    name = "promoted"
    stack.apply(stack.route(name))
    wait_for(f"{name} at its declared weights", lambda: stack.weights(name) == {"b0": 50, "b1": 30, "b2": 20})
    _set_model(stack, name, "m1-new")
    wait_for("the canary of b1", lambda: _phase(stack, name) == "Progressing")
    _cli(stack, "promote", f"{stack.namespace}/{name}")
    wait_for("the promotion", lambda: _phase(stack, name) == "Succeeded")
    wait_for("the spent promote gate to be cleared", lambda: PROMOTE not in _annotations(stack, name))


def test_a_finished_drill_is_cleared_and_a_stale_gate_too(stack: Stack) -> None:
    name = "drilled"
    stack.apply(stack.route(name))
    wait_for(f"{name} at its declared weights", lambda: stack.weights(name) == {"b0": 50, "b1": 30, "b2": 20})
    # A gate naming no canary of this route (left over, or set by hand with a typo) is cleared too.
    stack.apiserver.kubectl("annotate", "air", name, "-n", stack.namespace, f"{ABORT}=0123456789abcdef")
    _cli(stack, "drill", "start", f"{stack.namespace}/{name}", "b2", "--for", "2s")
    wait_for("the stale gate to be cleared", lambda: ABORT not in _annotations(stack, name))
    wait_for(
        "the drill to complete",
        lambda: any(d["phase"] == "Completed" for d in stack.status(name).get("drills", [])),
        60,
    )
    wait_for("the finished drill's annotation to be cleared", lambda: DRILL not in _annotations(stack, name))
    assert "b2: Completed" in _cli(stack, "drill", "report", f"{stack.namespace}/{name}")
