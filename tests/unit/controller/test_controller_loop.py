"""The controller's loop without Kopf: annotations, batching, status files, invalid updates."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from airoute.api import parse_route
from airoute.controller.evaluator import Evaluator
from airoute.controller.folder_loop import FolderController
from airoute.controller.kubestore import status_patch
from airoute.controller.loop import EvaluationLoop
from airoute.controller.observe import drills, observe
from airoute.core.clock import to_rfc3339
from airoute.core.events import Event
from airoute.ports import MetricsSnapshot
from tests.support.fakes import FakeClock, ScriptedMetrics
from tests.support.paths import EXAMPLES

ROUTE: dict[str, Any] = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
T0 = 1_800_000_000.0


def healthy(metrics: ScriptedMetrics) -> None:
    for b in ("azure-eu", "bedrock-eu", "vertex-eu"):
        metrics.set(("support", "support-chat", b, "stable"), 500, 0)


def test_status_patch_deletes_vanished_keys() -> None:
    old = {"weights": {"a": 50, "b": 50}, "canaryWeights": {"a": 5}, "weightsSummary": "a=50 b=50"}
    new = {"weights": {"a": 100}, "weightsSummary": "a=100"}
    assert status_patch(old, new) == {
        "weights": {"b": None, "a": 100},
        "canaryWeights": None,
        "weightsSummary": "a=100",
    }


def test_drill_annotations_parse_and_ignore_garbage() -> None:
    ann = {"drill.airoute.dev/vertex-eu": to_rfc3339(T0 + 600), "drill.airoute.dev/x": "soon", "other": "1"}
    assert drills(ann, T0) == {"vertex-eu": T0 + 600}


def test_stale_promote_annotation_does_not_promote() -> None:
    obj = copy.deepcopy(ROUTE)
    obj["metadata"]["annotations"] = {"airoute.dev/promote": "not-the-canary"}
    route = parse_route(obj)
    assert observe(route, MetricsSnapshot(available=True), {}, T0).promote is False


async def test_one_metrics_read_per_cycle_for_all_routes() -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    evaluator = Evaluator(metrics, clock)
    outcomes = await evaluator.cycle(_routes(25))
    assert len(outcomes) == 25
    assert len(metrics.calls) == 1 and len(metrics.calls[0]) == 25


def _routes(n: int, interval: str = "15s") -> list[dict[str, Any]]:
    objs = []
    for i in range(n):
        obj = copy.deepcopy(ROUTE)
        obj["metadata"]["name"] = f"route-{i}"
        obj["metadata"]["generation"] = 1
        obj["spec"]["model"] = f"model-{i}"  # one owner per model (core/ownership.py)
        obj["spec"]["health"]["interval"] = interval
        objs.append(obj)
    return objs


async def _cycle(evaluator: Evaluator, objs: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    """One cycle whose statuses are stored back into ``objs``; the keys decided."""
    outcomes = await evaluator.cycle(objs, **kwargs)
    by_key = {o.key: o for o in outcomes}
    for obj in objs:
        decided = by_key.get(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
        if decided is not None and decided.decision is not None and decided.changed:
            obj["status"] = decided.decision.status.to_wire()
    return [o.key for o in outcomes]


async def test_only_due_routes_are_evaluated_and_asked_for() -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    evaluator = Evaluator(metrics, clock)
    objs = _routes(3)
    assert len(await _cycle(evaluator, objs)) == 3
    clock.t += 5
    assert await _cycle(evaluator, objs) == [], "nothing is due before its interval"
    objs[1]["metadata"]["generation"] = 2  # a new spec is due at once
    objs[2]["metadata"]["annotations"] = {"drill.airoute.dev/azure-eu": to_rfc3339(clock.t + 60)}
    assert await _cycle(evaluator, objs) == ["support/route-1", "support/route-2"]
    assert [q.route for q in metrics.calls[-1]] == ["route-1", "route-2"]
    clock.t += 10
    assert await _cycle(evaluator, objs) == ["support/route-0"]
    evaluator.forget("support/route-1")
    assert await _cycle(evaluator, objs) == ["support/route-1"], "a forgotten route is due"
    objs[2]["status"]["observedGeneration"] = 7
    assert await _cycle(evaluator, objs) == ["support/route-2"], "a status about another spec is due"


async def test_a_wake_up_between_ticks_reuses_the_fresh_signals() -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    evaluator = Evaluator(metrics, clock)
    objs = _routes(2)
    await _cycle(evaluator, objs)
    assert len(metrics.calls) == 1
    clock.t += 2
    objs[0]["metadata"]["generation"] = 2
    assert await _cycle(evaluator, objs, max_signal_age=5) == ["support/route-0"]
    assert len(metrics.calls) == 1, "read 2 s ago: young enough"
    clock.t += 4
    objs[0]["metadata"]["generation"] = 3
    await _cycle(evaluator, objs, max_signal_age=5)
    assert len(metrics.calls) == 2, "read 6 s ago: read again"


def _write(folder: Path, obj: dict[str, Any]) -> Path:
    path = folder / "support-chat.yaml"
    path.write_text(yaml.safe_dump(obj))
    return path


def _status(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "support.support-chat.status.yaml").read_text())  # type: ignore[no-any-return]


async def test_folder_outage_then_invalid_update_keeps_last_good_weights(tmp_path: Path) -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    seen: list[str] = []
    ctl = FolderController(tmp_path, Evaluator(metrics, clock), on_event=lambda k, e: seen.append(e.reason))
    _write(tmp_path, ROUTE)
    healthy(metrics)
    await ctl.once()
    assert _status(tmp_path)["weights"] == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    metrics.set(("support", "support-chat", "azure-eu", "stable"), 500, 400)  # Azure fails hard
    for _ in range(3):
        clock.t += 15
        await ctl.once()
    shifted = _status(tmp_path)["weights"]
    assert shifted["azure-eu"] == 0 and sum(shifted.values()) == 100
    broken = copy.deepcopy(ROUTE)
    broken["spec"]["backends"][1]["weight"] = 250
    _write(tmp_path, broken)
    clock.t += 15
    await ctl.once()
    status = _status(tmp_path)
    assert status["weights"] == shifted, "an invalid update must leave the last good routing in force"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InvalidSpec"
    assert "spec.backends[1].weight" in ready["message"]
    assert "InvalidSpec" in seen


async def test_prometheus_gap_changes_nothing(tmp_path: Path) -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    ctl = FolderController(tmp_path, Evaluator(metrics, clock))
    _write(tmp_path, ROUTE)
    healthy(metrics)
    await ctl.once()
    before = _status(tmp_path)["weights"]
    metrics.available = False
    clock.t += 15
    await ctl.once()
    status = _status(tmp_path)
    assert status["weights"] == before
    cond = next(c for c in status["conditions"] if c["type"] == "MetricsAvailable")
    assert cond["status"] == "False" and "unavailable" in cond["message"]


async def test_unreadable_file_is_reported_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "broken.yaml").write_text("spec: [unclosed")
    _write(tmp_path, ROUTE)
    metrics = ScriptedMetrics()
    healthy(metrics)
    outcomes = await FolderController(tmp_path, Evaluator(metrics, FakeClock(T0))).once()
    assert [o.key for o in outcomes] == ["support/support-chat"]
    assert "broken.yaml: cannot read YAML" in caplog.text


def _sample(text: str, name: str, namespace: str | None = "support", route: str | None = "support-chat",
            **labels: str) -> float:
    """The value of the one sample ``name`` with these labels in an exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {**labels, **({"namespace": namespace, "route": route} if namespace else {})}
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in wanted.items())
    ]
    assert len(found) == 1, (name, wanted, found)
    return found[0]


