"""The base of every AIRoute API model: lowerCamelCase on the wire, snake_case in Python."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "airoute.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "AIRoute"
PLURAL = "airoutes"
SINGULAR = "airoute"
SHORT_NAME = "air"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(DURATION_PATTERN)


@functools.lru_cache(maxsize=4096)
def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration string such as ``"90s"``, ``"2m"`` or ``"1h30m"`` (cached:
    every evaluation of every route reads its durations)."""
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration: use a number with a unit, like 30s, 2m, 1h")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest readable duration string for a number of seconds (``120`` → ``"2m"``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    if whole == seconds and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole == seconds and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{seconds:g}s"


MAX_DURATION_SECONDS = 365 * 24 * 3600.0
"""The longest duration a spec may hold (8760h): longer ones overflow timestamps (year 9999)."""


def _check_duration(text: str) -> str:
    if len(text) > 32:
        raise ValueError("is not a duration: at most 32 characters, like 30s, 2m, 1h")
    if parse_duration(text) > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r} is too long: at most {format_duration(MAX_DURATION_SECONDS)} (365 days)")
    return text


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "maxLength": 32}),
]
"""A duration string; its CRD schema carries :data:`DURATION_PATTERN`."""


class ApiModel(BaseModel):
    """Strict, immutable, camelCase-aliased model; unknown fields are errors (like ``--strict``)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    @classmethod
    def config_with_rules(cls, *rules: dict[str, str]) -> ConfigDict:
        """This model's config plus CRD ``x-kubernetes-validations`` (CEL) rules."""
        config = ConfigDict(**cls.model_config)
        config["json_schema_extra"] = {"x-kubernetes-validations": list(rules)}  # type: ignore[arg-type]
        return config

    def updated(self, update: Mapping[str, Any]) -> Self:
        """``model_copy(update=update)``, or this very object when nothing would change: models are
        immutable, so sharing is safe, and a cycle that decides thousands of routes again then
        allocates only what changed."""
        if all(getattr(self, name) == value for name, value in update.items()):
            return self
        return self.model_copy(update=dict(update))

    def to_wire(self) -> dict[str, object]:
        """The JSON-ready dict as it appears in Kubernetes (camelCase, ``None`` left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
