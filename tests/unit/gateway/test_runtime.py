"""The gateway process's garbage collector settings: frozen loads, observed collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from airoute.gateway import runtime
from airoute.gateway.metrics import GatewayMetrics


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_every_collection_is_observed_by_generation_until_removed() -> None:
    metrics = GatewayMetrics()
    pauses = runtime.GcPauses(metrics.gc_pause.observe)
    pauses.install()
    pauses.install()  # once only
    try:
        gc.collect(2)
        gc.collect(0)
        assert metrics.gc_pause.count(("2",)) == 1 and metrics.gc_pause.count(("0",)) == 1
    finally:
        pauses.remove()
    gc.collect(2)
    assert metrics.gc_pause.count(("2",)) == 1 and pauses not in gc.callbacks


def test_what_was_frozen_while_loading_is_out_of_reach_of_a_full_collection(unfrozen: None) -> None:
    loaded = [[i] for i in range(5000)]
    visited: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            visited.append(len(gc.get_objects(2)))

    runtime.freeze_loading()
    assert gc.get_freeze_count() >= len(loaded)
    gc.callbacks.append(count)
    try:
        gc.collect(2)
    finally:
        gc.callbacks.remove(count)
    assert visited[0] < len(loaded), "the full collection still walks the loaded objects"


def test_the_loaded_heap_is_collected_frozen_and_trimmed(unfrozen: None) -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    collected = gc.get_stats()[2]["collected"]
    runtime.freeze_heap()
    assert gc.get_stats()[2]["collected"] > collected, "the garbage of the load was collected first"
    assert gc.get_freeze_count() > 0 and gc.get_objects(2) == []
    assert runtime.trim_malloc(), "glibc was asked to hand free memory back"
