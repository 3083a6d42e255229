"""``airoute inventory``: every AI route by tier, provider, cloud and region, with its weak spots."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airoute.api import TIERS, AIRoute, InvalidRoute, Tier, parse_route

RISKS = {
    "single-provider": "only one backend can take traffic",
    "single-cloud": "every backend is in the same cloud",
    "no-standby": "no standby backend (weight 0) to fall back on",
    "no-degraded-answer": "critical route without a degradedResponse",
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


def _row(route: AIRoute) -> RouteRow:
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
    return RouteRow(
        route.key, route.spec.model, route.spec.tier, backends, risks(route), ready.status if ready else "Unknown"
    )


def inventory(objs: Iterable[Mapping[str, Any]]) -> tuple[list[RouteRow], list[str]]:
    """Rows ordered by tier (critical first), and the objects that could not be read."""
    rows, broken = [], []
    for obj in objs:
        try:
            rows.append(_row(parse_route(obj)))
        except InvalidRoute as exc:
            broken.append(str(exc))
    rows.sort(key=lambda r: (TIERS.index(r.tier), r.route))
    return rows, broken


def to_json(rows: list[RouteRow]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)


def _backend_text(b: BackendRow) -> str:
    now = f"→{b.effective}" if b.effective is not None and b.effective != b.weight else ""
    return f"{b.name} ({b.provider}, {b.cloud}/{b.region}) {b.weight}{now}"


def to_markdown(rows: list[RouteRow]) -> str:
    lines = [
        "| route | model | tier | backends (provider, cloud/region, weight) | risks |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        backends = "<br>".join(_backend_text(b) for b in r.backends)
        lines.append(f"| {r.route} | {r.model} | {r.tier} | {backends} | {', '.join(r.risks) or '—'} |")
    summary = {k: sum(k in r.risks for r in rows) for k in RISKS}
    lines += ["", *(f"- **{k}** ({RISKS[k]}): {n} route(s)" for k, n in summary.items() if n)]
    return "\n".join(lines) + "\n"
