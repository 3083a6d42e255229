"""Route source for use without a cluster: a folder of YAML files, polled for changes.

The folder convention (routes, status files, Secrets) and its one reader are in
:mod:`airoute.store.folder`, shared with the controller's folder mode, which writes the status
files. A folder that does not read cleanly is refused as a whole: the gateway keeps its last good
table until the files are fixed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from airoute.gateway.routetable.snapshot import OnFailure, OnSnapshot, Snapshot
from airoute.store import fingerprint, read_folder

log = logging.getLogger(__name__)


class FolderSource:
    """Polls a folder every ``interval`` seconds; reports a new snapshot when files changed."""

    def __init__(self, folder: str | Path, interval: float = 1.0) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self._seen: tuple[tuple[str, int, int], ...] | None = None

    def __str__(self) -> str:
        return f"folder {self.folder}"

    def check(self) -> Snapshot | str | None:
        """One check (blocking file I/O): a new snapshot when files changed, why they do not read
        when they do not, None when nothing changed."""
        try:
            current = fingerprint(self.folder)
        except OSError as exc:
            return f"cannot list route folder {self.folder}: {exc}"
        if current == self._seen:
            return None
        self._seen = current  # a failed read is retried when the files change again
        found = read_folder(self.folder)
        if found.problems:
            return f"{self.folder}: " + "; ".join(found.problems)
        routes = tuple(r.obj for r in found.routes if r.obj is not None)
        return Snapshot(routes, found.secrets, str(self.folder))

    async def run(self, on_snapshot: OnSnapshot, on_failure: OnFailure) -> None:
        """Polls until cancelled; file I/O runs in a thread, callbacks on the event loop."""
        while True:
            try:
                result = await asyncio.to_thread(self.check)
            except Exception as exc:  # whatever is in the folder, the source keeps watching it
                log.exception("reading route folder %s failed", self.folder)
                result = f"cannot read route folder {self.folder}: {type(exc).__name__}: {exc}"
            if isinstance(result, Snapshot):
                on_snapshot(result)
            elif result is not None:
                on_failure(result)
            await asyncio.sleep(self.interval)
