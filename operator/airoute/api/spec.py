"""``AIRoute.spec``: what a platform team declares in Git."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from airoute.api.base import ApiModel, Duration, parse_duration
from airoute.api.providers import (
    DNS_LABEL,
    PROVIDER_FIELDS,
    AzureOpenAI,
    Bedrock,
    Cloud,
    InCluster,
    OpenAICompatible,
    ProviderBlock,
    VertexAI,
)

EMBEDDINGS_ALL_OR_NONE = "either every backend or none sets embeddings (a route serves chat or embeddings)"
EMBEDDINGS_SAME = ("every backend must return the same embeddings family and dimensions: vectors of "
                   "different embedding models are not interchangeable")

Tier = Literal["critical", "standard", "best-effort"]
TIERS: tuple[Tier, ...] = ("critical", "standard", "best-effort")
MAX_BACKENDS = 16
ClientName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL)]
Percent = Annotated[int, Field(ge=1, le=100)]

_ONE_PROVIDER_RULE = {
    "rule": "[" + ", ".join(f"has(self.{f})" for f in PROVIDER_FIELDS) + "].filter(x, x).size() == 1",
    "message": "exactly one provider block must be set: " + ", ".join(PROVIDER_FIELDS),
}


class Embeddings(ApiModel):
    """What an embedding model behind a backend returns. Vectors of different embedding models
    are not interchangeable: every backend of a route says which model family it serves and how
    many dimensions its vectors have, and they must all say the same."""

    family: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$",
        description=(
            "The embedding model family whose vectors this backend returns, the same name on every "
            "backend of the route, e.g. text-embedding-3-small (on Azure OpenAI and OpenAI alike), "
            "amazon.titan-embed-text-v2, cohere.embed-multilingual-v3, text-embedding-005, gemini-embedding-001."
        ),
    )
    dimensions: int = Field(
        ge=1,
        le=65536,
        description=(
            "Length of the vectors it returns. The gateway asks models that can shorten their vectors "
            "for this size, refuses a request that asks for another, and never passes on an answer "
            "of another length."
        ),
    )


class Backend(ApiModel):
    """One place the route's traffic can go: a weight and exactly one provider block."""

    model_config = ApiModel.config_with_rules(_ONE_PROVIDER_RULE)

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL,
        description="Name of the backend, unique in the route (a DNS label, e.g. azure-eu).",
    )
    weight: int = Field(
        ge=0,
        le=100,
        description=(
            "Desired share of traffic, 0-100, relative to the other backends' weights. "
            "0 makes a standby backend that takes traffic only when the weighted ones are down."
        ),
    )
    priority: int = Field(
        default=0,
        ge=0,
        le=9,
        description=(
            "Priority group, lowest first: traffic stays with the backends of the lowest group that has one "
            "serving (weight above 0, not ejected, not held off after a 429) and spills to the next group "
            "on 429s, hold-offs, ejection or failures (a PTU deployment at 0, pay-as-you-go at 1, another "
            "cloud at 2, in-cluster at 3). Weights apply within a group."
        ),
    )
    timeout: Duration = Field(
        default="30s",
        description="Deadline for one request to this backend, including the whole stream.",
    )
    first_token_timeout: Duration | None = Field(
        default=None,
        description=(
            "Streams only: when no output (no first token) came this long after the request, the attempt is "
            "abandoned before anything reached the client and the request goes to the next backend. "
            "Unset: only timeout applies."
        ),
    )
    stream_idle_timeout: Duration | None = Field(
        default=None,
        description=(
            "Streams only: a stream silent this long after its first token is ended with an error event "
            "(the client sees the answer is incomplete; bytes were sent, so it is not retried). "
            "Unset: only timeout applies."
        ),
    )
    azure_open_ai: AzureOpenAI | None = Field(default=None, alias="azureOpenAI", description="Azure OpenAI deployment.")
    bedrock: Bedrock | None = Field(default=None, description="Amazon Bedrock model.")
    vertex_ai: VertexAI | None = Field(default=None, alias="vertexAI", description="Vertex AI model.")
    in_cluster: InCluster | None = Field(default=None, description="Model served by a Service in the cluster.")
    open_ai_compatible: OpenAICompatible | None = Field(
        default=None,
        alias="openAICompatible",
        description="OpenAI-compatible vendor API (OpenAI, xAI, Mistral …).",
    )
    embeddings: Embeddings | None = Field(
        default=None,
        description=(
            "Set when the backend's model is an embedding model: the route then serves /v1/embeddings "
            "(not chat completions), and every backend must set it, with the same family and dimensions."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one_provider(self) -> Backend:
        count = sum(getattr(self, f) is not None for f in _PROVIDER_ATTRS)
        if count != 1:
            raise ValueError(f"exactly one provider block must be set: {', '.join(PROVIDER_FIELDS)} (found {count})")
        return self

    @cached_property
    def provider(self) -> ProviderBlock:  # the model is frozen: found once per parsed backend
        for attr in _PROVIDER_ATTRS:
            block = getattr(self, attr)
            if block is not None:
                return block  # type: ignore[no-any-return]
        raise AssertionError("validated backend without a provider block")

    @property
    def provider_kind(self) -> str:
        """The provider block's field name, e.g. ``azureOpenAI``."""
        return _KIND_BY_TYPE[type(self.provider)]

    @property
    def cloud(self) -> Cloud:
        return self.provider.cloud

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)

    @property
    def first_token_seconds(self) -> float | None:
        return None if self.first_token_timeout is None else parse_duration(self.first_token_timeout)

    @property
    def stream_idle_seconds(self) -> float | None:
        return None if self.stream_idle_timeout is None else parse_duration(self.stream_idle_timeout)

    def provider_hash(self) -> str:
        """A short content hash of the provider block: a change of it starts a canary."""
        return self._provider_hash

    @cached_property
    def _provider_hash(self) -> str:  # the model is frozen: compute once per parsed backend
        return provider_hash(self.provider_kind, self.provider.to_wire())


_PROVIDER_ATTRS = ("azure_open_ai", "bedrock", "vertex_ai", "in_cluster", "open_ai_compatible")
_KIND_BY_TYPE: dict[type, str] = {
    AzureOpenAI: "azureOpenAI",
    Bedrock: "bedrock",
    VertexAI: "vertexAI",
    InCluster: "inCluster",
    OpenAICompatible: "openAICompatible",
}


def provider_hash(kind: str, block: dict[str, object]) -> str:
    blob = json.dumps({kind: block}, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


class HealthPolicy(ApiModel):
    """When a backend counts as healthy, measured over a sliding window."""

    interval: Duration = Field(default="15s", description="How often the controller evaluates the route.")
    window: Duration = Field(default="2m", description="Time window the error rate and latency are measured over.")
    max_error_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Above this share of failed requests (0-1) a backend is unhealthy.",
    )
    max_throttle_rate: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Above this share of throttled (429) requests (0-1) a backend is degraded.",
    )
    max_latency_p95: Duration = Field(
        default="8s",
        description="Above this 95th-percentile latency a backend is degraded.",
    )
    max_time_to_first_token_p95: Duration | None = Field(
        default=None,
        alias="maxTimeToFirstTokenP95",
        description=(
            "Above this 95th-percentile time to first token (streams) a backend is degraded; unset: not judged."
        ),
    )
    min_requests: int = Field(
        default=20,
        ge=0,
        le=1_000_000,
        description="Fewer requests than this in the window is too little data to judge (health Unknown).",
    )
    unhealthy_after: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Consecutive bad evaluations before a backend is ejected (hysteresis against noise).",
    )
    healthy_after: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Consecutive good evaluations before a degraded backend is healthy again.",
    )


