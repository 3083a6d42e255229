"""The demo's story, phase by phase, with what was measured along the way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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


@dataclass(frozen=True)
class Phase:
    """One chapter of the story: what a person reads as it happens, and how it is played."""

    key: str
    title: str
    short: str  # the PNG's label
    play: Callable[[Story], Awaitable[str]]  # plays the phase; returns what it showed, in one line


@dataclass(frozen=True)
class Mark:
    at: float
    phase: Phase


@dataclass
class Findings:
    """What the scenario showed, in numbers."""

    started: float = field(default_factory=time.time)
    ended: float | None = None
    samples: list[Sample] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    failover_seconds: float | None = None
    outage_client_errors: int | None = None
    quota_throttled: int | None = None
    quota_client_errors: int | None = None
    recovery_seconds: float | None = None
    rollback_seconds: float | None = None
    rollback_message: str = ""
    canary_weight_after: int | None = None
    drill: DrillStatus | None = None

    @property
    def current(self) -> Mark | None:
        return self.marks[-1] if self.marks else None


class Story:
    """Plays :data:`PHASES` against a started :class:`World` while clients send traffic.

    ``say`` receives each phase's title when it begins and its outcome when it ends.
    """

    def __init__(self, world: World, load: Load, say: Callable[[str], None]) -> None:
        self.world = world
        self.load = load
        self.say = say
        self.findings = Findings()

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
        self.findings.started = time.time()
        for phase in PHASES:
            self.findings.marks.append(Mark(time.time(), phase))
            self.say(phase.title)
            outcome = await phase.play(self)
            self.findings.outcomes[phase.key] = outcome
            self.say(f"  ✓ {outcome}")
        self.findings.ended = time.time()
        return self.findings

    def _began(self) -> float:
        current = self.findings.current
        assert current is not None
        return current.at

    async def steady(self) -> str:
        await self.until("initial weights", lambda s: s.weights.get("azure-eu") == 50, 30)
        await asyncio.sleep(self.world.timing.steady)
        weights = self.world.status().weights
        return "weights " + ", ".join(f"{name} {weight}%" for name, weight in weights.items())

    async def outage(self) -> str:
        f, down = self.findings, self._began()
        await self.world.azure.set_faults(Faults(down="refuse"))
        shifted = await self.until("azure-eu's weight to 0", lambda s: s.weights.get("azure-eu") == 0, 40)
        f.failover_seconds = shifted - down
        await asyncio.sleep(self.world.timing.hold)
        f.outage_client_errors = self.load.tally.failed_between(down, time.time())
        return f"azure-eu's weight at 0 after {f.failover_seconds:.1f} s; {f.outage_client_errors} client errors"

    async def recovery(self) -> str:
        await self.world.azure.set_faults()
        full = await self.until("azure-eu back at full weight", lambda s: s.weights.get("azure-eu") == 50, 60)
        self.findings.recovery_seconds = full - self._began()
        return f"azure-eu back at full weight after {self.findings.recovery_seconds:.1f} s"

    async def quota(self) -> str:
        """Azure's quota runs out: every request gets 429 with Retry-After. The gateway holds it off
        for that long each time and the requests spill to Bedrock and Vertex AI: no client sees it."""
        f, began = self.findings, self._began()
        before = self.world.azure.stats.count(outcome="throttled")
        await self.world.azure.set_faults(Faults(throttle_rate=1.0, retry_after=1.0))
        await asyncio.sleep(self.world.timing.hold)
        await self.world.azure.set_faults()
        f.quota_client_errors = self.load.tally.failed_between(began, time.time())
        f.quota_throttled = self.world.azure.stats.count(outcome="throttled") - before
        await self.until("azure-eu back at full weight", lambda s: s.weights.get("azure-eu") == 50, 60)
        return (f"azure-eu answered 429 {f.quota_throttled} times, each followed by a 1 s hold-off; the rest "
                f"spilled to the others; {f.quota_client_errors} client errors")

    async def bad_canary(self) -> str:
        f = self.findings
        await self.world.bedrock.set_faults(Faults(error_rate=0.6, model=BEDROCK_CANARY))
        self.world.write_route(self.world.route(bedrock_model=BEDROCK_CANARY))
        rolled = await self.until("the canary to be rolled back", _rolled_back, 60)
        f.rollback_seconds = rolled - self._began()
        status = self.world.status()
        rollout = status.rollout("bedrock-eu")
        f.rollback_message = rollout.message if rollout else ""
        f.canary_weight_after = status.canary_weights.get("bedrock-eu", 0)
        await asyncio.sleep(self.world.timing.hold)
        return f"rolled back after {f.rollback_seconds:.1f} s: {f.rollback_message}"

    async def drill(self) -> str:
        doc = self.world.read_route()
        until = to_rfc3339(time.time() + self.world.timing.drill_for)
        doc["metadata"].setdefault("annotations", {})["drill.airoute.dev/vertex-eu"] = until
        self.world.write_route(doc)
        await self.until("the drill report", _drill_done, 60)
        self.findings.drill = next(d for d in self.world.status().drills if d.backend == "vertex-eu")
        return drill_result(self.findings.drill)


PHASES: tuple[Phase, ...] = (
    Phase("steady", "steady traffic across Azure OpenAI, Bedrock and Vertex AI", "steady", Story.steady),
    Phase("outage", "Azure OpenAI fails hard (connections refused)", "Azure down", Story.outage),
    Phase("recovery", "Azure OpenAI recovers: the controller ramps it back in", "Azure back", Story.recovery),
    Phase("quota", "Azure OpenAI's quota runs out (429, Retry-After: 1 s)", "Azure quota", Story.quota),
    Phase("canary", "a new Bedrock model version goes out as a canary, and misbehaves", "bad canary", Story.bad_canary),
    Phase("drill", "an outage drill takes Vertex AI out", "Vertex drill", Story.drill),
)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{max(0.0, value):.1f} s"  # a drill measured in the same cycle reads -0.0


def drill_passed(drill: DrillStatus) -> bool:
    """A drill passes when the traffic left the backend, came back, and no client saw an error."""
    return drill.weight_shifted_after is not None and drill.recovered_after is not None and drill.client_errors == 0


def drill_result(drill: DrillStatus) -> str:
    errors = "—" if drill.client_errors is None else f"{drill.client_errors:g}"
    return (
        f"{'passed' if drill_passed(drill) else 'FAILED'}: traffic away after {_seconds(drill.weight_shifted_after)},"
        f" full weight back {_seconds(drill.recovered_after)} after it ended, {errors} client errors"
    )


def _rolled_back(status: AIRouteStatus) -> bool:
    rollout = status.rollout("bedrock-eu")
    return rollout is not None and rollout.phase == "RolledBack"


def _drill_done(status: AIRouteStatus) -> bool:
    return any(d.backend == "vertex-eu" and d.phase == "Completed" for d in status.drills)
