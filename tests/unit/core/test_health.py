"""Health: one table per assessment rule, then the hysteresis of step_backend."""

from __future__ import annotations

import pytest

from airoute.api import BackendStatus, FailoverPolicy, HealthPolicy
from airoute.core import Assessment, Signals, assess, step_backend, to_rfc3339, traffic_factor

from .factories import T0

POLICY = HealthPolicy(
    window="2m",
    max_error_rate=0.05,
    max_latency_p95="8s",
    max_throttle_rate=0.25,
    min_requests=20,
    unhealthy_after=2,
    healthy_after=2,
)
FAILOVER = FailoverPolicy(eject_for="2m", recovery_ramp=[10, 25, 50, 100], recovery_interval="30s")


def s(
    requests: float = 100, errors: float = 0, throttled: float = 0, latency: float | None = 1.0, page: str | None = None
) -> Signals:
    return Signals(requests=requests, errors=errors, throttled=throttled, latency_p95=latency, status_page=page)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("signals", "available", "health", "reason"),
    [
        (s(), False, "Unknown", "MetricsUnavailable"),
        (s(errors=100), False, "Unknown", "MetricsUnavailable"),
        (None, True, "Unknown", "NotEnoughData"),
    ],
)
def test_no_measurement_is_unknown(signals: Signals | None, available: bool, health: str, reason: str) -> None:
    a = assess(POLICY, signals, available)
    assert (a.health, a.reason) == (health, reason)


@pytest.mark.parametrize(
    ("signals", "health", "message"),
    [
        (s(errors=42), "Unhealthy", "error rate 0.42 > 0.05 over 2m"),
        (s(errors=6), "Unhealthy", "error rate 0.06 > 0.05 over 2m"),
        (s(errors=5), "Healthy", None),
        (s(requests=3, errors=3), "Unhealthy", "error rate 1.00 > 0.05 over 2m (3 of 3 requests failed)"),
        (s(requests=2, errors=2), "Unknown", None),
        (s(requests=10, errors=9), "Unknown", None),
    ],
)
def test_error_rate_above(signals: Signals, health: str, message: str | None) -> None:
    a = assess(POLICY, signals, True)
    assert a.health == health
    if message:
        assert (a.reason, a.message) == ("ErrorRateAbove", message)


def test_small_sample_rule_respects_a_lower_min_requests() -> None:
    policy = POLICY.model_copy(update={"min_requests": 1})
    assert assess(policy, s(requests=1, errors=1), True).reason == "ErrorRateAbove"
    assert assess(POLICY.model_copy(update={"min_requests": 0}), s(requests=0), True).reason == "NotEnoughData"


@pytest.mark.parametrize(
    ("signals", "health", "reason", "message"),
    [
        (s(latency=9.123), "Degraded", "LatencyAbove", "p95 latency 9.12s > 8s over 2m"),
        (s(latency=8.0), "Healthy", "WithinThresholds", None),
        (s(requests=5, latency=30), "Unknown", "NotEnoughData", None),
    ],
)
def test_latency_above(signals: Signals, health: str, reason: str, message: str | None) -> None:
    a = assess(POLICY, signals, True)
    assert (a.health, a.reason) == (health, reason)
    if message:
        assert a.message == message


@pytest.mark.parametrize(
    ("signals", "health", "reason"),
    [
        (s(throttled=30), "Degraded", "ThrottleRateAbove"),
        (s(throttled=25), "Healthy", "WithinThresholds"),
        (s(errors=10, throttled=30), "Unhealthy", "ErrorRateAbove"),
    ],
)
def test_throttle_rate_above(signals: Signals, health: str, reason: str) -> None:
    a = assess(POLICY, signals, True)
    assert (a.health, a.reason) == (health, reason)


