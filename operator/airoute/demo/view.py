"""What the demo's live view shows, drawn to fit the terminal: pure functions of one frame.

The frame is laid out in a fixed number of lines that never exceeds the terminal's height, and
every line is cut (never wrapped) at its width, so the region can be redrawn in place: a header,
the phases (done ✓, running ▶, to come ·), one table of the backends, what the clients saw, and
as many of the latest decisions and log lines as fit. Columns are dropped, least useful first,
when the terminal is narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from airoute.api import AIRouteStatus, BackendStatus
from airoute.demo.load import Tally
from airoute.demo.scenario import PHASES, Findings

HEALTH_STYLE = {"Healthy": "green", "Degraded": "yellow", "Unhealthy": "bold red", "Unknown": "dim"}
BACKEND_STYLE = {"azure-eu": "#0078d4", "bedrock-eu": "#ff9900", "vertex-eu": "#34a853", "local-llama": "#8e44ad"}
CANARY_STYLE = "magenta"


@dataclass(frozen=True)
class FeedLine:
    """A decision of the controller, or a log record, as one line of the view."""

    at: float
    label: str
    text: str
    style: str = "cyan"


@dataclass(frozen=True)
class Frame:
    """Everything one drawing of the live view shows."""

    now: float
    findings: Findings
    status: AIRouteStatus
    tally: Tally
    feed: Sequence[FeedLine]
    title: str


def clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _line(text: Text | str, width: int) -> Text:
    """Exactly one line of the screen: the first line of ``text``, cut at ``width``."""
    line = text if isinstance(text, Text) else Text(text)
    if "\n" in line.plain:
        line = line.split("\n")[0]
    line.no_wrap, line.overflow = True, "ellipsis"
    line.truncate(width, overflow="ellipsis")
    return line


def _header(frame: Frame, width: int) -> Text:
    left = Text.assemble(("airoute demo", "bold"), "  ", frame.title)
    right = f"{clock(frame.now - frame.findings.started)}  Ctrl-C stops everything"
    if len(left) + len(right) + 2 <= width:
        left.append(" " * (width - len(left) - len(right)) + right, style="dim")
    return _line(left, width)


def _phases(findings: Findings, now: float, width: int, compact: bool) -> list[Text]:
    current = findings.current
    lines = []
    for n, phase in enumerate(PHASES, 1):
        step = f"{n}/{len(PHASES)} "
        if phase.key in findings.outcomes:
            line = Text.assemble(("✓ ", "green"), step, phase.title, (f" — {findings.outcomes[phase.key]}", "dim"))
        elif current is not None and current.phase is phase:
            line = Text.assemble(("▶ ", "bold yellow"), step, (phase.title, "bold"), f"  {clock(now - current.at)}")
        else:
            line = Text(f"· {step}{phase.title}", style="dim")
        if not compact or (current is not None and current.phase is phase):
            lines.append(_line(line, width))
    return lines


@dataclass(frozen=True)
class _Column:
    header: str
    min_width: int
    justify: str = "left"
    ratio: int | None = None


# in the order they are dropped last … first when the terminal is narrow
_COLUMNS = (
    _Column("backend", 11),
    _Column("weight", 16),
    _Column("health", 9),
    _Column("canary", 6, "right"),
    _Column("why", 14, ratio=1),
    _Column("errors", 6, "right"),
    _Column("p95", 6, "right"),
)


def _columns(width: int, canary: bool) -> list[_Column]:
    chosen: list[_Column] = []
    used = 0
    for column in _COLUMNS:
        if column.header == "canary" and not canary:
            continue
        need = column.min_width + 2
        if used + need > width:
            break
        chosen.append(column)
        used += need
    return chosen


def _bar(weight: int, canary: int, cells: int, name: str) -> Text:
    """The backend's share as a bar; the canary's part of it drawn apart, in its own colour."""
    canary_cells = round(weight * canary / 100 * cells / 100)
    stable_cells = round(weight * cells / 100) - canary_cells
    return Text.assemble(
        ("█" * stable_cells, BACKEND_STYLE.get(name, "")),
        ("▒" * canary_cells, CANARY_STYLE),
        (" " * (cells - stable_cells - canary_cells)),
        f" {weight:>3}%",
    )


def _cell(column: str, b: BackendStatus, status: AIRouteStatus, bar_cells: int) -> Text:
    weight, canary = status.weights.get(b.name, 0), status.canary_weights.get(b.name, 0)
    match column:
        case "backend":
            return Text(b.name, style=BACKEND_STYLE.get(b.name, ""))
        case "weight":
            return _bar(weight, canary, bar_cells, b.name)
        case "health":
            return Text(b.health, style=HEALTH_STYLE.get(b.health, ""))
        case "canary":
            return Text(f"{canary}%" if b.name in status.canary_weights else "", style=CANARY_STYLE)
        case "errors":
            return Text("-" if b.error_rate is None else f"{b.error_rate:.2f}")
        case "p95":
            return Text("-" if b.latency_p95 is None else f"{b.latency_p95:.2f}s")
        case _:
            return Text(b.message or b.reason, style="dim")


def backends_table(status: AIRouteStatus, width: int) -> Table:
    """One row per backend, one line per row, fitted to ``width``."""
    columns = _columns(width, bool(status.canary_weights))
    bar_cells = 20 if width >= 120 else 10
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True, width=width, padding=(0, 1))
    for c in columns:
        wide = c.header == "weight"
        table.add_column(
            c.header,
            justify=c.justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            ratio=c.ratio,
            min_width=bar_cells + 5 if wide else c.min_width,
        )
    for b in status.backends:
        table.add_row(*(_cell(c.header, b, status, bar_cells) for c in columns))
    return table


def clients_line(tally: Tally, now: float, width: int) -> Text:
    rps, _ = tally.rate(now)
    failed = "bold red" if tally.failed else "green"
    line = Text.assemble(
        ("clients ", "bold"),
        f"{rps:.0f} req/s · {tally.ok:,} answered · ",
        (f"{tally.failed:,} failed", failed),
        f" · {tally.degraded:,} degraded",
    )
    return _line(line, width)


def _feed(frame: Frame, width: int, lines: int) -> list[Text]:
    if lines <= 0:
        return []
    shown = [_line(Text("decisions and log", style="bold"), width)]
    t0 = frame.findings.started
    for item in list(frame.feed)[-(lines - 1) :] if lines > 1 else []:
        text = Text.assemble(f"{clock(item.at - t0):>5} ", (item.label, item.style), " ", item.text)
        shown.append(_line(text, width))
    return shown


def render(frame: Frame, width: int, height: int) -> RenderableType:
    """The whole live view in at most ``height - 1`` lines of at most ``width`` cells."""
    budget = max(height - 1, 1)
    table_lines = len(frame.status.backends) + 2 if frame.status.backends else 0
    fixed = 1 + len(PHASES) + table_lines + 1
    compact = fixed + 2 > budget
    phases = _phases(frame.findings, frame.now, width, compact)
    used = 1 + len(phases) + table_lines + 1
    parts: list[RenderableType] = [_header(frame, width), *phases]
    if table_lines and used <= budget:
        parts.append(backends_table(frame.status, width))
    parts.append(clients_line(frame.tally, frame.now, width))
    parts += _feed(frame, width, budget - used)
    return Group(*parts)
