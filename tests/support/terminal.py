"""Run a command in a pseudo-terminal and watch it through a real terminal emulator (pyte).

What a person would see is what the emulator's screen holds: the program writes bytes (cursor
moves, erases, colours) to a pty of a given size, and pyte interprets them exactly as a VT100-style
terminal would. ``watch`` keeps the screen each time the program paused for a moment (a whole
frame drawn), the lines that scrolled off the top, and the last screen.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyte


@dataclass
class Watched:
    """What a terminal of ``columns`` by ``lines`` showed while the program ran."""

    columns: int
    lines: int
    screens: list[list[str]] = field(default_factory=list)  # each whole frame and quiet moment, top to bottom
    scrolled_off: list[str] = field(default_factory=list)  # lines pushed above the top, oldest first
    final: list[str] = field(default_factory=list)
    returncode: int | None = None

    def text(self) -> str:
        return "\n".join(self.scrolled_off + self.final)


ERASE = b"\r\x1b[2K"  # how rich's live region begins each redraw: back to column 0, erase the line
FRAME_START = re.compile(rb"(?=\r\x1b\[2K)")


def _scrolled(screen: pyte.HistoryScreen) -> list[str]:
    return ["".join(line[x].data for x in range(screen.columns)).rstrip() for line in screen.history.top]


def watch(
    argv: Sequence[str],
    columns: int,
    lines: int,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    keys: bytes = b"",
) -> Watched:
    """Runs ``argv`` in a ``columns`` by ``lines`` pty until it exits (killed after ``timeout``).

    ``keys`` are typed once the program has drawn its third screen, as a person might press Enter.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    base = {k: v for k, v in (env or os.environ).items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    proc = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**base, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
        cwd=cwd,
    )
    os.close(slave)
    screen = pyte.HistoryScreen(columns, lines, history=100_000)
    stream = pyte.ByteStream(screen)
    seen = Watched(columns, lines)
    deadline = time.monotonic() + timeout
    pending = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if pending:  # the program paused: a whole frame is on the screen
                    seen.screens.append(list(screen.display))
                    pending = False
                if keys and len(seen.screens) >= 3:
                    os.write(master, keys)
                    keys = b""
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program and every child closed the terminal
                break
            if not chunk:
                break
            for piece in FRAME_START.split(chunk):
                if piece.startswith(ERASE) and pending:  # a redraw begins: the frame before it is whole
                    seen.screens.append(list(screen.display))
                    pending = False
                stream.feed(piece)
                pending = pending or bool(piece)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(30)
        os.close(master)
    seen.returncode = proc.wait()
    seen.scrolled_off = _scrolled(screen)
    seen.final = [line.rstrip() for line in screen.display]
    return seen


HEADER = "airoute demo"
BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama")


def view_problems(screen: list[str]) -> list[str]:
    """What a person would find wrong with one screen of the demo's live view (empty: nothing)."""
    found = []
    if not screen[0].startswith(HEADER):
        found.append(f"the first line is not the view's header: {screen[0]!r}")
    headers = [line for line in screen if line.split()[:2] == ["backend", "weight"]]
    if len(headers) > 1:
        found.append(f"{len(headers)} table headers on one screen")
    if headers:
        for name in BACKENDS:
            rows = [line for line in screen if line.startswith(name + " ")]
            if len(rows) != 1:
                found.append(f"{len(rows)} rows for {name}")
    titles = [line for line in screen if line.startswith(HEADER)]
    if len(titles) != 1:
        found.append(f"{len(titles)} view headers on one screen")
    return found


def live_screens(seen: Watched) -> list[list[str]]:
    """The screens that show the live view whole: its header first, its clients line below.

    A program descheduled in the middle of a large write pauses mid-frame; when that write is
    the region being erased at the end (bottom up), the screen shows the header over blank
    lines. Such a moment is not a view, and is left out.
    """
    return [s for s in seen.screens if s[0].startswith(HEADER) and any(x.startswith("clients ") for x in s)]
