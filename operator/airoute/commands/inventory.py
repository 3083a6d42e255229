"""``airoute inventory``: every AI route by tier, provider, cloud and region, with its weak spots."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airoute.api import TIERS, AIRoute, InvalidRoute, Tier, parse_route
from airoute.core.ownership import Ownership, ownership
from airoute.providers.capabilities import unservable

RISKS = {
    "single-provider": "only one backend can take traffic",
    "single-cloud": "every backend is in the same cloud",
    "no-standby": "no standby backend (weight 0) to fall back on",
    "no-degraded-answer": "critical route without a degradedResponse",
    "model-conflict": "another route claimed its spec.model first: this one is not served",
}


@dataclass(frozen=True)
class BackendRow:
    name: str
    provider: str
    cloud: str
    region: str
    weight: int
    effective: int | None


@dataclass(frozen=True)
class RouteRow:
    route: str
    model: str
    tier: Tier
    backends: list[BackendRow]
    risks: list[str] = field(default_factory=list)
    ready: str = "Unknown"
    cannot_serve: dict[str, list[str]] = field(default_factory=dict)
    """Request features no backend can serve: ``""`` with every backend up, else with that one down."""
    model_owner: str | None = None
    """The route that owns this one's ``spec.model`` when it is another (``model-conflict``)."""


def risks(route: AIRoute) -> list[str]:
    spec = route.spec
    found = []
    if len(spec.backends) < 2:
        found.append("single-provider")
    if len({b.cloud for b in spec.backends}) < 2:
        found.append("single-cloud")
    if not any(b.weight == 0 for b in spec.backends):
        found.append("no-standby")
    if spec.tier == "critical" and not spec.degraded_response:
        found.append("no-degraded-answer")
    return found


def _row(route: AIRoute, owned: Ownership) -> RouteRow:
    backends = [
        BackendRow(
            b.name,
            b.provider_kind,
            b.cloud,
            getattr(b.provider, "location", "") or "",
            b.weight,
            route.status.weights.get(b.name) if route.status.weights else None,
        )
        for b in route.spec.backends
    ]
    ready = route.status.condition("Ready")
    lacking = unservable([(b.name, b.provider_kind, b.provider) for b in route.spec.backends])
    owner = owned.lost.get(route.key)
    return RouteRow(
        route.key, route.spec.model, route.spec.tier, backends,
        [*risks(route), *(["model-conflict"] if owner is not None else [])], ready.status if ready else "Unknown",
        {down: [f.short for f in features] for down, features in lacking.items()},
        owner.describe() if owner is not None else None,
    )


def inventory(objs: Iterable[Mapping[str, Any]]) -> tuple[list[RouteRow], list[str]]:
    """Rows ordered by tier (critical first), and the objects that could not be read."""
    rows, broken = [], []
    objs = list(objs)
    owned = ownership(objs)
    for obj in objs:
        try:
            rows.append(_row(parse_route(obj), owned))
        except InvalidRoute as exc:
            broken.append(str(exc))
    rows.sort(key=lambda r: (TIERS.index(r.tier), r.route))
    return rows, broken


def to_json(rows: list[RouteRow]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)


def risk_texts(row: RouteRow) -> list[str]:
    """The row's risks, a model conflict with the route that owns the model."""
    return [f"model-conflict (owned by {row.model_owner})" if k == "model-conflict" else k for k in row.risks]


def _backend_text(b: BackendRow) -> str:
    now = f"→{b.effective}" if b.effective is not None and b.effective != b.weight else ""
    return f"{b.name} ({b.provider}, {b.cloud}/{b.region}) {b.weight}{now}"


def cannot_serve_lines(row: RouteRow) -> list[str]:
    """``all up: …`` then ``<backend> down: …`` for each backend whose loss costs a feature."""
    up = row.cannot_serve.get("", [])
    lines = [f"all up: {', '.join(up) or 'nothing'}"]
    for down, features in row.cannot_serve.items():
        lost = [f for f in features if f not in up]
        if down and lost:
            lines.append(f"{down} down: also {', '.join(lost)}")
    return lines


def to_markdown(rows: list[RouteRow], capabilities: bool = False) -> str:
    extra = " cannot serve |" if capabilities else ""
    lines = [
        "| route | model | tier | backends (provider, cloud/region, weight) | risks |" + extra,
        "| --- | --- | --- | --- | --- |" + (" --- |" if capabilities else ""),
    ]
    for r in rows:
        backends = "<br>".join(_backend_text(b) for b in r.backends)
        lacking = f" {'<br>'.join(cannot_serve_lines(r))} |" if capabilities else ""
        lines.append(f"| {r.route} | {r.model} | {r.tier} | {backends} | {', '.join(risk_texts(r)) or '—'} |{lacking}")
    summary = {k: sum(k in r.risks for r in rows) for k in RISKS}
    lines += ["", *(f"- **{k}** ({RISKS[k]}): {n} route(s)" for k, n in summary.items() if n)]
    return "\n".join(lines) + "\n"
