"""How close a gateway process is to running out of what it actually runs on, like Envoy's
overload manager: each resource's *pressure* is a number where 1 means "full", and admission
(:mod:`~airoute.gateway.admission`) sheds tiers by the highest one (``core.shedding``).

========================  ====================================================================
resource                  pressure
========================  ====================================================================
``event_loop_lag``        how late a timer fires (the least of its last samples: sustained, not one
                          pause), over ``--max-loop-lag``: the one
                          measure of "too busy" for a single-threaded server — CPU starved,
                          blocked, or simply more work than it can do
``memory``                resident memory over ``--max-memory`` (default: 90 % of the
                          container's memory limit, read from its cgroup; none: not watched)
``file_descriptors``      sockets open (two per stream: the client's and the backend's) and a
                          reserve, over the process's open-files limit
========================  ====================================================================

An in-flight count is *not* among them: thousands of open streams that each relay an event now
and then cost little, and a count that idle streams reach says nothing about saturation.
``--max-in-flight`` remains as an explicit cap for those who want one (0, the default: none).

The lag is sampled by a timer every :data:`SAMPLE_SECONDS`; memory is read from
``/proc/self/statm`` at every :data:`MEMORY_EVERY`-th sample. Nothing here runs per request.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections import deque
from collections.abc import Callable
from pathlib import Path

SAMPLE_SECONDS = 0.05
MEMORY_EVERY = 10
LAG_SAMPLES = 5
"""The lag counted is the smallest of the last this many samples (a quarter of a second): one
pause of the loop — a garbage collection, an import, a machine busy for a moment — never sheds on
its own, a loop that stays late does."""
MEMORY_SHARE = 0.9
"""Share of the container's memory limit that counts as full (the rest is the margin before the
kernel's OOM killer)."""
FD_RESERVE = 64
"""File descriptors counted besides the connections (listeners, files, the event loop's own)."""
RESOURCES = ("event_loop_lag", "memory", "file_descriptors")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cgroup_memory_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The container's memory limit in bytes (cgroup v2 ``memory.max``, v1
    ``memory/memory.limit_in_bytes``), or None when there is none."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
        return None
    return None


def resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


class Overload:
    """The pressure of each resource, kept current by :meth:`start`'s timer."""

    def __init__(self, max_loop_lag: float, max_memory: int | None, open_files: Callable[[], int],
                 file_limit: int | None = None) -> None:
        self.max_loop_lag = max_loop_lag
        self.max_memory = max_memory
        self.open_files = open_files
        self.file_limit = file_limit or resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.lag = 0.0
        self.memory = 0
        self.pressures: dict[str, float] = dict.fromkeys(RESOURCES, 0.0)
        self._handle: asyncio.TimerHandle | None = None
        self._samples = 0
        self._recent: deque[float] = deque([0.0] * LAG_SAMPLES, maxlen=LAG_SAMPLES)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(loop.time() + SAMPLE_SECONDS, self._sample, loop, loop.time() + SAMPLE_SECONDS)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sample(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        now = loop.time()
        self.observe_lag(max(0.0, now - due))
        self._samples += 1
        if self.max_memory and self._samples % MEMORY_EVERY == 0:
            self.observe_memory(resident_bytes())
        self._handle = loop.call_at(now + SAMPLE_SECONDS, self._sample, loop, now + SAMPLE_SECONDS)

    def observe_lag(self, late: float) -> None:
        self._recent.append(late)
        self.lag = min(self._recent)
        self.pressures["event_loop_lag"] = self.lag / self.max_loop_lag if self.max_loop_lag > 0 else 0.0

    def observe_memory(self, used: int) -> None:
        self.memory = used
        self.pressures["memory"] = used / self.max_memory if self.max_memory else 0.0

    def pressure(self) -> tuple[float, str]:
        """The highest pressure now, and its resource (file descriptors are counted now)."""
        files = (self.open_files() + FD_RESERVE) / self.file_limit if self.file_limit > 0 else 0.0
        self.pressures["file_descriptors"] = files
        resource_name = max(self.pressures, key=self.pressures.__getitem__)
        return self.pressures[resource_name], resource_name
