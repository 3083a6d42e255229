from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airoute.core.clock import elapsed, from_rfc3339, reached, to_rfc3339

from .factories import T0


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (T0, "2026-11-22T10:00:00Z"),
        (T0 + 90, "2026-11-22T10:01:30Z"),
        (T0 + 0.25, "2026-11-22T10:00:00.25Z"),
        (T0 + 0.0004, "2026-11-22T10:00:00Z"),
        (0.0, "1970-01-01T00:00:00Z"),
    ],
)
def test_to_rfc3339(now: float, text: str) -> None:
    assert to_rfc3339(now) == text


@pytest.mark.parametrize(
    ("text", "now"),
    [
        ("2026-11-22T10:00:00Z", T0),
        ("2026-11-22T10:00:00.5Z", T0 + 0.5),
        ("2026-11-22T11:00:00+01:00", T0),
        ("2026-11-22T10:00:00", T0),
    ],
)
def test_from_rfc3339(text: str, now: float) -> None:
    assert from_rfc3339(text) == now


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_round_trip_to_the_millisecond(now: float) -> None:
    assert abs(from_rfc3339(to_rfc3339(now)) - now) <= 0.0005 + 1e-6


def test_reached_and_elapsed() -> None:
    stamp = to_rfc3339(T0 + 120)
    assert not reached(T0 + 119.9, stamp)
    assert reached(T0 + 120, stamp)
    assert reached(T0, None)
    assert elapsed(T0 + 30.5, to_rfc3339(T0)) == 30.5