@pytest.mark.parametrize(
    ("signals", "health", "reason"),
    [
        (s(page="outage"), "Unhealthy", "StatusPageOutage"),
        (s(requests=0, page="outage"), "Unhealthy", "StatusPageOutage"),
        (s(page="degraded"), "Degraded", "StatusPageDegraded"),
        (s(requests=0, page="degraded"), "Degraded", "StatusPageDegraded"),
        (s(errors=50, page="degraded"), "Unhealthy", "ErrorRateAbove"),
        (s(page="operational"), "Healthy", "WithinThresholds"),
    ],
)
def test_status_page(signals: Signals, health: str, reason: str) -> None:
    a = assess(POLICY, signals, True)
    assert (a.health, a.reason) == (health, reason)


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        (s(requests=19), "19 requests over 2m, fewer than the 20 needed"),
        (s(requests=0), "0 requests over 2m, fewer than the 20 needed"),
        (s(requests=19.87), "19 requests over 2m, fewer than the 20 needed"),  # whole requests (issue 18.9)
    ],
)
def test_not_enough_data(signals: Signals, message: str) -> None:
    a = assess(POLICY, signals, True)
    assert (a.health, a.reason, a.message) == ("Unknown", "NotEnoughData", message)


def test_within_thresholds_carries_the_measurements() -> None:
    a = assess(POLICY, s(requests=200, errors=2, throttled=4, latency=1.5), True)
    assert (a.health, a.reason) == ("Healthy", "WithinThresholds")
    assert (a.requests, a.error_rate, a.throttle_rate, a.latency_p95) == (200, 0.01, 0.02, 1.5)


# --- step_backend -----------------------------------------------------------------------------

HEALTHY = Assessment("Healthy", "WithinThresholds", "ok")
DEGRADED = Assessment("Degraded", "LatencyAbove", "p95 latency 9s > 8s over 2m")
UNHEALTHY = Assessment("Unhealthy", "ErrorRateAbove", "error rate 0.42 > 0.05 over 2m")
NO_DATA = Assessment("Unknown", "NotEnoughData", "0 requests")
BLIND = Assessment("Unknown", "MetricsUnavailable", "metrics unavailable")


def walk(
    assessments: list[Assessment],
    prev: BackendStatus | None = None,
    start: float = T0,
    every: float = 15.0,
    drill_until: float | None = None,
) -> list[BackendStatus]:
    out: list[BackendStatus] = []
    for i, a in enumerate(assessments):
        prev = step_backend("azure-eu", POLICY, FAILOVER, prev, a, 50, start + i * every, drill_until)
        out.append(prev)
    return out


def factor(b: BackendStatus) -> float:
    return traffic_factor(b, FAILOVER)


def test_one_bad_sample_does_not_eject() -> None:
    [b] = walk([HEALTHY, UNHEALTHY])[1:]
    assert b.ejected_until is None
    assert (b.health, b.bad_streak) == ("Unhealthy", 1)
    assert "ejected after 2 bad evaluations in a row (1 so far)" in b.message
    assert factor(b) == 0.5


def test_unhealthy_after_bad_samples_eject() -> None:
    b = walk([HEALTHY, UNHEALTHY, UNHEALTHY])[-1]
    assert b.ejected_until == to_rfc3339(T0 + 30 + 120)
    assert (b.health, b.reason, b.message) == ("Unhealthy", "ErrorRateAbove", UNHEALTHY.message)
    assert factor(b) == 0.0


@pytest.mark.parametrize(
    "between",
    [HEALTHY, DEGRADED],
    ids=["healthy", "degraded"],
)
def test_a_measured_non_unhealthy_sample_breaks_the_streak(between: Assessment) -> None:
    b = walk([UNHEALTHY, between, UNHEALTHY])[-1]
    assert (b.ejected_until, b.bad_streak) == (None, 1)


def test_unknown_never_ejects_and_does_not_break_the_streak() -> None:
    bs = walk([UNHEALTHY, NO_DATA, NO_DATA, NO_DATA])
    assert all(b.ejected_until is None for b in bs)
    assert bs[-1].bad_streak == 1
    assert walk([UNHEALTHY, NO_DATA, UNHEALTHY])[-1].ejected_until is not None


def test_unknown_never_ends_an_ejection_early() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]
    later = walk([NO_DATA] * 7, prev=ejected, start=T0 + 30)  # up to T0+120 < ejected until T0+135
    assert all(b.ejected_until == ejected.ejected_until for b in later)
    assert all((b.health, b.reason) == ("Unhealthy", "ErrorRateAbove") for b in later)


def test_ramp_after_eject_for() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]  # at T0+15, until T0+135
    ramp = walk([NO_DATA] * 8, prev=ejected, start=T0 + 135, every=30)
    assert [factor(b) for b in ramp] == [0.1, 0.25, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert [b.ramp_step for b in ramp[:4]] == [0, 1, 2, None]
    assert ramp[0].ejected_until is None


def test_ramp_steps_wait_for_the_recovery_interval() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]
    ramp = walk([HEALTHY] * 5, prev=ejected, start=T0 + 135, every=10)
    assert [b.ramp_step for b in ramp] == [0, 0, 0, 1, 1]


