"""Hold-off lengths and the retry budget (issue 16.3), each rule its own case."""

from __future__ import annotations

import pytest

from airoute.core.retries import DEFAULT_HOLD_OFF, MAX_HOLD_OFF, hold_off_seconds, retry_allowed


@pytest.mark.parametrize(("retry_after", "resets", "held"), [
    (12.0, {"requests": 1.0}, 12.0),  # Retry-After (or retry-after-ms) wins
    (None, {"requests": 1.0, "tokens": 360.0}, 1.0),  # else the soonest reset
    (None, {"tokens": 0.0, "requests": 2.5}, 2.5),  # a reset already passed says nothing
    (None, {}, DEFAULT_HOLD_OFF),  # a bare 429 (Bedrock's ThrottlingException)
    (0.0, {}, 0.0),  # "retry now": not held
    (86_400.0, {}, MAX_HOLD_OFF),  # a day: capped
    (-5.0, {}, 0.0),
])
def test_hold_off(retry_after: float | None, resets: dict[str, float], held: float) -> None:
    assert hold_off_seconds(retry_after, resets) == held


def test_max_retries_per_request() -> None:
    assert retry_allowed(0, 1, 1, 0, 20)
    assert not retry_allowed(1, 1, 1, 0, 20)
    assert not retry_allowed(0, 0, 1, 0, 20)


def test_the_budget_is_a_share_of_the_requests_in_flight_but_never_below_three() -> None:
    assert retry_allowed(0, 3, 10, 2, 20) and not retry_allowed(0, 3, 10, 3, 20)  # 20 % of 10 < 3
    assert retry_allowed(0, 3, 100, 19, 20) and not retry_allowed(0, 3, 100, 20, 20)