async def test_controller_metrics_follow_the_decisions(tmp_path: Path) -> None:
    from prometheus_client import generate_latest

    from airoute.controller.metrics import ControllerMetrics

    metrics, clock, telemetry = ScriptedMetrics(), FakeClock(T0), ControllerMetrics()
    ctl = FolderController(tmp_path, Evaluator(metrics, clock, telemetry=telemetry))
    _write(tmp_path, ROUTE)
    healthy(metrics)
    metrics.set(("support", "support-chat", "azure-eu", "stable"), 500, 400)
    for _ in range(3):
        await ctl.once()
        clock.t += 15
    text = generate_latest(telemetry.registry).decode()
    assert 'airoute_backend_effective_weight{backend="azure-eu",cloud="azure",namespace="support"' in text
    assert "airoute_controller_metrics_available 1.0" in text
    azure = {"backend": "azure-eu", "provider": "azureOpenAI", "cloud": "azure"}
    assert _sample(text, "airoute_backend_effective_weight", **azure) == 0
    assert _sample(text, "airoute_backend_health", **azure, health="Unhealthy") == 1
    assert _sample(text, "airoute_backend_health", **azure, health="Healthy") == 0
    assert _sample(text, "airoute_route_clouds") == 4
    assert _sample(text, "airoute_controller_evaluation_seconds_count", namespace=None, route=None) == 3



