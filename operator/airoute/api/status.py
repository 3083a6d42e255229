"""``AIRoute.status``: written only by the controller, read by the gateway and by people."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airoute.api.base import ApiModel

Health = Literal["Healthy", "Degraded", "Unhealthy", "Unknown"]
Verdict = Literal["Passed", "Failed", "Inconclusive", "Error"]
RolloutPhase = Literal["Progressing", "Paused", "Succeeded", "RolledBack", "Aborted"]
RolloutKind = Literal["Change", "NewBackend"]
ConditionStatus = Literal["True", "False", "Unknown"]
ConditionType = Literal["Ready", "Degraded", "Progressing", "RolledBack", "MetricsAvailable", "Served"]


class Condition(ApiModel):
    """A Kubernetes-style condition (metav1.Condition)."""

    type: str = Field(max_length=316, description="Ready, Degraded, Progressing, RolledBack or MetricsAvailable.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="CamelCase reason for the last transition.",
    )
    message: str = Field(default="", max_length=32768, description="Human-readable details.")
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The .metadata.generation the condition was set for.",
    )


class BackendStatus(ApiModel):
    """What the controller last saw of one backend and the weight it gave it."""

    name: str = Field(max_length=63, description="Backend name.")
    health: Health = Field(default="Unknown", description="Healthy, Degraded, Unhealthy or Unknown.")
    reason: str = Field(default="NotEvaluated", max_length=64, description="CamelCase reason for the health.")
    message: str = Field(default="", max_length=1024, description="What was measured, in words.")
    error_rate: float | None = Field(default=None, description="Share of failed requests in the window.")
    throttle_rate: float | None = Field(default=None, description="Share of throttled requests in the window.")
    latency_p95: float | None = Field(default=None, description="95th-percentile latency in seconds.")
    requests: float | None = Field(default=None, description="Requests seen in the window.")
    desired_weight: int = Field(default=0, ge=0, le=100, description="Weight declared in the spec.")
    effective_weight: int = Field(default=0, ge=0, le=100, description="Share of traffic it gets now (percent).")
    since: str | None = Field(default=None, description="When the health last changed (RFC 3339).")
    bad_streak: int = Field(
        default=0, ge=0, description="Consecutive bad evaluations, counted up to health.unhealthyAfter."
    )
    good_streak: int = Field(
        default=0, ge=0, description="Consecutive good evaluations, counted up to health.healthyAfter."
    )
    ejected_until: str | None = Field(default=None, description="Ejected until this time (RFC 3339).")
    ramp_step: int | None = Field(default=None, ge=0, description="Index in failover.recoveryRamp while recovering.")
    ramp_step_at: str | None = Field(default=None, description="When the current ramp step began (RFC 3339).")
    provider_hash: str | None = Field(default=None, description="Hash of the stable (last promoted) provider block.")
    provider: dict[str, Any] | None = Field(
        default=None,
        description="The stable provider block ({kind: block}); references only, never secret values.",
    )


class RolloutStatus(ApiModel):
    """A canary of one backend: a changed provider block, or a backend that is new."""

    backend: str = Field(max_length=63, description="Backend being rolled out.")
    kind: RolloutKind = Field(description="Change (new provider block) or NewBackend.")
    phase: RolloutPhase = Field(description="Progressing, Paused, Succeeded, RolledBack or Aborted.")
    step: int = Field(default=0, ge=0, description="Index in rollout.steps.")
    canary_weight: int = Field(default=0, ge=0, le=100, description="Percent of the backend's traffic on the canary.")
    stable_hash: str | None = Field(default=None, description="Hash of the stable provider block.")
    canary_hash: str = Field(description="Hash of the canary provider block.")
    failed_checks: int = Field(default=0, ge=0, description="Failed analysis checks so far.")
    last_verdict: Verdict | None = Field(default=None, description="Result of the last analysis.")
    message: str = Field(default="", max_length=1024, description="Why the rollout is where it is.")
    started: str = Field(description="When the rollout began (RFC 3339).")
    step_started: str = Field(description="When the current step began (RFC 3339).")


class DrillStatus(ApiModel):
    """An outage rehearsal: a backend forced out for a while, and what happened."""

    backend: str = Field(max_length=63, description="Backend taken out.")
    phase: Literal["Running", "Completed"] = Field(description="Running or Completed.")
    started: str = Field(description="When the drill began (RFC 3339).")
    until: str = Field(description="When the drill ends (RFC 3339).")
    weight_shifted_after: float | None = Field(
        default=None,
        description="Seconds until the backend's weight reached 0.",
    )
    recovered_after: float | None = Field(
        default=None,
        description="Seconds after the drill's end until full weight was back.",
    )
    client_errors: float | None = Field(default=None, description="Client-visible errors counted during the drill.")


class AIRouteStatus(ApiModel):
    """The controller's decision for the route and the observations it was based on."""

    observed_generation: int | None = Field(default=None, description="Generation of the spec last acted on.")
    weights: dict[str, int] = Field(
        default_factory=dict,
        description="Effective weight per backend (percent; they sum to 100).",
    )
    weights_summary: str = Field(default="", max_length=1024, description="Weights in one line, for kubectl get.")
    canary_weights: dict[str, int] = Field(
        default_factory=dict,
        description="Percent of a backend's traffic that goes to its canary variant.",
    )
    backends: list[BackendStatus] = Field(default_factory=list, max_length=16, description="Per-backend health.")
    spilled_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description=(
            "Share of the requests answered in the health window that came from backends outside the lowest "
            "priority group (spillover); unset for a route of one priority group or without traffic."
        ),
    )
    rollouts: list[RolloutStatus] = Field(default_factory=list, max_length=16, description="Canary rollouts.")
    drills: list[DrillStatus] = Field(default_factory=list, max_length=16, description="Recent drills.")
    conditions: list[Condition] = Field(default_factory=list, max_length=8, description="Standard conditions.")

    def backend(self, name: str) -> BackendStatus | None:
        return next((b for b in self.backends if b.name == name), None)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def rollout(self, backend: str) -> RolloutStatus | None:
        return next((r for r in self.rollouts if r.backend == backend), None)
