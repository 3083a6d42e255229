"""Each analysis rule, one small table (Argo Rollouts' assessMetricStatus style)."""

from __future__ import annotations

import pytest

from airoute.api import RolloutPolicy
from airoute.core import Signals, verdict

POLICY = RolloutPolicy(
    steps=[5, 20, 50, 100], interval="5m", max_error_rate=0.02, max_latency_p95="6s", min_requests=10, failure_limit=2
)


def s(requests: float, errors: float = 0, latency: float | None = 1.0) -> Signals:
    return Signals(requests=requests, errors=errors, throttled=0, latency_p95=latency)


@pytest.mark.parametrize(
    ("canary", "available", "expected", "words"),
    [
        (s(100), False, "Error", "metrics unavailable"),
        (None, False, "Error", "metrics unavailable"),
    ],
)
def test_could_not_measure_is_error_never_failed(
    canary: Signals | None,
    available: bool,
    expected: str,
    words: str,
) -> None:
    v, why = verdict(POLICY, canary, available)
    assert (v, words in why) == (expected, True)


@pytest.mark.parametrize(
    ("canary", "expected", "message"),
    [
        (s(9, errors=9), "Inconclusive", "canary requests 9 < 10"),
        (s(0), "Inconclusive", "canary requests 0 < 10"),
        (None, "Inconclusive", "canary requests 0 < 10"),
        (s(10), "Passed", None),
    ],
)
def test_too_few_requests_is_inconclusive(canary: Signals | None, expected: str, message: str | None) -> None:
    """No series for the canary while metrics are available means no requests yet: Inconclusive (issue 18.4)."""
    v, why = verdict(POLICY, canary, True)
    assert v == expected
    if message:
        assert why == message


@pytest.mark.parametrize(
    ("errors", "expected", "message"),
    [
        (30, "Failed", "canary error rate 0.30 > 0.02"),
        (3, "Failed", "canary error rate 0.03 > 0.02"),
        (2, "Passed", None),
        (0, "Passed", None),
    ],
)
def test_error_rate_above_fails(errors: float, expected: str, message: str | None) -> None:
    v, why = verdict(POLICY, s(100, errors=errors), True)
    assert v == expected
    if message:
        assert why == message


@pytest.mark.parametrize(
    ("latency", "expected", "message"),
    [
        (7.2, "Failed", "canary p95 latency 7.2s > 6s"),
        (6.0, "Passed", None),
        (None, "Passed", None),
    ],
)
def test_latency_above_fails(latency: float | None, expected: str, message: str | None) -> None:
    v, why = verdict(POLICY, s(100, latency=latency), True)
    assert v == expected
    if message:
        assert why == message


def test_passed_names_the_measurements() -> None:
    assert verdict(POLICY, s(100, errors=1, latency=1.2), True) == (
        "Passed",
        "canary error rate 0.01 <= 0.02, p95 latency 1.2s <= 6s over 100 requests",
    )


def test_rounding_never_hides_the_side_of_the_limit() -> None:
    v, why = verdict(POLICY, s(1000, errors=21), True)
    assert v == "Failed"
    assert why == "canary error rate 0.021 > 0.02"


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        (s(9.7), "canary requests 9 < 10"),
        (s(0.4), "canary requests 0 < 10"),
        (s(13.19878), "canary error rate 0.00 <= 0.02, p95 latency 1s <= 6s over 13 requests"),
    ],
)
def test_request_counts_are_whole_requests(canary: Signals, expected: str) -> None:
    """Prometheus extrapolates ``increase()``: a count is shown as the whole requests it holds (issue 18.9)."""
    assert verdict(POLICY, canary, True)[1] == expected


def test_a_canary_that_answers_correctly_but_slowly_fails_on_time_to_first_token() -> None:
    policy = RolloutPolicy.model_validate({"maxTimeToFirstTokenP95": "2s"})
    slow = Signals(requests=100, errors=0, throttled=0, latency_p95=3.0, ttft_p95=2.5)
    assert verdict(policy, slow, True) == ("Failed", "canary p95 time to first token 2.5s > 2s")
    assert verdict(RolloutPolicy(), slow, True)[0] == "Passed"  # not set: not checked
