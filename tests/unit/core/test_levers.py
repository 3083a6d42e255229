"""Which manual levers are spent (issue 18.2): one rule per case."""

from __future__ import annotations

import pytest

from airoute.api import AIRouteStatus, DrillStatus, RolloutStatus
from airoute.api.levers import ABORT, PROMOTE, gate_value, names_rollout
from airoute.core import to_rfc3339
from airoute.core.levers import spent_levers

from .factories import T0

STARTED = to_rfc3339(T0)


def rollout(phase: str, canary: str = "c1", started: str = STARTED) -> RolloutStatus:
    return RolloutStatus(
        backend="b", kind="Change", phase=phase, step=0, canary_weight=5, stable_hash="s0", canary_hash=canary,
        started=started, step_started=started,
    )


def drill(phase: str, until: float) -> DrillStatus:
    return DrillStatus(backend="b", phase=phase, started=STARTED, until=to_rfc3339(until))


@pytest.mark.parametrize(
    ("value", "rollouts", "spent"),
    [
        (gate_value("c1", STARTED), [rollout("Progressing")], False),
        ("c1", [rollout("Paused")], False),
        (gate_value("c1", STARTED), [rollout("Aborted")], True),  # acted on
        (gate_value("c1", STARTED), [rollout("Succeeded")], True),
        (gate_value("c1", STARTED), [], True),  # its rollout is gone (reverted)
        (gate_value("c1", STARTED), [rollout("Progressing", started=to_rfc3339(T0 + 60))], True),  # a later run
        ("c0", [rollout("Progressing")], True),  # another canary
    ],
)
def test_a_gate_is_spent_when_it_names_no_running_rollout(value: str, rollouts: list[RolloutStatus],
                                                           spent: bool) -> None:
    status = AIRouteStatus(rollouts=rollouts)
    for key in (PROMOTE, ABORT):
        assert spent_levers({key: value, "other": "x"}, status, T0) == ({key: value} if spent else {})


def test_a_gate_names_one_run_of_a_canary() -> None:
    assert names_rollout(gate_value("c1", STARTED), "c1", STARTED)
    assert not names_rollout(gate_value("c1", STARTED), "c1", to_rfc3339(T0 + 60))
    assert names_rollout(" c1 ", "c1", to_rfc3339(T0 + 60))  # a bare hash by hand: the running one
    assert not names_rollout("", "c1", STARTED)


@pytest.mark.parametrize(
    ("until", "drills", "now", "spent"),
    [
        (T0 + 60, [drill("Running", T0 + 60)], T0 + 10, False),  # running
        (T0 + 60, [drill("Running", T0 + 60)], T0 + 70, False),  # ended, ramping back: no report yet
        (T0 + 60, [drill("Completed", T0 + 60)], T0 + 70, True),  # reported
        (T0 + 60, [], T0 + 70, True),  # ended before it was ever seen
        (T0 + 60, [], T0 + 10, False),  # not started yet
    ],
)
def test_a_drill_is_spent_once_ended_and_reported(until: float, drills: list[DrillStatus], now: float,
                                                   spent: bool) -> None:
    annotations = {"drill.airoute.dev/b": to_rfc3339(until)}
    assert spent_levers(annotations, AIRouteStatus(drills=drills), now) == (annotations if spent else {})


def test_an_unreadable_drill_is_left_for_a_person() -> None:
    assert spent_levers({"drill.airoute.dev/b": "tomorrow"}, AIRouteStatus(), T0) == {}
