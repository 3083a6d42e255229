"""``airoute demo``: the whole scenario on this machine, with a live terminal view.

Starts four provider emulators, a real gateway process and the controller; sends a steady load
of clients; plays the phases of :mod:`airoute.demo.scenario` (steady traffic → Azure OpenAI
fails hard → Azure recovers and ramps back → a bad Bedrock canary is rolled back → a drill on
Vertex AI reports). Writes a PNG timeline and a markdown report, ends on one screen of figures,
and stops everything it started, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import sys
import time
from pathlib import Path

from rich.console import Console, RenderableType

from airoute.core.events import Event
from airoute.demo.ending import ending, problems
from airoute.demo.load import Load, Tally
from airoute.demo.report import markdown, write_png
from airoute.demo.scenario import DemoError, Findings, Story
from airoute.demo.terminal import LiveScreen, PlainScreen, Screen
from airoute.demo.view import Frame, render
from airoute.demo.world import FAST, NAMESPACE, ROUTE, Timing, World

REFRESH = 0.25  # seconds between two drawings of the live view


def _frame(story: Story, screen: Screen) -> Frame:
    title = f"{NAMESPACE}/{ROUTE}"
    if story.findings.current is None:
        title += " · starting emulators, gateway and controller …"
    status, tally = story.world.status(), story.load.tally
    return Frame(time.time(), story.findings, status, tally, screen.feed.lines, title)


async def _controller_loop(story: Story, stop: asyncio.Event) -> None:
    tick = 1.0
    while not stop.is_set():
        if story.world.controller is not None:
            try:
                await story.world.controller.once()
            except Exception as exc:  # the demo reports it and carries on, like the real controller
                story.say(f"controller cycle failed: {type(exc).__name__}: {exc}")
            story.sample()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)


async def _redraw(screen: Screen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        screen.refresh()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REFRESH)


async def _play(story: Story, screen: Screen) -> Findings:
    world, load = story.world, story.load
    atexit.register(world.kill_now)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_redraw(screen, stop))]

    def on_event(_key: str, e: Event) -> None:
        story.findings.events.append((time.time(), e.reason, e.message))
        screen.feed.decision(time.time(), e.reason, e.message, e.type == "Warning")

    try:
        await world.start(on_event)
        await load.start()
        tasks.append(asyncio.create_task(_controller_loop(story, stop)))
        return await story.run()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await load.stop()
        await world.stop()


def run_demo(args: argparse.Namespace) -> int:
    """Entry point of ``airoute demo``: 0 when the whole scenario played as expected."""
    timing = FAST if args.fast else Timing()
    console = Console()
    world = World(timing)
    load = Load(world.gateway_url, ROUTE, timing.clients)
    story = Story(world, load, say=lambda _: None)
    screen: LiveScreen | PlainScreen
    if not args.no_live and console.is_terminal:
        screen = LiveScreen(console, lambda width, height: _draw(story, screen, width, height))
    else:
        screen = PlainScreen(console)
        console.print(f"starting emulators, gateway and controller (route folder: {world.folder}) …", soft_wrap=True)
    story.say = screen.say
    started = time.monotonic()
    try:
        with screen:
            findings = asyncio.run(_play(story, screen))
    except DemoError as exc:
        if isinstance(screen, LiveScreen):  # the region is gone: keep its last lines on the screen
            for line in list(screen.feed.lines)[-10:]:
                console.print(f"{line.label} {line.text}", markup=False, highlight=False)
        console.print(f"[red]demo failed:[/] {exc}")
        console.print(f"the gateway's log: {world.folder / 'gateway.log'}", markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every process the demo started has been stopped[/]")
        return 130
    return _finish(findings, load.tally, args.out, world.folder, console, time.monotonic() - started)


def _draw(story: Story, screen: Screen, width: int, height: int) -> RenderableType:
    return render(_frame(story, screen), width, height)


def _finish(findings: Findings, tally: Tally, out: Path, folder: Path, console: Console, elapsed: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    png = write_png(findings, out / "timeline.png")
    report = out / "report.md"
    report.write_text(markdown(findings, tally, png))
    console.print(ending(findings, tally, (png, report, folder), elapsed))
    return 1 if problems(findings, tally) else 0


if __name__ == "__main__":
    sys.exit(run_demo(argparse.Namespace(fast=False, out=Path("demo-output"), no_live=False)))
