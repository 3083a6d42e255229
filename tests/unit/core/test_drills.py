from __future__ import annotations

from airoute.api import DrillStatus
from airoute.core import step_drills, to_rfc3339

from .factories import T0

END = T0 + 300


def test_drill_starts_with_an_event() -> None:
    drills, events = step_drills([], {"azure-eu": END}, {"azure-eu": 0, "bedrock-eu": 100}, {}, None, T0)
    assert drills == [
        DrillStatus(
            backend="azure-eu", phase="Running", started=to_rfc3339(T0), until=to_rfc3339(END), weight_shifted_after=0.0
        )
    ]
    assert [(e.reason, e.backend) for e in events] == [("DrillStarted", "azure-eu")]
    assert events[0].message == "outage drill of azure-eu started: forced out until 2026-11-22T10:05:00Z"


def test_unknown_backend_and_past_drills_are_ignored() -> None:
    assert step_drills([], {"nope": END, "azure-eu": T0 - 1}, {"azure-eu": 50}, {}, None, T0) == ([], ())


def test_weight_shifted_after_is_measured_from_the_start() -> None:
    running = DrillStatus(backend="azure-eu", phase="Running", started=to_rfc3339(T0), until=to_rfc3339(END))
    [d], _ = step_drills([running], {"azure-eu": END}, {"azure-eu": 12}, {}, None, T0 + 15)
    assert d.weight_shifted_after is None
    [d], _ = step_drills([d], {"azure-eu": END}, {"azure-eu": 0}, {}, None, T0 + 30)
    assert d.weight_shifted_after == 30.0
    [d], _ = step_drills([d], {"azure-eu": END}, {"azure-eu": 0}, {}, None, T0 + 45)
    assert d.weight_shifted_after == 30.0


def test_runs_until_full_weight_is_back_then_completes_with_a_report() -> None:
    running = DrillStatus(
        backend="azure-eu", phase="Running", started=to_rfc3339(T0), until=to_rfc3339(END), weight_shifted_after=0.0
    )
    [d], events = step_drills([running], {"azure-eu": END}, {"azure-eu": 5}, {"azure-eu": False}, 3, END + 30)
    assert (d.phase, d.client_errors, events) == ("Running", 3, ())
    [d], events = step_drills([d], {"azure-eu": END}, {"azure-eu": 50}, {"azure-eu": True}, 4, END + 120)
    assert (d.phase, d.recovered_after, d.client_errors) == ("Completed", 120.0, 4)
    assert [e.message for e in events] == [
        "outage drill of azure-eu completed: traffic shifted away after 0s, "
        "full weight back 120s after the drill ended, 4 client-visible errors",
    ]


def test_a_completed_drill_is_not_started_again_while_the_annotation_stays() -> None:
    done = DrillStatus(
        backend="azure-eu",
        phase="Completed",
        started=to_rfc3339(T0),
        until=to_rfc3339(END),
        weight_shifted_after=0.0,
        recovered_after=90.0,
    )
    assert step_drills([done], {"azure-eu": END}, {"azure-eu": 50}, {"azure-eu": True}, None, T0 + 60) == ([done], ())


def test_history_is_bounded() -> None:
    old = [
        DrillStatus(backend="azure-eu", phase="Completed", started=to_rfc3339(T0 + i), until=to_rfc3339(T0 + i + 1))
        for i in range(16)
    ]
    drills, _ = step_drills(old, {"bedrock-eu": END + 1000}, {"azure-eu": 50, "bedrock-eu": 50}, {}, None, END)
    assert len(drills) == 16
    assert drills[-1].backend == "bedrock-eu"
    assert drills[0].started == to_rfc3339(T0 + 1)


def test_a_shift_in_the_starting_evaluation_is_0s_never_minus_0s() -> None:
    """The start is stored to the millisecond, rounded: it can be a little after ``now`` (issue 18.9)."""
    now = T0 + 0.0006
    [d], _ = step_drills([], {"azure-eu": END}, {"azure-eu": 0}, {}, None, now)
    assert str(d.weight_shifted_after) == "0.0"
    [d], events = step_drills([d], {"azure-eu": END}, {"azure-eu": 50}, {"azure-eu": True}, None, END + 10)
    assert "traffic shifted away after 0s," in events[0].message
