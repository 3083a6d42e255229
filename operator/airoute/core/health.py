"""Backend health: an instantaneous assessment of a signal snapshot, then a step with hysteresis.

``assess`` judges one snapshot. The rules, first match wins:

====================  ===========  ==========================================================
reason                health       when
====================  ===========  ==========================================================
MetricsUnavailable    Unknown      the metrics source could not be read
NotEnoughData         Unknown      no series for the backend
StatusPageOutage      Unhealthy    the provider's status page reports an outage
ErrorRateAbove        Unhealthy    errors/requests > maxErrorRate with requests >= minRequests,
                                   or *every* request failed and there were at least
                                   ``min(3, minRequests)`` of them (an ejected or ramping
                                   backend sees little traffic; 3 of 3 failing is evidence)
EjectedByGateways     Unhealthy    some gateway ejected it after consecutive failures
                                   (``airoute_gateway_backend_out{state="ejected"}``): its
                                   traffic went elsewhere, so its error rate starves
LatencyAbove          Degraded     p95 latency > maxLatencyP95 with requests >= minRequests
TimeToFirstTokenAbove Degraded     p95 time to first token > maxTimeToFirstTokenP95 (when set),
                                   same minimum
ThrottleRateAbove     Degraded     throttled/requests > maxThrottleRate, same minimum
StatusPageDegraded    Degraded     the provider's status page reports degraded service
NotEnoughData         Unknown      requests < max(minRequests, 1)
WithinThresholds      Healthy      otherwise
====================  ===========  ==========================================================

``step_backend`` turns assessments into traffic decisions with hysteresis:

* ``bad_streak`` counts consecutive Unhealthy assessments (Healthy and Degraded reset it),
  ``good_streak`` consecutive Healthy ones (Degraded and Unhealthy reset it); Unknown leaves
  both alone — it is the absence of a judgement, not a judgement. They count up to
  ``health.unhealthyAfter`` and ``health.healthyAfter``: beyond, nothing depends on them, and a
  counter that grew at every evaluation would change the status of every route every interval.
* A backend is ejected (``ejected_until = now + ejectFor``) once ``bad_streak`` reaches
  ``health.unhealthyAfter``. Until then it is reported Unhealthy and, like a Degraded one, gets
  :data:`DEGRADED_FACTOR` of its weight.
* When ``ejectFor`` has passed it enters the recovery ramp: ``failover.recoveryRamp[ramp_step]``
  percent of its weight, one step further per ``recoveryInterval`` while it is not Unhealthy.
  One Unhealthy assessment during the ramp (or at its start) ejects it again at once.
* Health goes back up to Healthy from Degraded/Unhealthy only after ``health.healthyAfter``
  Healthy assessments in a row (reason ``Recovering`` meanwhile).
* While metrics are unavailable nothing moves: no ejection, no ramp step, no end of ejection.
* A drill forces the backend out (reason ``Drill``) until its end; then it ramps back in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airoute.api.base import parse_duration
from airoute.api.spec import FailoverPolicy, HealthPolicy
from airoute.api.status import BackendStatus, Health
from airoute.core.clock import from_rfc3339, reached, to_rfc3339
from airoute.core.events import clip
from airoute.core.signals import Signals, format_count, format_rate, format_seconds

METRICS_UNAVAILABLE = "MetricsUnavailable"
NOT_ENOUGH_DATA = "NotEnoughData"
DRILL = "Drill"
RECOVERING = "Recovering"
DEGRADED_FACTOR = 0.5
"""Share of its weight a Degraded backend (or an Unhealthy one not yet ejected) keeps."""
SMALL_SAMPLE = 3
"""A sample this small (or ``minRequests``, if lower) in which every request failed counts."""


@dataclass(frozen=True)
class Assessment:
    """The judgement of one signal snapshot, with the measurements it was based on."""

    health: Health
    reason: str
    message: str
    requests: float | None = None
    error_rate: float | None = None
    throttle_rate: float | None = None
    latency_p95: float | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A health policy's limits as plain numbers, its durations parsed: what judging reads."""

    enough: int
    """Requests needed to judge at all: ``max(minRequests, 1)``."""
    small_sample: int
    """A sample this small in which every request failed counts: ``min(SMALL_SAMPLE, minRequests)``."""
    error_rate: float
    throttle_rate: float
    latency_p95: float
    ttft_p95: float | None

    @classmethod
    def of(cls, policy: HealthPolicy) -> Thresholds:
        ttft = policy.max_time_to_first_token_p95
        return cls(
            enough=max(policy.min_requests, 1),
            small_sample=min(SMALL_SAMPLE, policy.min_requests),
            error_rate=policy.max_error_rate,
            throttle_rate=policy.max_throttle_rate,
            latency_p95=parse_duration(policy.max_latency_p95),
            ttft_p95=parse_duration(ttft) if ttft is not None else None,
        )