async def test_controller_metrics_drop_stale_and_deleted_series(tmp_path: Path) -> None:
    from prometheus_client import generate_latest

    from airoute.controller.metrics import ControllerMetrics

    metrics, clock, telemetry = ScriptedMetrics(), FakeClock(T0), ControllerMetrics()
    ctl = FolderController(tmp_path, Evaluator(metrics, clock, telemetry=telemetry))
    _write(tmp_path, ROUTE)
    healthy(metrics)
    await ctl.once()
    changed = copy.deepcopy(ROUTE)
    changed["spec"]["tier"] = "standard"
    changed["spec"]["backends"] = changed["spec"]["backends"][:2]
    _write(tmp_path, changed)
    clock.t += 15
    await ctl.once()
    text = generate_latest(telemetry.registry).decode()
    assert 'tier="critical"' not in text and 'tier="standard"' in text
    assert 'backend="vertex-eu"' not in text, "a removed backend leaves no series"
    telemetry.forget("support", "support-chat")
    assert 'route="support-chat"' not in generate_latest(telemetry.registry).decode()


async def test_a_drill_counts_the_client_errors_seen_since_it_began(tmp_path: Path) -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    ctl = FolderController(tmp_path, Evaluator(metrics, clock))
    _write(tmp_path, ROUTE)
    healthy(metrics)
    metrics.client_errors[("support", "support-chat")] = 40.0  # failures from before the drill
    await ctl.once()
    drilled = copy.deepcopy(ROUTE)
    drilled["metadata"]["annotations"] = {"drill.airoute.dev/vertex-eu": to_rfc3339(clock.t + 20)}
    _write(tmp_path, drilled)
    clock.t += 15
    await ctl.once()
    metrics.client_errors[("support", "support-chat")] = 43.0
    for _ in range(16):  # the drill ends after 20 s; the default ramp back takes 4 x 30 s
        clock.t += 15
        await ctl.once()
    drill = _status(tmp_path)["drills"][0]
    assert drill["phase"] == "Completed"
    assert drill["clientErrors"] == 3.0, "only the errors since the drill began"


class _RefusingStore:
    """A store whose status writes are refused (409) while ``refuse`` is set."""

    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs
        self.refuse = False
        self.events: list[tuple[str, str, str]] = []

    def acting(self) -> bool:
        return True

    def routes(self) -> list[dict[str, Any]]:
        return self.objs

    async def write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        if self.refuse:
            return False
        next(o for o in self.objs if o["metadata"]["name"] == obj["metadata"]["name"])["status"] = dict(status)
        return True

    async def record(self, obj: Mapping[str, Any], event: Event) -> None:
        self.events.append((obj["metadata"]["name"], event.reason, event.message))

    async def clear_levers(self, obj: Mapping[str, Any], levers: Mapping[str, str]) -> None:
        pass


async def test_a_refused_status_write_posts_no_events_and_the_next_cycle_posts_them_once() -> None:
    metrics, clock = ScriptedMetrics(), FakeClock(T0)
    store = _RefusingStore(_routes(1))
    loop = EvaluationLoop(Evaluator(metrics, clock), store, tick=15)
    healthy(metrics)
    await loop.once(force=True)
    metrics.set(("support", "route-0", "azure-eu", "stable"), 500, 500)
    store.events.clear()
    store.refuse = True
    for _ in range(2):  # the API server answers 409 twice: the route changed meanwhile
        clock.t += 15
        await loop.once(force=True)
    assert store.events == [], "an event about a decision that was not stored"
    store.refuse = False
    clock.t += 15
    await loop.once(force=True)
    assert store.events and len(store.events) == len(set(store.events)), store.events
    assert store.objs[0]["status"]["weights"]["azure-eu"] < 50