def test_unhealthy_during_the_ramp_re_ejects_at_once() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]
    ramp = walk([HEALTHY, HEALTHY, UNHEALTHY], prev=ejected, start=T0 + 135, every=30)
    assert ramp[1].ramp_step == 1
    assert (ramp[2].ramp_step, ramp[2].ejected_until) == (None, to_rfc3339(T0 + 195 + 120))


def test_still_unhealthy_when_eject_for_ends_stays_out() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]
    b = walk([UNHEALTHY], prev=ejected, start=T0 + 135)[0]
    assert (b.ejected_until, b.ramp_step) == (to_rfc3339(T0 + 255), None)


def test_degraded_halves_and_recovers_after_healthy_after() -> None:
    bs = walk([HEALTHY, DEGRADED, HEALTHY, HEALTHY])
    assert [b.health for b in bs] == ["Healthy", "Degraded", "Degraded", "Healthy"]
    assert [factor(b) for b in bs] == [1.0, 0.5, 0.5, 1.0]
    assert bs[2].reason == "Recovering"


def test_since_changes_only_with_health() -> None:
    bs = walk([HEALTHY, HEALTHY, DEGRADED, DEGRADED, HEALTHY, HEALTHY])
    assert [b.since for b in bs] == [to_rfc3339(T0)] * 2 + [to_rfc3339(T0 + 30)] * 3 + [to_rfc3339(T0 + 75)]


def test_drill_forces_out_then_ramps_back() -> None:
    drill_end = T0 + 60
    bs = walk([HEALTHY] * 8, drill_until=drill_end)
    assert [b.reason for b in bs[:4]] == ["Drill"] * 4
    assert [factor(b) for b in bs] == [0.0, 0.0, 0.0, 0.0, 0.1, 0.1, 0.25, 0.25]
    assert bs[0].message == f"outage drill: forced out until {to_rfc3339(drill_end)}"


def test_drill_that_has_ended_changes_nothing() -> None:
    assert factor(walk([HEALTHY], drill_until=T0 - 1)[0]) == 1.0


def test_metrics_unavailable_freezes_everything() -> None:
    ejected = walk([UNHEALTHY, UNHEALTHY])[-1]
    held = walk([BLIND] * 20, prev=ejected, start=T0 + 30)
    assert all(b.ejected_until == ejected.ejected_until for b in held)
    assert all(b.health == "Unhealthy" and b.reason == "MetricsUnavailable" for b in held)
    assert held[-1].message == held[0].message
    degraded = walk([DEGRADED, BLIND, BLIND])
    assert [factor(b) for b in degraded] == [0.5, 0.5, 0.5]
    ramping = walk([HEALTHY] + [BLIND] * 4, prev=ejected, start=T0 + 135, every=30)
    assert [b.ramp_step for b in ramping] == [0, 0, 0, 0, 0]


def test_first_evaluation_without_data_is_unknown() -> None:
    b = walk([BLIND])[0]
    assert (b.health, b.reason, b.since) == ("Unknown", "MetricsUnavailable", to_rfc3339(T0))
    assert factor(b) == 1.0


def test_a_slow_first_token_degrades_a_backend_when_a_limit_is_set() -> None:
    slow = Signals(requests=100, errors=0, throttled=0, latency_p95=3.0, ttft_p95=4.0)
    policy = POLICY.model_copy(update={"max_time_to_first_token_p95": "2s"})
    a = assess(policy, slow, True)
    assert (a.health, a.reason) == ("Degraded", "TimeToFirstTokenAbove") and "time to first token 4s > 2s" in a.message
    assert assess(POLICY, slow, True).health == "Healthy"


def test_ejected_by_the_gateways_is_unhealthy_even_with_no_requests() -> None:
    """Issue 18.1: the gateway's ejection starves the error rate; its own view is the signal."""
    a = assess(POLICY, Signals(requests=0, errors=0, throttled=0, gateway_ejected=True), True)
    assert (a.health, a.reason) == ("Unhealthy", "EjectedByGateways")
    assert assess(POLICY, Signals(requests=0, errors=0, throttled=0), True).health == "Unknown"
