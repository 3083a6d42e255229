"""The demo's story, phase by phase, with what was measured along the way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from airoute.api import AIRouteStatus, DrillStatus
from airoute.core.clock import to_rfc3339
from airoute.demo.load import Load
from airoute.demo.world import BEDROCK_CANARY, World
from airoute.emulators import Faults


class DemoError(RuntimeError):
    """A phase did not reach its expected state in time; the message says which and what was seen."""


@dataclass(frozen=True)
class Sample:
    at: float
    weights: dict[str, int]
    error_rates: dict[str, float]
    canary: dict[str, int]
    rps: float
    failed_ps: float


@dataclass
class Findings:
    """What the scenario showed, in numbers."""

    started: float = field(default_factory=time.time)
    samples: list[Sample] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    short_markers: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    failover_seconds: float | None = None
    outage_client_errors: int | None = None
    recovery_seconds: float | None = None
    rollback_seconds: float | None = None
    rollback_message: str = ""
    canary_weight_after: int | None = None
    drill: DrillStatus | None = None
    phase: str = "starting"


class Story:
    """Plays the phases against a started :class:`World` while clients send traffic."""

    def __init__(self, world: World, load: Load, say: Callable[[str], None]) -> None:
        self.world = world
        self.load = load
        self.say = say
        self.findings = Findings()

    def mark(self, label: str, short: str = "") -> float:
        now = time.time()
        self.findings.markers.append((now, label))
        self.findings.short_markers.append((now, short or label))
        self.findings.phase = label
        self.say(label)
        return now

    def sample(self) -> None:
        status = self.world.status()
        now = time.time()
        rps, failed = self.load.tally.rate(now)
        rates = {b.name: b.error_rate or 0.0 for b in status.backends}
        self.findings.samples.append(Sample(now, dict(status.weights), rates, dict(status.canary_weights), rps, failed))

    async def until(self, what: str, check: Callable[[AIRouteStatus], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.world.status()):
                return time.time()
            await asyncio.sleep(0.1)
        status = self.world.status()
        raise DemoError(f"{what}: not reached within {timeout:.0f}s (weights now: {status.weights_summary})")

    async def run(self) -> Findings:
        t = self.world.timing
        f = self.findings
        self.mark("steady traffic across Azure OpenAI, Bedrock and Vertex AI", "steady")
        await self.until("initial weights", lambda s: s.weights.get("azure-eu") == 50, 30)
        await asyncio.sleep(t.steady)

        down = self.mark("Azure OpenAI fails hard (connections refused)", "Azure down")
        await self.world.azure.set_faults(Faults(down="refuse"))
        shifted = await self.until("azure-eu's weight to 0", lambda s: s.weights.get("azure-eu") == 0, 40)
        f.failover_seconds = shifted - down
        await asyncio.sleep(t.hold)
        f.outage_client_errors = self.load.tally.failed_between(down, time.time())

        back = self.mark("Azure OpenAI recovers: the controller ramps it back in", "Azure back")
        await self.world.azure.set_faults()
        full = await self.until("azure-eu back at full weight", lambda s: s.weights.get("azure-eu") == 50, 60)
        f.recovery_seconds = full - back

        start = self.mark("a new Bedrock model version rolls out as a canary, and misbehaves", "bad canary")
        await self.world.bedrock.set_faults(Faults(error_rate=0.6, model=BEDROCK_CANARY))
        self.world.write_route(self.world.route(bedrock_model=BEDROCK_CANARY))
        rolled = await self.until("the canary to be rolled back", _rolled_back, 60)
        f.rollback_seconds = rolled - start
        status = self.world.status()
        rollout = status.rollout("bedrock-eu")
        f.rollback_message = rollout.message if rollout else ""
        f.canary_weight_after = status.canary_weights.get("bedrock-eu", 0)
        await asyncio.sleep(t.hold)

        self.mark("an outage drill takes Vertex AI out", "Vertex drill")
        doc = self.world.read_route()
        until = to_rfc3339(time.time() + t.drill_for)
        doc["metadata"].setdefault("annotations", {})["drill.airoute.dev/vertex-eu"] = until
        self.world.write_route(doc)
        await self.until("the drill report", _drill_done, 60)
        f.drill = next(d for d in self.world.status().drills if d.backend == "vertex-eu")
        self.mark("done", "done")
        return f


def _rolled_back(status: AIRouteStatus) -> bool:
    rollout = status.rollout("bedrock-eu")
    return rollout is not None and rollout.phase == "RolledBack"


def _drill_done(status: AIRouteStatus) -> bool:
    return any(d.backend == "vertex-eu" and d.phase == "Completed" for d in status.drills)
