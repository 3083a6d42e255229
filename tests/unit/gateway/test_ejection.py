"""Local ejection after consecutive failures, on a fake clock."""

from __future__ import annotations

from airoute.gateway.failover.ejection import Ejector
from tests.support.fakes import FakeClock


def test_ejection_after_consecutive_failures_and_return_after_eject_for() -> None:
    clock = FakeClock()
    ej = Ejector(clock)
    names = ("a", "b")
    assert not ej.failure("r", "a", 3, 60, names)
    assert not ej.failure("r", "a", 3, 60, names)
    assert ej.failure("r", "a", 3, 60, names)
    assert "a" in ej.excluded("r")
    clock.t += 59.9
    assert "a" in ej.excluded("r")
    clock.t += 0.2
    assert "a" not in ej.excluded("r")


def test_a_success_resets_the_streak() -> None:
    ej = Ejector(FakeClock())
    ej.failure("r", "a", 2, 60, ("a", "b"))
    ej.success("r", "a")
    assert not ej.failure("r", "a", 2, 60, ("a", "b"))


def test_the_last_usable_backend_is_never_ejected() -> None:
    ej = Ejector(FakeClock())
    assert ej.failure("r", "a", 1, 60, ("a", "b"))
    for _ in range(10):
        assert not ej.failure("r", "b", 1, 60, ("a", "b"))
    assert set(ej.excluded("r")) == {"a"}


def test_a_single_backend_route_never_ejects() -> None:
    ej = Ejector(FakeClock())
    assert not any(ej.failure("r", "only", 1, 60, ("only",)) for _ in range(5))
    assert not ej.excluded("r")
