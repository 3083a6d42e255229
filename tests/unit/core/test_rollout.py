"""The rollout state machine, one transition per test."""

from __future__ import annotations

import pytest

from airoute.api import Backend, BackendStatus, RolloutPolicy, RolloutStatus
from airoute.core import Gates, Signals, step_rollout, to_rfc3339
from airoute.core.rollout import backend_factor, canary_share, provider_wire

from .factories import BEDROCK, BEDROCK_NEW, BEDROCK_NEWER, T0, backend

POLICY = RolloutPolicy(
    steps=[5, 20, 50, 100], interval="5m", max_error_rate=0.02, max_latency_p95="6s", min_requests=10, failure_limit=2
)
STABLE = Backend.model_validate(backend("bedrock-eu", 30, BEDROCK))
CANARY = Backend.model_validate(backend("bedrock-eu", 30, BEDROCK_NEW))
NEWER = Backend.model_validate(backend("bedrock-eu", 30, BEDROCK_NEWER))
KNOWN = BackendStatus(name="bedrock-eu", provider_hash=STABLE.provider_hash(), provider=provider_wire(STABLE))
GOOD = Signals(requests=100, errors=0, throttled=0, latency_p95=1.0)
BAD = Signals(requests=100, errors=30, throttled=0, latency_p95=1.0)
FEW = Signals(requests=3, errors=0, throttled=0, latency_p95=1.0)
LATER = T0 + 300


def gates(canary: Signals | None = GOOD, available: bool = True, promote: bool = False, abort: bool = False) -> Gates:
    return Gates(canary, available, promote, abort)


def running(step: int = 0, failed: int = 0, phase: str = "Progressing", kind: str = "Change") -> RolloutStatus:
    return RolloutStatus(
        backend="bedrock-eu",
        kind=kind,
        phase=phase,
        step=step,
        canary_weight=POLICY.steps[step],
        stable_hash=STABLE.provider_hash() if kind == "Change" else None,
        canary_hash=CANARY.provider_hash(),
        failed_checks=failed,
        started=to_rfc3339(T0),
        step_started=to_rfc3339(T0),
    )


def advance(
    prev: RolloutStatus | None,
    g: Gates,
    now: float = LATER,
    spec: Backend = CANARY,
    known: BackendStatus | None = KNOWN,
    first: bool = False,
) -> RolloutStatus | None:
    return step_rollout(POLICY, spec, known, prev, g, first=first, now=now).rollout


def test_first_evaluation_adopts_everything_as_stable() -> None:
    out = step_rollout(POLICY, CANARY, None, None, gates(), first=True, now=T0)
    assert (out.rollout, out.stable_hash, out.stable_provider, out.events) == (
        None,
        CANARY.provider_hash(),
        provider_wire(CANARY),
        (),
    )


def test_changed_provider_block_starts_a_canary() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, None, gates(), first=False, now=T0)
    assert out.rollout is not None
    assert (out.rollout.kind, out.rollout.phase, out.rollout.step, out.rollout.canary_weight) == (
        "Change",
        "Progressing",
        0,
        5,
    )
    assert (out.rollout.stable_hash, out.rollout.canary_hash) == (STABLE.provider_hash(), CANARY.provider_hash())
    assert out.stable_hash == STABLE.provider_hash()
    assert [e.reason for e in out.events] == ["CanaryStarted"]


def test_unchanged_block_has_no_rollout() -> None:
    out = step_rollout(POLICY, STABLE, KNOWN, None, gates(), first=False, now=T0)
    assert (out.rollout, out.events) == (None, ())


def test_new_backend_starts_a_canary_of_its_own() -> None:
    out = step_rollout(POLICY, CANARY, None, None, gates(), first=False, now=T0)
    assert out.rollout is not None
    assert (out.rollout.kind, out.rollout.stable_hash, out.stable_hash) == ("NewBackend", None, None)
    assert (backend_factor(out.rollout), canary_share(out.rollout)) == (0.05, 100)


def test_a_new_standby_is_adopted_at_once() -> None:
    standby = CANARY.model_copy(update={"weight": 0})
    out = step_rollout(POLICY, standby, None, None, gates(), first=False, now=T0)
    assert (out.rollout, out.stable_hash) == (None, CANARY.provider_hash())
    assert [e.reason for e in out.events] == ["StandbyAdopted"]


def test_waits_for_the_interval() -> None:
    r = advance(running(), gates(BAD), now=T0 + 299)
    assert r is not None
    assert (r.phase, r.step, r.failed_checks) == ("Progressing", 0, 0)


@pytest.mark.parametrize(("step", "next_weight"), [(0, 20), (1, 50), (2, 100)])
def test_passed_goes_to_the_next_step(step: int, next_weight: int) -> None:
    r = advance(running(step), gates(GOOD))
    assert r is not None
    assert (r.phase, r.step, r.canary_weight, r.last_verdict, r.step_started) == (
        "Progressing",
        step + 1,
        next_weight,
        "Passed",
        to_rfc3339(LATER),
    )


def test_passing_at_100_promotes() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(3), gates(GOOD), first=False, now=LATER)
    assert out.rollout is not None
    assert (out.rollout.phase, out.rollout.canary_weight) == ("Succeeded", 0)
    assert (out.stable_hash, out.stable_provider) == (CANARY.provider_hash(), provider_wire(CANARY))
    assert canary_share(out.rollout) == 0
    assert [e.reason for e in out.events] == ["CanaryPromoted"]


