"""The demo's last screen: the measured figures, where the files went, what to try next.

It fits on one screen of 80 columns and 24 lines; every decision with its time is in the report.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from airoute.demo.load import Tally
from airoute.demo.scenario import Findings, drill_passed, drill_result
from airoute.demo.view import clock

REAL_CLUSTER_DOCS = "charts/airoute/README.md"
DEMO_DOCS = "docs/demo.md"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def problems(findings: Findings, tally: Tally) -> list[str]:
    """What did not hold of the story's promises; empty when the demo passed."""
    found = []
    if tally.failed:
        found.append(f"{tally.failed:,} client request(s) failed")
    if findings.canary_weight_after != 0:
        found.append("the bad canary kept traffic")
    if findings.drill is None or not drill_passed(findings.drill):
        found.append("the drill did not pass")
    return found


def _figures(grid: Table, findings: Findings, tally: Tally) -> None:
    outage = "—" if findings.outage_client_errors is None else findings.outage_client_errors
    grid.add_row("failover", f"Azure OpenAI down → its weight at 0 in {_seconds(findings.failover_seconds)}")
    grid.add_row(
        "client errors",
        Text.assemble(
            (f"{tally.failed:,}", "bold red" if tally.failed else "bold green"),
            f" of {tally.total:,} requests ({outage} during the outage, {tally.degraded:,} fallback answers)",
        ),
    )
    recovery = _seconds(findings.recovery_seconds)
    grid.add_row("recovery", f"Azure OpenAI back at full weight {recovery} after it recovered")
    grid.add_row("quota spill", f"Azure OpenAI's quota spent: {findings.quota_throttled} requests got 429, "
                                f"{findings.quota_client_errors} client errors (held off, spilled to the others)")
    rollback = _seconds(findings.rollback_seconds)
    grid.add_row("rollback", f"the bad Bedrock canary rolled back in {rollback}: {findings.rollback_message}")
    grid.add_row("drill", "—" if findings.drill is None else drill_result(findings.drill))


def _files(grid: Table, png: Path | None, report: Path, folder: Path) -> None:
    if png is not None:
        grid.add_row("timeline", str(png))
    grid.add_row("full report", Text.assemble(str(report), ("  every decision with its time", "dim")))
    grid.add_row("route folder", Text.assemble(str(folder), ("  route, status, gateway log", "dim")))


def _next(grid: Table) -> None:
    grid.add_row("next", Text.assemble("airoute demo --simulate", ("  the same decisions in virtual time", "dim")))
    grid.add_row("", Text.assemble(DEMO_DOCS, ("  what the demo shows, and how to read it", "dim")))
    grid.add_row("", Text.assemble(REAL_CLUSTER_DOCS, ("  install airoute on a real cluster", "dim")))


def ending(findings: Findings, tally: Tally, files: tuple[Path | None, Path, Path], elapsed: float) -> RenderableType:
    """The last screen; ``files`` are the PNG (if written), the report and the demo's route folder."""
    found = problems(findings, tally)
    if found:
        title = Text.assemble(("✗ airoute demo failed", "bold red"), f" in {clock(elapsed)}: {'; '.join(found)}")
    else:
        title = Text.assemble(("✓ airoute demo passed", "bold green"), f" in {clock(elapsed)}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    _figures(grid, findings, tally)
    grid.add_row("", "")
    _files(grid, *files)
    grid.add_row("", "")
    _next(grid)
    return Group(title, "", grid)