class FailoverPolicy(ApiModel):
    """How an unhealthy backend leaves and comes back."""

    eject_for: Duration = Field(
        default="2m",
        description="How long an ejected backend stays out before it is tried again.",
    )
    recovery_ramp: list[Percent] = Field(
        default_factory=lambda: [10, 25, 50, 100],
        min_length=1,
        max_length=10,
        description="Percentages of its desired weight a recovering backend gets, one step per recoveryInterval.",
    )
    recovery_interval: Duration = Field(
        default="30s",
        description="Time between two steps of the recovery ramp.",
    )
    consecutive_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Failed requests in a row after which a gateway ejects a backend locally, for ejectFor.",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description=(
            "Extra upstream attempts one request may make after a failure before its first byte "
            "(0: never retried)."
        ),
    )
    retry_budget: Percent = Field(
        default=100,
        description=(
            "Retries in flight a gateway allows for this route, as a percentage of its requests in flight "
            "(at least 3 at any time). 100, the default, puts failover first: every request may move on "
            "(within maxRetries) while local ejection stops the retries after consecutiveFailures; lower "
            "(20, like Envoy's retry budget) caps what an outage adds to the other backends, at the price of "
            "client errors in the first moments of an outage that hits much of the traffic."
        ),
    )

    model_config = ApiModel.config_with_rules(
        {
            "rule": "self.recoveryRamp.isSorted() && self.recoveryRamp[self.recoveryRamp.size() - 1] == 100",
            "message": "recoveryRamp must be increasing and end at 100",
        }
    )

    @field_validator("recovery_ramp")
    @classmethod
    def _ramp(cls, ramp: list[int]) -> list[int]:
        if any(not 0 < p <= 100 for p in ramp):
            raise ValueError("recoveryRamp percentages must be between 1 and 100")
        if ramp != sorted(ramp) or ramp[-1] != 100:
            raise ValueError("recoveryRamp must be increasing and end at 100")
        return ramp

    @property
    def eject_seconds(self) -> float:
        return parse_duration(self.eject_for)

    @property
    def recovery_seconds(self) -> float:
        return parse_duration(self.recovery_interval)


