"""The tokens-per-minute bucket (issue 16.5), on explicit times."""

from __future__ import annotations

import pytest

from airoute.core.tokenlimits import estimate, full, spend, wait_seconds


def test_the_estimate_counts_the_body_and_the_output_it_allows() -> None:
    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    assert estimate(body) == -(-len(body) // 4)
    assert estimate(body[:-1] + b',"max_completion_tokens": 500}') == -(-(len(body) + 29) // 4) + 500


def test_a_full_bucket_lets_a_large_request_through_and_then_owes() -> None:
    bucket = spend(full(60, 0.0), 60, 0.0, 90)  # one token a second; 90 taken of 60
    assert bucket.level == -30
    assert wait_seconds(bucket, 60, 0.0) == pytest.approx(31.0)  # back above 0 after 31 s
    assert wait_seconds(bucket, 60, 31.0) == 0.0


def test_usage_given_back_never_fills_beyond_a_minute() -> None:
    bucket = spend(full(60, 0.0), 60, 0.0, 10)
    assert spend(bucket, 60, 1.0, -1000).level == 60
