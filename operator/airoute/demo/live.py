"""``airoute demo``: the whole scenario on this machine, with a live terminal view.

Starts four provider emulators, a real gateway process and the controller; sends a steady load
of clients; plays: steady traffic → Azure OpenAI fails hard → the weight shifts while clients
keep getting answers → Azure recovers and ramps back → a bad Bedrock canary is rolled back →
a drill on Vertex AI reports. Writes a PNG timeline and a markdown report; stops everything it
started, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import sys
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from airoute.demo.load import Load, Tally
from airoute.demo.report import markdown, write_png
from airoute.demo.scenario import DemoError, Findings, Story
from airoute.demo.world import FAST, NAMESPACE, ROUTE, Timing, World

_HEALTH = {"Healthy": "green", "Degraded": "yellow", "Unhealthy": "red", "Unknown": "dim"}


def _view(story: Story) -> Group:
    world, f = story.world, story.findings
    status = world.status()
    table = Table(title=f"[bold]{NAMESPACE}/{ROUTE}[/] — {f.phase}", expand=False)
    for col in ("backend", "weight", "health", "error rate", "p95", "why"):
        table.add_column(col)
    for b in status.backends:
        weight = status.weights.get(b.name, 0)
        bar = "█" * (weight // 4) + f" {weight}%"
        if b.name in status.canary_weights:
            bar += f" (canary {status.canary_weights[b.name]}%)"
        style = _HEALTH.get(b.health, "")
        rate = "-" if b.error_rate is None else f"{b.error_rate:.2f}"
        p95 = "-" if b.latency_p95 is None else f"{b.latency_p95:.2f}s"
        table.add_row(b.name, bar, f"[{style}]{b.health}[/]", rate, p95, (b.message or b.reason)[:60])
    tally = story.load.tally
    rps, _ = tally.rate(time.time())
    clients = f"clients: {rps:.0f} req/s, {tally.ok} answered, {tally.failed} failed, {tally.degraded} degraded"
    events = [f"[cyan]{reason}[/] {message[:110]}" for _, reason, message in f.events[-6:]]
    return Group(table, clients, *events)


async def _controller_loop(story: Story, stop: asyncio.Event) -> None:
    assert story.world.controller is not None
    tick = 1.0
    while not stop.is_set():
        try:
            await story.world.controller.once()
        except Exception as exc:  # the demo reports it and carries on, like the real controller
            story.say(f"controller cycle failed: {type(exc).__name__}: {exc}")
        story.sample()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)


async def _play(timing: Timing, live: bool, console: Console) -> tuple[Findings, Tally]:
    world = World(timing)
    atexit.register(world.kill_now)
    events: list[tuple[float, str, str]] = []
    stop = asyncio.Event()
    load: Load | None = None
    loop_task: asyncio.Task[None] | None = None
    try:
        console.print(f"starting emulators, gateway and controller (route folder: {world.folder}) …")
        await world.start(lambda _key, e: events.append((time.time(), e.reason, e.message)))
        load = Load(world.gateway_url, ROUTE, timing.clients)
        story = Story(world, load, say=(lambda _: None) if live else (lambda m: console.print(f"» {m}")))
        story.findings.events = events
        await load.start()
        loop_task = asyncio.create_task(_controller_loop(story, stop))
        if live:
            with Live(_view(story), console=console, refresh_per_second=4) as screen:
                play = asyncio.create_task(story.run())
                while not play.done():
                    screen.update(_view(story))
                    await asyncio.sleep(0.25)
                findings = play.result()
        else:
            findings = await story.run()
        return findings, load.tally
    finally:
        stop.set()
        if loop_task is not None:
            await asyncio.gather(loop_task, return_exceptions=True)
        if load is not None:
            await load.stop()
        await world.stop()


def run_demo(args: argparse.Namespace) -> int:
    """Entry point of ``airoute demo``: 0 when the whole scenario played as expected."""
    timing = FAST if args.fast else Timing()
    console = Console()
    live = not args.no_live and console.is_terminal
    started = time.monotonic()
    try:
        findings, tally = asyncio.run(_play(timing, live, console))
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every process the demo started has been stopped[/]")
        return 130
    return _finish(findings, tally, args.out, console, time.monotonic() - started)


def _finish(findings: Findings, tally: Tally, out: Path, console: Console, elapsed: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    png = write_png(findings, out / "timeline.png")
    report = out / "report.md"
    report.write_text(markdown(findings, tally, png))
    console.print(report.read_text())
    console.print(f"wrote {png} and {report} in {elapsed:.0f}s")
    if findings.outage_client_errors:
        console.print(f"[red]{findings.outage_client_errors} client request(s) failed during the outage[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_demo(argparse.Namespace(fast=False, out=Path("demo-output"), no_live=False)))