class TokenLimits(ApiModel):
    """Tokens per minute a route serves (issue 16.5). A request is counted at its estimate before
    it goes out (its body's length / 4, plus max_tokens or max_completion_tokens when given) and
    corrected by the usage the backend reports; over the limit it gets 429 with Retry-After."""

    tokens_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000_000,
        description="Tokens per minute the route serves in all, per gateway process.",
    )
    tokens_per_minute_per_client: int | None = Field(
        default=None, ge=1, le=1_000_000_000,
        description="Tokens per minute one client key may use on this route, per gateway process.",
    )


class RolloutPolicy(ApiModel):
    """How a changed provider block (a new model version) or a new backend is rolled out."""

    steps: list[Percent] = Field(
        default_factory=lambda: [5, 20, 50, 100],
        min_length=1,
        max_length=10,
        description="Canary share (percent of the backend's traffic) at each step; strictly increasing, ending at 100.",
    )
    interval: Duration = Field(default="5m", description="Time at each step before the canary is analysed.")
    max_error_rate: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="The canary fails a check above this error rate (0-1).",
    )
    max_latency_p95: Duration = Field(
        default="6s",
        description="The canary fails a check above this 95th-percentile latency.",
    )
    max_time_to_first_token_p95: Duration | None = Field(
        default=None,
        alias="maxTimeToFirstTokenP95",
        description=(
            "The canary fails a check above this 95th-percentile time to first token (streams), so a canary "
            "that answers correctly but slowly is rolled back; unset: not checked."
        ),
    )
    min_requests: int = Field(
        default=10,
        ge=0,
        le=1_000_000,
        description="Fewer canary requests than this in an interval makes the check Inconclusive.",
    )
    failure_limit: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Failed checks after which the canary is rolled back.",
    )

    model_config = ApiModel.config_with_rules(
        {
            "rule": "self.steps.isSorted() && self.steps.all(x, self.steps.exists_one(y, y == x))",
            "message": "steps must be strictly increasing",
        },
        {"rule": "self.steps[self.steps.size() - 1] == 100", "message": "steps must end at 100"},
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        if any(not 0 < s <= 100 for s in steps):
            raise ValueError("steps must be between 1 and 100")
        if any(a >= b for a, b in itertools.pairwise(steps)):
            raise ValueError("steps must be strictly increasing")
        if steps[-1] != 100:
            raise ValueError("steps must end at 100")
        return steps

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def max_latency_seconds(self) -> float:
        return parse_duration(self.max_latency_p95)


def _one_default(model: type[ApiModel]) -> Callable[[], Any]:
    """A default factory handing out one instance of ``model`` made of its defaults (models are
    immutable, so sharing is safe): a route that leaves a policy out does not build and validate
    the defaults again."""
    made = model()
    return lambda: made


class AIRouteSpec(ApiModel):
    """How one AI use case spreads its traffic across providers, and how it fails over."""

    model: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$",
        description=(
            "The model name clients send in the OpenAI `model` field to use this route. A model belongs to "
            "the route that claimed it first (oldest creationTimestamp, then namespace, then name): any "
            "other route naming it is not served and gets a Conflict condition naming the owner."
        ),
    )
    tier: Tier = Field(
        default="standard",
        description="Business criticality: critical routes are shed last when the gateway is saturated.",
    )
    backends: list[Backend] = Field(
        min_length=1,
        max_length=MAX_BACKENDS,
        description="Where the traffic goes. Names are unique; at least one weight must be above 0.",
    )
    health: HealthPolicy = Field(default_factory=_one_default(HealthPolicy),
                                 description="When a backend counts as healthy.")
    failover: FailoverPolicy = Field(default_factory=_one_default(FailoverPolicy),
                                     description="Ejection and recovery.")
    rollout: RolloutPolicy = Field(default_factory=_one_default(RolloutPolicy),
                                   description="Canary rollout of changed backends.")
    degraded_response: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="Answer given as a normal assistant message when every backend fails.",
    )
    allowed_clients: list[ClientName] = Field(
        default_factory=list,
        max_length=64,
        description="Names of gateway client keys allowed to use this route; empty allows every client.",
    )
    limits: TokenLimits = Field(
        default_factory=_one_default(TokenLimits),
        description="Tokens-per-minute limits of the route and of each client on it.",
    )

    model_config = ApiModel.config_with_rules(
        {"rule": "self.backends.exists(b, b.weight > 0)", "message": "at least one backend must have a weight above 0"},
        {"rule": "self.backends.all(b, has(b.embeddings)) || self.backends.all(b, !has(b.embeddings))",
         "message": EMBEDDINGS_ALL_OR_NONE},
        {"rule": "!has(self.backends[0].embeddings) || self.backends.all(b, has(b.embeddings) && "
                 "b.embeddings.family == self.backends[0].embeddings.family && "
                 "b.embeddings.dimensions == self.backends[0].embeddings.dimensions)",
         "message": EMBEDDINGS_SAME},
    )

    @field_validator("backends", mode="wrap")
    @classmethod
    def _reuse_backends(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> list[Backend]:
        return reuse_validated_backends(value, handler)

    @field_validator("health", "failover", "rollout", "limits", mode="wrap")
    @classmethod
    def _reuse_policies(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return reuse_validated_policy(value, handler, str(info.field_name))

    @model_validator(mode="after")
    def _backends(self) -> AIRouteSpec:
        seen: set[str] = set()
        for i, b in enumerate(self.backends):
            if b.name in seen:
                raise ValueError(f"backends[{i}].name: duplicate backend name {b.name!r}")
            seen.add(b.name)
        if not any(b.weight > 0 for b in self.backends):
            raise ValueError("backends: at least one backend must have a weight above 0")
        self._same_embeddings()
        return self

    def _same_embeddings(self) -> None:
        declared = [b.embeddings for b in self.backends]
        if all(e is None for e in declared):
            return
        missing = [b.name for b in self.backends if b.embeddings is None]
        if missing:
            raise ValueError(f"backends: {EMBEDDINGS_ALL_OR_NONE} (without it: {', '.join(missing)})")
        first = self.backends[0]
        for i, b in enumerate(self.backends):
            if b.embeddings != first.embeddings:
                assert b.embeddings is not None and first.embeddings is not None
                raise ValueError(
                    f"backends[{i}].embeddings: {EMBEDDINGS_SAME} ({b.name} returns {b.embeddings.family} with "
                    f"{b.embeddings.dimensions} dimensions, {first.name} {first.embeddings.family} with "
                    f"{first.embeddings.dimensions})")

    @property
    def embeddings(self) -> Embeddings | None:
        """What the route's embedding backends return (None: a chat route)."""
        return self.backends[0].embeddings

    def backend(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)


MAX_REMEMBERED = 4096
"""Validated backends and policies kept by their input (all forgotten at once when more would be kept)."""
_VALIDATED: dict[tuple[str, str], Any] = {}


def _remember(key: tuple[str, str], validated: Any) -> None:
    if len(_VALIDATED) >= MAX_REMEMBERED:
        _VALIDATED.clear()
    _VALIDATED[key] = validated


def reuse_validated_backends(value: Any, handler: ValidatorFunctionWrapHandler) -> list[Backend]:
    """Validates a spec's ``backends`` with ``handler`` (pydantic's own validation), except that a
    backend whose input (a plain dict, by its ``repr``) was validated before is that very validated
    backend: thousands of routes that declare the same backend (the same deployment, the same
    name) are validated, and their provider blocks hashed, once. Backends are immutable and
    validated on their own, so the result is the same; an invalid one is never remembered, and
    its errors name its place in this spec as before."""
    if not isinstance(value, list):
        return handler(value)  # type: ignore[no-any-return]
    keys = [("backends", repr(b)) if type(b) is dict else None for b in value]
    known = [_VALIDATED.get(k) if k is not None else None for k in keys]
    out: list[Backend] = handler([b if b is not None else raw for b, raw in zip(known, value, strict=True)])
    for key, backend, was in zip(keys, out, known, strict=True):
        if key is not None and was is None:
            _remember(key, backend)
    return out


def reuse_validated_policy(value: Any, handler: ValidatorFunctionWrapHandler, field: str) -> Any:
    """A policy (``health``, ``failover``, ``rollout``, ``limits``) validated with ``handler``,
    except that one whose input (a plain dict, by its ``repr``) was validated before is that very
    validated policy: the API server writes every default of the CRD into every route, so
    thousands of routes state the same policies, and each distinct one is validated once. An
    invalid one is never remembered; its errors name its place as before."""
    if type(value) is not dict:
        return handler(value)
    key = (field, repr(value))
    known = _VALIDATED.get(key)
    if known is None:
        known = handler(value)
        _remember(key, known)
    return known


__all__ = [
    "TIERS",
    "AIRouteSpec",
    "AzureOpenAI",
    "Backend",
    "Bedrock",
    "Embeddings",
    "FailoverPolicy",
    "HealthPolicy",
    "InCluster",
    "OpenAICompatible",
    "RolloutPolicy",
    "Tier",
    "VertexAI",
]