def test_failed_counts_a_failure_and_waits_another_interval() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(1), gates(BAD), first=False, now=LATER)
    r = out.rollout
    assert r is not None
    assert (r.phase, r.step, r.failed_checks, r.step_started) == ("Progressing", 1, 1, to_rfc3339(LATER))
    assert out.events[0].message == "canary of bedrock-eu failed a check at 20%: canary error rate 0.30 > 0.02 (1 of 2)"


def test_failure_limit_rolls_back() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(1, failed=1), gates(BAD), first=False, now=LATER)
    r = out.rollout
    assert r is not None
    assert (r.phase, r.canary_weight, r.failed_checks) == ("RolledBack", 0, 2)
    assert r.message == "canary error rate 0.30 > 0.02 (2 failed checks)"
    assert out.events[0].message == "canary of bedrock-eu rolled back: canary error rate 0.30 > 0.02 (2 failed checks)"
    assert out.stable_hash == STABLE.provider_hash()
    assert canary_share(r) == 0


def test_rolled_back_new_backend_gets_no_weight() -> None:
    r = advance(running(0, failed=1, kind="NewBackend"), gates(BAD), known=None)
    assert r is not None
    assert (r.phase, backend_factor(r)) == ("RolledBack", 0.0)


def test_error_pauses_without_a_step_or_a_failure() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(1), gates(GOOD, False), first=False, now=LATER)
    r = out.rollout
    assert r is not None
    assert (r.phase, r.step, r.failed_checks, r.canary_weight) == ("Paused", 1, 0, 20)
    assert [e.reason for e in out.events] == ["CanaryPaused"]


def test_metrics_gap_pauses_even_before_the_interval() -> None:
    r = advance(running(1), gates(available=False), now=T0 + 10)
    assert r is not None
    assert r.phase == "Paused"


def test_paused_resumes_when_metrics_return() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(1, phase="Paused"), gates(GOOD), first=False, now=LATER)
    assert out.rollout is not None
    assert (out.rollout.phase, out.rollout.step) == ("Progressing", 2)
    assert [e.reason for e in out.events] == ["CanaryResumed", "CanaryStepped"]


@pytest.mark.parametrize(("canary", "count"), [(FEW, "3"), (None, "0")])
def test_inconclusive_stays_at_the_step_without_a_failure(canary: Signals | None, count: str) -> None:
    """Too few canary requests — none at all, no series yet, included — is Inconclusive, not a pause (issue 18.4)."""
    out = step_rollout(POLICY, CANARY, KNOWN, running(1), gates(canary), first=False, now=LATER)
    r = out.rollout
    assert r is not None
    assert (r.phase, r.step, r.failed_checks, r.last_verdict) == ("Progressing", 1, 0, "Inconclusive")
    assert r.step_started == to_rfc3339(T0)
    assert r.message == f"step 2 of 4 (20%): canary requests {count} < 10"
    assert out.events == ()


def test_manual_promote() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(0), gates(BAD, promote=True), first=False, now=T0 + 1)
    assert out.rollout is not None
    assert out.rollout.phase == "Succeeded"
    assert out.stable_hash == CANARY.provider_hash()


def test_manual_abort_even_without_metrics() -> None:
    out = step_rollout(POLICY, CANARY, KNOWN, running(2), gates(available=False, abort=True), first=False, now=T0 + 1)
    assert out.rollout is not None
    assert (out.rollout.phase, out.rollout.canary_weight) == ("Aborted", 0)
    assert out.stable_hash == STABLE.provider_hash()


def test_gates_do_not_touch_a_rollout_that_is_only_starting() -> None:
    r = advance(None, gates(promote=True, abort=True), now=T0)
    assert r is not None
    assert r.phase == "Progressing"


def test_spec_change_during_rollout_restarts_at_step_0() -> None:
    out = step_rollout(POLICY, NEWER, KNOWN, running(2, failed=1), gates(), first=False, now=LATER)
    r = out.rollout
    assert r is not None
    assert (r.phase, r.step, r.canary_weight, r.failed_checks, r.canary_hash) == (
        "Progressing",
        0,
        5,
        0,
        NEWER.provider_hash(),
    )
    assert r.started == to_rfc3339(LATER)
    assert [e.reason for e in out.events] == ["CanaryRestarted"]


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_failed_rollout_stays_terminal_while_the_spec_keeps_the_canary(phase: str) -> None:
    done = running(1, failed=2).model_copy(update={"phase": phase, "canary_weight": 0})
    for later in (LATER, LATER + 3600, LATER + 86400):
        out = step_rollout(POLICY, CANARY, KNOWN, done, gates(GOOD, promote=False), first=False, now=later)
        assert (out.rollout, out.events) == (done, ())


def test_reverting_to_stable_clears_a_rolled_back_canary() -> None:
    done = running(1, failed=2).model_copy(update={"phase": "RolledBack", "canary_weight": 0})
    out = step_rollout(POLICY, STABLE, KNOWN, done, gates(), first=False, now=LATER)
    assert out.rollout is None
    assert [e.reason for e in out.events] == ["CanaryCleared"]


def test_another_block_after_a_rollback_starts_a_new_canary() -> None:
    done = running(1, failed=2).model_copy(update={"phase": "RolledBack", "canary_weight": 0})
    r = advance(done, gates(), spec=NEWER)
    assert r is not None
    assert (r.phase, r.canary_hash) == ("Progressing", NEWER.provider_hash())


def test_a_shortened_step_list_clamps_the_step() -> None:
    short = POLICY.model_copy(update={"steps": [50, 100]})
    out = step_rollout(short, CANARY, KNOWN, running(3), gates(GOOD), first=False, now=LATER)
    assert out.rollout is not None
    assert out.rollout.phase == "Succeeded"
