"""Fault injection shared by every emulator: one rule type (:class:`Faults`) and its controller.

A rule applies to a request when its scope matches (``model`` — the deployment, model ID or model
name the request targets — and ``version`` — the model version the emulator currently serves).
Rules are checked in order; the first match decides. Randomness comes from one seeded
:class:`random.Random`, so a run with the same seed and request order injects the same faults.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Down = Literal["none", "refuse", "reset", "drop"]
Jitter = Literal["uniform", "exponential", "normal"]
Action = Literal["ok", "error", "throttle", "reset", "drop"]

_DOWN: tuple[str, ...] = ("none", "refuse", "reset", "drop")
_JITTER: tuple[str, ...] = ("uniform", "exponential", "normal")


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and for which requests.

    ``down``: ``refuse`` closes the listening socket and resets open connections (clients see
    "connection refused"; server-wide, scope ignored); ``reset`` accepts and resets the connection
    when a request arrives; ``drop`` accepts and never answers.

    ``stream_error_after``: after that many chunks a stream reports an error in band, the way the
    provider does once a stream began — OpenAI-compatible servers (vLLM) a ``data: {"error": …}``
    event with ``error_status`` as its code, then ``data: [DONE]``; Bedrock an ``exception``
    frame (``throttlingException`` for 429, ``modelStreamErrorException`` for 424,
    ``internalServerException`` for 500, …); Vertex AI a ``data: {"error": …}`` event.

    ``stall_after``: after that many chunks a stream goes silent for ``stall_for`` seconds, then
    goes on (a backend that stalls mid-stream; with 0, before its first chunk).

    ``error_code``: the provider's own error code for injected errors, where it has one besides
    the status (Bedrock's ``x-amzn-ErrorType``: ``ModelNotReadyException`` is a 429 that is not
    a throttle).
    """

    error_rate: float = 0.0
    error_status: int = 500
    throttle_rate: float = 0.0
    retry_after: float | None = 1.0
    latency: float = 0.0
    jitter: float = 0.0
    jitter_dist: Jitter = "uniform"
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    stream_error_after: int | None = None
    stall_after: int | None = None
    stall_for: float = 0.0
    error_code: str | None = None
    down: Down = "none"
    model: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "throttle_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("latency", "jitter", "first_token_delay", "chunk_delay", "stall_for"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not 400 <= self.error_status <= 599:
            raise ValueError(f"error_status must be an HTTP error status, got {self.error_status}")
        if self.down not in _DOWN:
            raise ValueError(f"down must be one of {', '.join(_DOWN)}, got {self.down!r}")
        if self.jitter_dist not in _JITTER:
            raise ValueError(f"jitter_dist must be one of {', '.join(_JITTER)}")
        for name in ("cut_after", "stream_error_after", "stall_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")

    def matches(self, model: str, version: str) -> bool:
        """Whether this rule's scope covers a request for ``model`` while ``version`` is served."""
        return (self.model is None or self.model == model) and (
            self.version is None or self.version == version
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class Decision:
    """What to do with one request: the action, the delay before answering, the stream knobs."""

    action: Action = "ok"
    status: int = 200
    delay: float = 0.0
    retry_after: float | None = None
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    stream_error_after: int | None = None
    error_status: int = 500
    error_code: str | None = None
    stall_after: int | None = None
    stall_for: float = 0.0


OK = Decision()


class FaultController:
    """The rules in force, the model version served, and the seeded random source.

    Listeners (the emulator server) are told about every change, synchronously.
    """

    def __init__(self, seed: int | None = 0, model_version: str = "v1") -> None:
        self._rules: tuple[Faults, ...] = ()
        self._model_version = model_version
        self._seed = seed
        self.rng = random.Random(seed)
        self._listeners: list[Callable[[], None]] = []

    @property
    def rules(self) -> tuple[Faults, ...]:
        return self._rules

    @property
    def active(self) -> bool:
        """False when no rule is set: the fast path skips every other check."""
        return bool(self._rules)

    @property
    def model_version(self) -> str:
        return self._model_version

    @property
    def refusing(self) -> bool:
        return any(rule.down == "refuse" for rule in self._rules)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def set(self, *rules: Faults, **fields: Any) -> None:
        """Replace every rule: ``set(Faults(...), Faults(...))`` or ``set(error_rate=0.5)``."""
        extra = (Faults(**fields),) if fields else ()
        self._rules = tuple(rules) + extra
        self._notify()

    def add(self, rule: Faults) -> None:
        self._rules = (*self._rules, rule)
        self._notify()

    def clear(self) -> None:
        self.set()

    def switch_version(self, version: str) -> None:
        """Serve another model version (rules scoped to a version start or stop applying)."""
        self._model_version = version
        self._notify()

    def reset(self) -> None:
        """No rules, the random source re-seeded (the served version is kept)."""
        self.rng = random.Random(self._seed)
        self.set()

    def decide(self, model: str) -> Decision:
        rule = self._match(model)
        if rule is None:
            return OK
        rng = self.rng
        delay = rule.latency + self._jitter(rule)
        if rule.down in ("reset", "drop"):
            return Decision(action=rule.down, delay=delay)
        if rule.throttle_rate and rng.random() < rule.throttle_rate:
            return Decision("throttle", 429, delay, retry_after=rule.retry_after)
        if rule.error_rate and rng.random() < rule.error_rate:
            return Decision("error", rule.error_status, delay, retry_after=rule.retry_after,
                            error_code=rule.error_code)
        return Decision(
            "ok", 200, delay, None, rule.first_token_delay, rule.chunk_delay, rule.cut_after,
            rule.stream_error_after, rule.error_status, rule.error_code, rule.stall_after, rule.stall_for,
        )

    def snapshot(self) -> dict[str, Any]:
        return {"model_version": self._model_version, "rules": [r.to_dict() for r in self._rules]}

    def load(self, data: Mapping[str, Any]) -> None:
        """Apply an admin document: ``{"model_version"?, "rules"?}`` or one bare rule."""
        if "rules" in data or "model_version" in data:
            extra = sorted(set(data) - {"rules", "model_version"})
            if extra:
                raise ValueError(f"unknown field(s): {', '.join(extra)}")
            rules = data.get("rules", [r.to_dict() for r in self._rules])
            if not isinstance(rules, list):
                raise ValueError("rules must be a list of fault objects")
            parsed = _parse_rules(rules)
            self._model_version = str(data.get("model_version", self._model_version))
            self.set(*parsed)
        else:
            self.set(Faults.from_dict(data))

    def _match(self, model: str) -> Faults | None:
        for rule in self._rules:
            if rule.matches(model, self._model_version):
                return rule
        return None

    def _jitter(self, rule: Faults) -> float:
        if not rule.jitter:
            return 0.0
        if rule.jitter_dist == "exponential":
            return self.rng.expovariate(1.0 / rule.jitter)
        if rule.jitter_dist == "normal":
            return abs(self.rng.gauss(0.0, rule.jitter))
        return self.rng.uniform(0.0, rule.jitter)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()


def _parse_rules(rules: Iterable[Any]) -> list[Faults]:
    parsed = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise ValueError(f"rules[{index}] must be an object")
        try:
            parsed.append(Faults.from_dict(rule))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rules[{index}]: {exc}") from exc
    return parsed