@dataclass(frozen=True)
class Rule:
    """One row of the table above: what it says, and why in words (when it applies: :func:`_rule`)."""

    health: Health
    reason: str
    describe: Callable[[HealthPolicy, Signals], str]


def _enough(policy: HealthPolicy, s: Signals) -> bool:
    return s.requests >= max(policy.min_requests, 1)


def _errors_words(policy: HealthPolicy, s: Signals) -> str:
    rate, limit = s.error_rate or 0.0, policy.max_error_rate
    shown = f"error rate {format_rate(rate, limit)} > {limit:g} over {policy.window}"
    n = format_count(s.requests)
    return shown if _enough(policy, s) else f"{shown} ({n} of {n} requests failed)"


def _latency_words(policy: HealthPolicy, s: Signals) -> str:
    shown = format_seconds(s.latency_p95 or 0.0)
    return f"p95 latency {shown} > {policy.max_latency_p95} over {policy.window}"


def _first_token_words(policy: HealthPolicy, s: Signals) -> str:
    shown = format_seconds(s.ttft_p95 or 0.0)
    return f"p95 time to first token {shown} > {policy.max_time_to_first_token_p95} over {policy.window}"


def _throttle_words(policy: HealthPolicy, s: Signals) -> str:
    limit = policy.max_throttle_rate
    return f"throttle rate {format_rate(s.throttle_rate or 0.0, limit)} > {limit:g} over {policy.window}"


def _too_few_words(policy: HealthPolicy, s: Signals) -> str:
    return (
        f"{format_count(s.requests)} requests over {policy.window}, "
        f"fewer than the {max(policy.min_requests, 1)} needed"
    )


PAGE_OUTAGE = Rule("Unhealthy", "StatusPageOutage", lambda _, s: "the provider's status page reports an outage")
ERRORS_ABOVE = Rule("Unhealthy", "ErrorRateAbove", _errors_words)
EJECTED = Rule(
    "Unhealthy",
    "EjectedByGateways",
    lambda _, s: "the gateways ejected it after consecutive failures and retry its requests elsewhere",
)
LATENCY_ABOVE = Rule("Degraded", "LatencyAbove", _latency_words)
FIRST_TOKEN_ABOVE = Rule("Degraded", "TimeToFirstTokenAbove", _first_token_words)
THROTTLE_ABOVE = Rule("Degraded", "ThrottleRateAbove", _throttle_words)
PAGE_DEGRADED = Rule(
    "Degraded", "StatusPageDegraded", lambda _, s: "the provider's status page reports degraded service"
)
TOO_FEW = Rule("Unknown", NOT_ENOUGH_DATA, _too_few_words)
WITHIN = Rule("Healthy", "WithinThresholds", lambda _, s: "error rate, latency and throttling within thresholds")


