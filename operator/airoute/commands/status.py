"""``airoute status ROUTE``: weights, health with reasons, rollouts, drills and recent events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

_COLOURS = {"Healthy": "green", "Degraded": "yellow", "Unhealthy": "red", "Unknown": "dim"}


def _backends(status: Mapping[str, Any], spec: Mapping[str, Any]) -> Table:
    table = Table(title="backends", title_justify="left")
    for col in ("backend", "provider", "desired", "now", "health", "reason / measurement"):
        table.add_column(col)
    seen = {b.get("name"): b for b in status.get("backends", [])}
    canary = status.get("canaryWeights", {})
    for b in spec.get("backends", []):
        s = seen.get(b["name"], {})
        kind = next((k for k in b if k not in ("name", "weight", "timeout")), "?")
        health = s.get("health", "Unknown")
        now = str(status.get("weights", {}).get(b["name"], "-"))
        if b["name"] in canary:
            now += f" (canary {canary[b['name']]}%)"
        why = s.get("message") or s.get("reason", "")
        table.add_row(b["name"], kind, str(b["weight"]), now, Text(health, style=_COLOURS.get(health, "")), why)
    return table


def _conditions(status: Mapping[str, Any]) -> Table:
    table = Table(title="conditions", title_justify="left")
    for col in ("type", "status", "reason", "message"):
        table.add_column(col)
    for c in status.get("conditions", []):
        table.add_row(c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
    return table


def _rollouts(status: Mapping[str, Any]) -> Table | None:
    rollouts = status.get("rollouts", [])
    if not rollouts:
        return None
    table = Table(title="rollouts", title_justify="left")
    for col in ("backend", "kind", "phase", "step", "canary %", "failed checks", "message"):
        table.add_column(col)
    for r in rollouts:
        table.add_row(
            r.get("backend", ""),
            r.get("kind", ""),
            r.get("phase", ""),
            str(r.get("step", 0)),
            str(r.get("canaryWeight", 0)),
            str(r.get("failedChecks", 0)),
            r.get("message", ""),
        )
    return table


def render(obj: Mapping[str, Any], events: list[dict[str, Any]], console: Console) -> None:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    header = f"[bold]{meta.get('namespace')}/{meta.get('name')}[/]  model={spec.get('model')}  tier={spec.get('tier')}"
    parts: list[Any] = [header, _backends(status, spec), _conditions(status)]
    if (rollouts := _rollouts(status)) is not None:
        parts.append(rollouts)
    for d in status.get("drills", []):
        parts.append(f"drill of {d.get('backend')}: {d.get('phase')} (until {d.get('until')})")
    if events:
        parts.append("[bold]recent events[/]")
        parts += [f"  {e.get('type')} {e.get('reason')}: {e.get('message')}" for e in events[-10:]]
    if not status:
        parts.append("[yellow]no status yet: is the airoute controller running?[/]")
    console.print(Group(*parts))
