"""Where the demo's words go: one live region redrawn in place, or plain lines without a terminal.

In a terminal, everything that would be printed while the region is on screen goes through it:
log records (the controller's and any library's), Python warnings and stray writes to
stdout/stderr become lines of the view's feed, so nothing is ever written around the region
and left behind as a torn fragment. Without a terminal (CI, a pipe),
the phases are plain lines and the log goes to stderr as it always does.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import termios
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TextIO

from rich.console import Console, RenderableType
from rich.live import Live

from airoute.demo.view import FeedLine

Draw = Callable[[int, int], RenderableType]  # (width, height) → what to show
_LEVEL_STYLE = {logging.INFO: "dim", logging.WARNING: "yellow", logging.ERROR: "red", logging.CRITICAL: "bold red"}
QUIET_REASONS = frozenset({"WeightChanged"})  # the table shows the weights; the report keeps every event


class Feed:
    """The latest decisions and log records, newest last."""

    def __init__(self, keep: int = 200) -> None:
        self.lines: deque[FeedLine] = deque(maxlen=keep)

    def decision(self, at: float, reason: str, message: str, warning: bool) -> None:
        if reason not in QUIET_REASONS:
            self.lines.append(FeedLine(at, reason, message, "bold red" if warning else "cyan"))

    def log(self, record: logging.LogRecord) -> None:
        if hasattr(record, "decision"):
            return  # the controller's log line of a decision: the feed shows the decision itself
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        style = _LEVEL_STYLE.get(record.levelno, "red" if record.levelno > logging.WARNING else "dim")
        self.lines.append(FeedLine(record.created, record.levelname, f"{record.name}: {text}", style))


class _FeedHandler(logging.Handler):
    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed = feed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.feed.log(record)
        except Exception:  # a log record must never break the view
            self.handleError(record)


class _FeedWriter(io.TextIOBase):
    """Stands in for stdout/stderr while the region is on screen: each line becomes a feed line."""

    def __init__(self, feed: Feed, label: str) -> None:
        super().__init__()
        self.feed, self.label, self._partial = feed, label, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.feed.lines.append(FeedLine(time.time(), self.label, line.rstrip(), "dim"))
        return len(text)


class Screen(Protocol):
    feed: Feed

    def say(self, line: str) -> None: ...

    def refresh(self) -> None: ...


class PlainScreen:
    """No terminal: a line per phase and outcome; log records go wherever logging sends them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.feed = Feed()

    def say(self, line: str) -> None:
        text = line if line.startswith(" ") else f"» {line}"
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)  # one line, never cut

    def refresh(self) -> None:
        pass

    def __enter__(self) -> PlainScreen:
        return self

    def __exit__(self, *_: object) -> None:
        pass


class LiveScreen:
    """One region of the terminal, redrawn in place at each :meth:`refresh`, erased at the end."""

    def __init__(self, console: Console, draw: Draw) -> None:
        self.console = console
        self.draw = draw
        self.feed = Feed()
        self._live = Live(
            console=console,
            auto_refresh=False,  # drawn from the event loop only: no thread reads state mid-change
            transient=True,
            redirect_stdout=False,  # done below, into the feed rather than above the region
            redirect_stderr=False,
            vertical_overflow="crop",
        )
        self._saved: list[logging.Handler] = []
        self._streams = (sys.stdout, sys.stderr)
        self._showwarning = warnings.showwarning
        self._termios: tuple[int, list[Any]] | None = None

    def say(self, line: str) -> None:
        pass  # phases are part of the view

    def refresh(self) -> None:
        width, height = self.console.size
        self._live.update(self.draw(width, height), refresh=True)

    def _warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        where = f"{Path(filename).name}:{lineno}"
        self.feed.lines.append(FeedLine(time.time(), category.__name__, f"{message} ({where})", "yellow"))

    def _quiet_keyboard(self) -> None:
        """Keys typed while the region is up (Enter, Ctrl-C's ``^C``) would be echoed into it and
        shift it down a line; the terminal stops echoing them until :meth:`__exit__`."""
        with contextlib.suppress(OSError, termios.error, ValueError):
            if sys.stdin is not None and sys.stdin.isatty():
                fd = sys.stdin.fileno()
                self._termios = (fd, termios.tcgetattr(fd))
                quiet = termios.tcgetattr(fd)
                quiet[3] &= ~(termios.ECHO | termios.ECHONL)
                termios.tcsetattr(fd, termios.TCSANOW, quiet)

    def _restore_keyboard(self) -> None:
        if self._termios is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(self._termios[0], termios.TCSANOW, self._termios[1])
            self._termios = None

    def __enter__(self) -> LiveScreen:
        self._quiet_keyboard()
        self.console.file = self.console.file  # keep drawing on the real terminal once sys.stdout is swapped
        root = logging.getLogger()
        self._saved = root.handlers[:]
        root.handlers = [_FeedHandler(self.feed)]
        self._showwarning, warnings.showwarning = warnings.showwarning, self._warning
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = _FeedWriter(self.feed, "stdout"), _FeedWriter(self.feed, "stderr")
        self._live.start(refresh=False)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._live.stop()
        self._restore_keyboard()
        sys.stdout, sys.stderr = self._streams
        warnings.showwarning = self._showwarning
        logging.getLogger().handlers = self._saved
