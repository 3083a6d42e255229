"""The demo's live view and ending driven by a script instead of servers (run in a pty by a test).

``python -m tests.unit.demo.scripted_view`` draws the real :class:`LiveScreen` and
:func:`render` through every phase of the story, while doing what tore the view before: the
controller logging each decision (logging configured as ``airoute`` does it), another library
logging a warning, a Python warning, stray writes to stdout and stderr, a canary appearing. Then
it prints the real ending. It needs a terminal; everything it shows is synthetic but the code
that shows it is the demo's own.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

from rich.console import Console, RenderableType

from airoute.api import AIRouteStatus
from airoute.api.status import DrillStatus
from airoute.controller.decisions import log_decision
from airoute.core.events import Event
from airoute.demo.ending import ending
from airoute.demo.load import Seen, Tally
from airoute.demo.scenario import PHASES, Findings, Mark
from airoute.demo.terminal import LiveScreen
from airoute.demo.view import Frame, render

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama")
STORY = (  # per phase: weights, the canary's share of bedrock-eu, azure-eu's health, a decision
    ({"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}, 0, "Healthy", None),
    ({"azure-eu": 0, "bedrock-eu": 60, "vertex-eu": 40, "local-llama": 0}, 0, "Unhealthy", "BackendEjected"),
    ({"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}, 0, "Healthy", "BackendRecovered"),
    ({"azure-eu": 25, "bedrock-eu": 45, "vertex-eu": 30, "local-llama": 0}, 0, "Degraded", "BackendDegraded"),
    ({"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}, 10, "Healthy", "CanaryRolledBack"),
    ({"azure-eu": 63, "bedrock-eu": 37, "vertex-eu": 0, "local-llama": 0}, 0, "Healthy", "DrillCompleted"),
)
STEPS_PER_PHASE = 4


def status(weights: dict[str, int], canary: int, azure: str) -> AIRouteStatus:
    backends = [
        {
            "name": name,
            "health": azure if name == "azure-eu" else ("Unknown" if name == "local-llama" else "Healthy"),
            "reason": "Measured",
            "message": "error rate, latency and throttling within thresholds",
            "errorRate": 1.0 if name == "azure-eu" and azure == "Unhealthy" else 0.0,
            "latencyP95": 0.07,
        }
        for name in BACKENDS
    ]
    doc = {"weights": weights, "backends": backends, "canaryWeights": {"bedrock-eu": canary} if canary else {}}
    return AIRouteStatus.model_validate(doc)


def measured(findings: Findings) -> Findings:
    """The figures of a run that went as promised (the ending's tests use them too)."""
    findings.failover_seconds, findings.outage_client_errors = 4.5, 0
    findings.recovery_seconds, findings.rollback_seconds = 6.1, 7.8
    findings.rollback_message = "canary error rate 0.64 > 0.05 (2 failed checks)"
    findings.canary_weight_after = 0
    findings.drill = DrillStatus(
        backend="vertex-eu",
        phase="Completed",
        started="",
        until="",
        weight_shifted_after=-0.0,
        recovered_after=3.1,
        client_errors=0,
    )
    return findings


def decide(screen: LiveScreen, reason: str, message: str) -> None:
    """What the folder controller does for each decision: log it, then report it."""
    log_decision("support/support-chat", Event("Normal", reason, message), {}, {})
    screen.feed.decision(time.time(), reason, message, warning=reason == "BackendEjected")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    console = Console()
    assert console.is_terminal, "run me in a terminal"
    findings, tally = Findings(), Tally()
    current = {"status": status(*STORY[0][:3])}

    def draw(width: int, height: int) -> RenderableType:
        frame = Frame(time.time(), findings, current["status"], tally, screen.feed.lines, "support/support-chat")
        return render(frame, width, height)

    screen = LiveScreen(console, draw)
    with screen:
        for n, (phase, (weights, canary, azure, reason)) in enumerate(zip(PHASES, STORY, strict=True)):
            findings.marks.append(Mark(time.time(), phase))
            for step in range(STEPS_PER_PHASE):
                current["status"] = status(weights, canary, azure)
                for _ in range(40):
                    tally.add(time.time(), Seen(), 0.05)
                decide(screen, "WeightChanged", f"weight of bedrock-eu {step}→{step + 1}: rebalanced")
                if step == 1 and reason is not None:
                    decide(screen, reason, f"phase {n + 1}: {phase.title}")
                if n == 1 and step == 2:
                    logging.getLogger("botocore.credentials").warning("a library's warning, step %d", step)
                    warnings.warn("a Python warning", UserWarning, stacklevel=1)
                    print("a stray print to stdout")
                    sys.stderr.write("a stray write to stderr\n")
                screen.refresh()
                time.sleep(0.12)
            findings.outcomes[phase.key] = f"outcome of phase {n + 1}"
        screen.refresh()
    measured(findings)
    files = (Path("demo-output/timeline.png"), Path("demo-output/report.md"), Path("/tmp/airoute-demo-scripted"))
    console.print(ending(findings, tally, files, 42.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
