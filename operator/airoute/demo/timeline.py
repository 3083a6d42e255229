"""Printing a route's timeline: weights per backend and the decisions, one block per change."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from airoute.demo.simulation import Moment

_STYLE = {"Healthy": "green", "Degraded": "yellow", "Unhealthy": "red", "Unknown": "dim"}


def _bar(weight: int) -> str:
    return "█" * round(weight / 5) + f" {weight}"


def print_timeline(moments: Iterable[Moment], console: Console, title: str) -> int:
    """Print every moment with events; returns how many decisions were printed."""
    table = Table(title=title, show_lines=True, expand=False)
    table.add_column("time", justify="right", style="bold")
    table.add_column("weights (percent)")
    table.add_column("what happened and why")
    shown = 0
    for m in moments:
        if not m.events:
            continue
        shown += 1
        rows = []
        for name, weight in m.weights.items():
            canary = f" (canary {m.canary[name]}%)" if name in m.canary else ""
            style = _STYLE.get(m.health.get(name, "Unknown"), "")
            rows.append(f"[{style}]{name:<12}[/] {_bar(weight)}{canary}")
        notes = [
            f"[{'red' if e.type == 'Warning' else 'cyan'}]{e.reason}[/]: {e.message}"
            for e in m.events
            if e.reason != "WeightChanged"
        ]
        table.add_row(f"{int(m.at) // 60}m{int(m.at) % 60:02d}s", "\n".join(rows), "\n".join(notes) or "rebalanced")
    console.print(table)
    return shown
