"""Canary analysis: one pure verdict per check, Argo Rollouts style.

====================  ============================================================
verdict               when
====================  ============================================================
Error                 metrics are unavailable: "could not measure" is never "failed"
                      (the rollout pauses)
Inconclusive          canary requests < max(rollout.minRequests, 1); no series for the
                      canary while metrics are available is 0 requests (the rollout stays
                      at its step: low traffic is not an outage)
Failed                canary error rate > rollout.maxErrorRate
Failed                canary p95 latency > rollout.maxLatencyP95
Failed                canary p95 time to first token > rollout.maxTimeToFirstTokenP95
Passed                otherwise
====================  ============================================================
"""

from __future__ import annotations

from collections.abc import Callable

from airoute.api.base import parse_duration
from airoute.api.spec import RolloutPolicy
from airoute.api.status import Verdict
from airoute.core.signals import Signals, format_count, format_rate, format_seconds

NO_REQUESTS = Signals(requests=0, errors=0, throttled=0, latency_p95=None)

Check = Callable[[RolloutPolicy, Signals], tuple[Verdict, str] | None]


def _too_few(policy: RolloutPolicy, s: Signals) -> tuple[Verdict, str] | None:
    needed = max(policy.min_requests, 1)
    if s.requests >= needed:
        return None
    return "Inconclusive", f"canary requests {format_count(s.requests)} < {needed}"


def _error_rate(policy: RolloutPolicy, s: Signals) -> tuple[Verdict, str] | None:
    rate = s.error_rate
    if rate is None or rate <= policy.max_error_rate:
        return None
    return "Failed", f"canary error rate {format_rate(rate, policy.max_error_rate)} > {policy.max_error_rate:g}"


def _latency(policy: RolloutPolicy, s: Signals) -> tuple[Verdict, str] | None:
    if s.latency_p95 is None or s.latency_p95 <= policy.max_latency_seconds:
        return None
    return "Failed", f"canary p95 latency {format_seconds(s.latency_p95)} > {policy.max_latency_p95}"


def _time_to_first_token(policy: RolloutPolicy, s: Signals) -> tuple[Verdict, str] | None:
    limit = policy.max_time_to_first_token_p95
    if limit is None or s.ttft_p95 is None or s.ttft_p95 <= parse_duration(limit):
        return None
    return "Failed", f"canary p95 time to first token {format_seconds(s.ttft_p95)} > {limit}"


CHECKS: tuple[Check, ...] = (_too_few, _error_rate, _latency, _time_to_first_token)


def _passed(policy: RolloutPolicy, s: Signals) -> str:
    rate = s.error_rate or 0.0
    text = f"canary error rate {format_rate(rate, policy.max_error_rate)} <= {policy.max_error_rate:g}"
    if s.latency_p95 is not None:
        text += f", p95 latency {format_seconds(s.latency_p95)} <= {policy.max_latency_p95}"
    return text + f" over {format_count(s.requests)} requests"


def verdict(policy: RolloutPolicy, canary: Signals | None, metrics_available: bool) -> tuple[Verdict, str]:
    """Passed, Failed, Inconclusive or Error for one analysis of a canary, with the reason in words."""
    if not metrics_available:
        return "Error", "metrics unavailable: could not measure the canary"
    measured = NO_REQUESTS if canary is None else canary
    for check in CHECKS:
        found = check(policy, measured)
        if found is not None:
            return found
    return "Passed", _passed(policy, measured)
