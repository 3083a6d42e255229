"""Saturation judged by what is scarce (issue 16.7): pressures, the highest one, the cgroup limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from airoute.core.shedding import shed_by_pressure
from airoute.gateway.admission import Admission
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.overload import FD_RESERVE, LAG_SAMPLES, Overload, cgroup_memory_limit


def test_a_lasting_lag_raises_the_pressure_a_single_pause_does_not_shed() -> None:
    overload = Overload(1.0, None, lambda: 0, file_limit=1 << 20)
    overload.observe_lag(5.0)  # one pause of five seconds (a full collection, an import …)
    assert overload.lag == 0.0 and not shed_by_pressure(overload.pressure()[0], "best-effort")
    for _ in range(LAG_SAMPLES):
        overload.observe_lag(0.9)
    pressure, resource = overload.pressure()
    assert resource == "event_loop_lag" and pressure == pytest.approx(0.9)
    assert shed_by_pressure(pressure, "best-effort") and shed_by_pressure(pressure, "standard")
    assert not shed_by_pressure(pressure, "critical")
    overload.observe_lag(0.0)  # the loop caught up
    assert overload.lag == 0.0


def test_the_scarcest_resource_decides() -> None:
    overload = Overload(1.0, 1000, lambda: 900 - FD_RESERVE, file_limit=1000)
    overload.observe_memory(500)
    assert overload.pressure() == (pytest.approx(0.9), "file_descriptors")
    overload.observe_memory(990)
    assert overload.pressure() == (pytest.approx(0.99), "memory")


def test_thousands_of_idle_streams_are_not_saturation() -> None:
    """3,000 open streams hold 6,000 sockets: far from a million files, and the loop is idle."""
    admission = Admission(0, GatewayMetrics(), Overload(1.0, None, lambda: 6000, file_limit=1 << 20))
    for _ in range(3000):
        assert admission.admit("best-effort") is None
    assert admission.in_flight == 3000


def test_a_refusal_names_the_resource() -> None:
    overload = Overload(1.0, None, lambda: 0, file_limit=1 << 20)
    for _ in range(LAG_SAMPLES):
        overload.observe_lag(0.8)
    admission = Admission(0, GatewayMetrics(), overload)
    assert admission.admit("best-effort") == "event-loop lag at 80% of its limit"
    assert admission.admit("critical") is None
    assert admission.metrics.shed.get(("best-effort",)) == 1


@pytest.mark.parametrize(("files", "limit"), [
    ({"memory.max": "1073741824\n"}, 1 << 30),
    ({"memory.max": "max\n"}, None),
    ({"memory/memory.limit_in_bytes": "536870912\n"}, 1 << 29),
    ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # cgroup v1's "no limit"
    ({}, None),
])
def test_the_container_memory_limit_is_read_from_its_cgroup(tmp_path: Path, files: dict[str, str],
                                                            limit: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_memory_limit(tmp_path) == limit
