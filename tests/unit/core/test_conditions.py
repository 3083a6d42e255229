from __future__ import annotations

from airoute.api import Condition
from airoute.core import set_condition, to_rfc3339

from .factories import T0


def test_new_condition_is_appended_with_now() -> None:
    [c] = set_condition([], "Ready", "True", "Serving", "ok", T0, 3)
    assert (c.type, c.status, c.reason, c.last_transition_time, c.observed_generation) == (
        "Ready",
        "True",
        "Serving",
        to_rfc3339(T0),
        3,
    )


def test_same_status_keeps_last_transition_time_but_updates_the_rest() -> None:
    first = set_condition([], "Ready", "True", "Serving", "a=100", T0, 1)
    again = set_condition(first, "Ready", "True", "StandbyServing", "b=100", T0 + 60, 2)
    assert again[0].last_transition_time == to_rfc3339(T0)
    assert (again[0].reason, again[0].message, again[0].observed_generation) == ("StandbyServing", "b=100", 2)


def test_status_change_moves_last_transition_time() -> None:
    first = set_condition([], "Ready", "True", "Serving", "", T0, 1)
    down = set_condition(first, "Ready", "False", "AllBackendsDown", "", T0 + 60, 1)
    assert down[0].last_transition_time == to_rfc3339(T0 + 60)


def test_other_conditions_and_order_are_untouched() -> None:
    old = Condition(
        type="Degraded", status="False", reason="AllBackendsIn", last_transition_time="2026-01-01T00:00:00Z"
    )
    out = set_condition([old], "Ready", "True", "Serving", "", T0, 1)
    out = set_condition(out, "Degraded", "False", "AllBackendsIn", "", T0 + 5, 1)
    assert [c.type for c in out] == ["Degraded", "Ready"]
    assert out[0].last_transition_time == "2026-01-01T00:00:00Z"


def test_identical_inputs_give_identical_conditions() -> None:
    a = set_condition([], "Ready", "True", "Serving", "x", T0, 1)
    assert set_condition(a, "Ready", "True", "Serving", "x", T0 + 999, 1) == a