def _rule(limits: Thresholds, s: Signals) -> Rule:
    """The row of the table that applies, first match wins. One chain of tests, no call per row:
    this runs for every backend of every route at every cycle."""
    if s.status_page == "outage":
        return PAGE_OUTAGE
    requests = s.requests
    enough = requests >= limits.enough
    if requests > 0:  # else no rate is measured
        errors = s.errors
        if min(1.0, errors / requests) > limits.error_rate and (enough or errors >= requests >= limits.small_sample):
            return ERRORS_ABOVE
    if s.gateway_ejected:
        return EJECTED
    if enough:  # so requests > 0
        latency, first_token, ttft_limit = s.latency_p95, s.ttft_p95, limits.ttft_p95
        if latency is not None and latency > limits.latency_p95:
            return LATENCY_ABOVE
        if ttft_limit is not None and first_token is not None and first_token > ttft_limit:
            return FIRST_TOKEN_ABOVE
        if min(1.0, s.throttled / requests) > limits.throttle_rate:
            return THROTTLE_ABOVE
    if s.status_page == "degraded":
        return PAGE_DEGRADED
    return WITHIN if enough else TOO_FEW


def health_of(limits: Thresholds, s: Signals | None, metrics_available: bool) -> tuple[Health, str]:
    """The health and reason :func:`assess` gives under a policy of these :class:`Thresholds`,
    without the words and numbers (cheaper)."""
    if not metrics_available:
        return "Unknown", METRICS_UNAVAILABLE
    if s is None:
        return "Unknown", NOT_ENOUGH_DATA
    rule = _rule(limits, s)
    return rule.health, rule.reason


def assess(policy: HealthPolicy, s: Signals | None, metrics_available: bool) -> Assessment:
    """Judge one snapshot of a backend's signals against the route's health policy."""
    if not metrics_available:
        return Assessment(
            "Unknown",
            METRICS_UNAVAILABLE,
            "metrics unavailable: health cannot be measured",
        )
    if s is None:
        return Assessment("Unknown", NOT_ENOUGH_DATA, f"no requests measured over {policy.window}")
    rule = _rule(Thresholds.of(policy), s)
    return Assessment(
        rule.health,
        rule.reason,
        rule.describe(policy, s),
        requests=s.requests,
        error_rate=s.error_rate,
        throttle_rate=s.throttle_rate,
        latency_p95=s.latency_p95,
    )


@dataclass(frozen=True)
class _Track:
    """Where a backend is on the way out and back in."""

    ejected_until: str | None
    ramp_step: int | None
    ramp_step_at: str | None

    @property
    def ejected(self) -> bool:
        return self.ejected_until is not None


def _streaks(policy: HealthPolicy, prev: BackendStatus, health: Health) -> tuple[int, int]:
    """``(bad_streak, good_streak)`` after one more assessment, each capped at its threshold."""
    if health == "Unhealthy":
        return min(prev.bad_streak + 1, policy.unhealthy_after), 0
    if health == "Healthy":
        return 0, min(prev.good_streak + 1, policy.healthy_after)
    if health == "Degraded":
        return 0, 0
    return prev.bad_streak, prev.good_streak


def _eject(failover: FailoverPolicy, now: float) -> _Track:
    return _Track(to_rfc3339(now + failover.eject_seconds), None, None)


def _ramp_from(failover: FailoverPolicy, step: int, now: float) -> _Track:
    """Ramp step ``step``, or back at full weight when the ramp says 100 % (or has ended)."""
    ramp = failover.recovery_ramp
    if step >= len(ramp) or ramp[step] >= 100:
        return _Track(None, None, None)
    return _Track(None, step, to_rfc3339(now))


def _move(
    failover: FailoverPolicy,
    prev: _Track,
    unhealthy: bool,
    eject_now: bool,
    now: float,
) -> _Track:
    """The ejection/ramp transition for one evaluation with data."""
    if prev.ejected:
        if not reached(now, prev.ejected_until):
            return prev
        return _eject(failover, now) if unhealthy else _ramp_from(failover, 0, now)
    if prev.ramp_step is not None:
        if unhealthy:
            return _eject(failover, now)
        if prev.ramp_step_at is None or reached(now - failover.recovery_seconds, prev.ramp_step_at):
            return _ramp_from(failover, prev.ramp_step + 1, now)
        return prev
    return _eject(failover, now) if eject_now else prev


