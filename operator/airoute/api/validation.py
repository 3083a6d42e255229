"""Parsing AIRoute objects with errors that name the field path and what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from airoute.api.base import API_VERSION, KIND
from airoute.api.providers import DNS_LABEL, DNS_SUBDOMAIN
from airoute.api.spec import AIRouteSpec
from airoute.api.status import AIRouteStatus


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with an input: where (``spec.backends[1].weight``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidRoute(ValueError):
    """An AIRoute that cannot be used; ``problems`` lists every field that is wrong."""

    def __init__(self, problems: list[FieldProblem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(p) for p in problems))


class ObjectMeta(BaseModel):
    """The parts of Kubernetes metadata airoute reads."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    namespace: str = Field(default="default", min_length=1, max_length=63, pattern=DNS_LABEL)
    generation: int = 1
    resource_version: str | None = None
    uid: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class AIRoute(BaseModel):
    """A whole AIRoute object: metadata, spec and (possibly empty) status."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: ObjectMeta
    spec: AIRouteSpec
    status: AIRouteStatus = Field(default_factory=AIRouteStatus)

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.metadata.namespace}/{self.metadata.name}"


_SUBJECT = re.compile(r"^(?:Input|String|List|Value|Dictionary|Object) should ")
_EMBEDDED_PATH = re.compile(r"^((?:[A-Za-z0-9_]+|\[[0-9]+\])(?:\.?(?:[A-Za-z0-9_]+|\[[0-9]+\]))*): (.*)$", re.S)


def _join(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _describe(err: ErrorDetails) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    else:
        msg = _SUBJECT.sub("should ", msg, count=1)
    value = err.get("input")
    if kind not in ("value_error",) and isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 64:
        msg += f" (got {value!r})"
    return msg


def problems_from(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Turn pydantic's errors into :class:`FieldProblem` s with wire (camelCase) paths."""
    out: list[FieldProblem] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in _UNION_TAGS)
        message = _describe(err)
        path = _join(((prefix,) if prefix else ()) + loc)
        embedded = _EMBEDDED_PATH.match(message)
        if err["type"] == "value_error" and embedded:
            sub, message = embedded.group(1), embedded.group(2)
            path = f"{path}.{sub}" if path and not sub.startswith("[") else f"{path}{sub}"
        out.append(FieldProblem(path, message))
    return out


_UNION_TAGS = {"function-after[_check_duration(), str]"}


def parse_spec(obj: Mapping[str, Any], prefix: str = "spec") -> AIRouteSpec:
    """Validate an AIRoute spec; raises :class:`InvalidRoute` listing every problem."""
    try:
        return AIRouteSpec.model_validate(obj)
    except ValidationError as exc:
        raise InvalidRoute(problems_from(exc, prefix)) from None


def parse_route(obj: Mapping[str, Any], source: str = "") -> AIRoute:
    """Validate a whole AIRoute object (as read from YAML or the API server)."""
    problems: list[FieldProblem] = []
    if not isinstance(obj, Mapping):
        raise InvalidRoute([FieldProblem("", f"expected a mapping, got {type(obj).__name__}")], source)
    if obj.get("apiVersion") != API_VERSION:
        problems.append(FieldProblem("apiVersion", f"must be {API_VERSION} (got {obj.get('apiVersion')!r})"))
    if obj.get("kind") != KIND:
        problems.append(FieldProblem("kind", f"must be {KIND} (got {obj.get('kind')!r})"))
    data = dict(obj)
    status, _ = parse_status(data.pop("status", None) or {})
    try:
        route = AIRoute.model_validate({**data, "status": AIRouteStatus()})
    except ValidationError as exc:
        problems.extend(problems_from(exc))
        raise InvalidRoute(problems, source) from None
    if problems:
        raise InvalidRoute(problems, source)
    return route.model_copy(update={"status": status})


def parse_status(obj: Mapping[str, Any]) -> tuple[AIRouteStatus, list[FieldProblem]]:
    """A previous status, or an empty one (and the problems) when it cannot be read."""
    try:
        return AIRouteStatus.model_validate(obj), []
    except ValidationError as exc:
        return AIRouteStatus(), problems_from(exc, "status")