def _reported(
    policy: HealthPolicy,
    prev: BackendStatus | None,
    a: Assessment,
    track: _Track,
    streaks: tuple[int, int],
) -> tuple[Health, str, str]:
    """The health shown in status: the assessment, smoothed on the way back up."""
    bad, good = streaks
    if a.health == "Unknown":
        if track.ejected and prev is not None:
            return prev.health, prev.reason, prev.message
        return "Unknown", a.reason, a.message
    if a.health == "Unhealthy" and not track.ejected and track.ramp_step is None:
        return (
            "Unhealthy",
            a.reason,
            f"{a.message}; ejected after {policy.unhealthy_after} bad evaluations in a row ({bad} so far)",
        )
    if (
        a.health == "Healthy"
        and prev is not None
        and prev.health in ("Degraded", "Unhealthy")
        and good < policy.healthy_after
    ):
        return (
            prev.health,
            RECOVERING,
            f"{a.message}; Healthy after {policy.healthy_after} good evaluations in a row ({good} so far)",
        )
    return a.health, a.reason, a.message


def _held(prev: BackendStatus | None, a: Assessment) -> tuple[Health, str, str]:
    """While nothing can be measured the last decision stands, and says so."""
    if prev is None:
        return "Unknown", a.reason, a.message
    if prev.reason == METRICS_UNAVAILABLE:
        return prev.health, prev.reason, prev.message
    return prev.health, METRICS_UNAVAILABLE, f"{a.message}; last decision kept ({prev.reason}: {prev.message})"


def step_backend(
    name: str,
    policy: HealthPolicy,
    failover: FailoverPolicy,
    prev: BackendStatus | None,
    assessment: Assessment,
    desired_weight: int,
    now: float,
    drill_until: float | None = None,
) -> BackendStatus:
    """One evaluation of a backend: streaks, ejection, recovery ramp, drill, reported health.

    ``effective_weight`` is left as it was: it is set once the route's weights are computed.
    """
    base = prev or BackendStatus(name=name)
    streaks = _streaks(policy, base, assessment.health)
    track = _Track(base.ejected_until, base.ramp_step, base.ramp_step_at)
    if drill_until is not None and now < drill_until:
        until = drill_until if track.ejected_until is None else max(drill_until, from_rfc3339(track.ejected_until))
        track = _Track(to_rfc3339(until), None, None)
        health: Health = "Unhealthy"
        reason, message = DRILL, f"outage drill: forced out until {to_rfc3339(drill_until)}"
    elif assessment.reason == METRICS_UNAVAILABLE:
        health, reason, message = _held(prev, assessment)
    else:
        unhealthy = assessment.health == "Unhealthy"
        eject_now = unhealthy and streaks[0] >= policy.unhealthy_after
        track = _move(failover, track, unhealthy, eject_now, now)
        health, reason, message = _reported(policy, prev, assessment, track, streaks)
    return base.updated(
        {
            "health": health,
            "reason": reason,
            "message": clip(message, 1024),
            "error_rate": assessment.error_rate,
            "throttle_rate": assessment.throttle_rate,
            "latency_p95": assessment.latency_p95,
            "requests": assessment.requests,
            "desired_weight": desired_weight,
            "since": to_rfc3339(now) if prev is None or health != prev.health else prev.since,
            "bad_streak": streaks[0],
            "good_streak": streaks[1],
            "ejected_until": track.ejected_until,
            "ramp_step": track.ramp_step,
            "ramp_step_at": track.ramp_step_at,
        }
    )


def traffic_factor(status: BackendStatus, failover: FailoverPolicy) -> float:
    """Share of its desired weight a backend may have: 0 ejected, ramp %, 0.5 degraded, else 1."""
    if status.ejected_until is not None:
        return 0.0
    if status.ramp_step is not None:
        ramp = failover.recovery_ramp
        return ramp[min(status.ramp_step, len(ramp) - 1)] / 100
    if status.health in ("Degraded", "Unhealthy"):
        return DEGRADED_FACTOR
    return 1.0
