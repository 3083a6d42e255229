"""Route source for use without a cluster: a folder of YAML files, polled for changes.

The folder convention (routes, status files, Secrets) and its one reader are in
:mod:`airoute.store.folder`, shared with the controller's folder mode, which writes the status
files. A read parses again only the files that changed, and reports only the routes and Secrets
that changed (a :class:`~airoute.gateway.routetable.snapshot.Change`), like a watch. A folder that
does not read cleanly is refused as a whole: the gateway keeps its table as it is until the files
are fixed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from airoute.gateway.routetable.snapshot import Change, OnChange, OnFailure
from airoute.store import ParsedFiles, fingerprint, read_folder

log = logging.getLogger(__name__)

T = TypeVar("T")


def changed(before: Mapping[str, T], after: Mapping[str, T]) -> dict[str, T | None]:
    """What differs from ``before`` to ``after``, by key (None: gone)."""
    out: dict[str, T | None] = {k: v for k, v in after.items() if before.get(k) != v}
    out.update((k, None) for k in before if k not in after)
    return out


class FolderSource:
    """Polls a folder every ``interval`` seconds; reports what changed when files changed."""

    def __init__(self, folder: str | Path, interval: float = 1.0) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self._seen: tuple[tuple[str, int, int], ...] | None = None
        self._parsed = ParsedFiles()
        self._routes: dict[str, Mapping[str, Any]] = {}
        self._secrets: dict[str, Mapping[str, bytes]] = {}

    def __str__(self) -> str:
        return f"folder {self.folder}"

    def check(self) -> Change | str | None:
        """One check (blocking file I/O): what changed when files changed, why they do not read
        when they do not, None when nothing changed."""
        try:
            current = fingerprint(self.folder)
        except OSError as exc:
            return f"cannot list route folder {self.folder}: {exc}"
        if current == self._seen:
            return None
        self._seen = current  # a failed read is retried when the files change again
        found = read_folder(self.folder, self._parsed)
        if found.problems:
            return f"{self.folder}: " + "; ".join(found.problems)
        routes = {r.key: r.obj for r in found.routes if r.obj is not None}
        change = Change(changed(self._routes, routes), changed(self._secrets, found.secrets), True, str(self.folder))
        self._routes, self._secrets = routes, dict(found.secrets)
        return change

    async def run(self, on_change: OnChange, on_failure: OnFailure) -> None:
        """Polls until cancelled; file I/O runs in a thread, callbacks on the event loop."""
        while True:
            try:
                result = await asyncio.to_thread(self.check)
            except Exception as exc:  # whatever is in the folder, the source keeps watching it
                log.exception("reading route folder %s failed", self.folder)
                result = f"cannot read route folder {self.folder}: {type(exc).__name__}: {exc}"
            if isinstance(result, Change):
                on_change(result)
            elif result is not None:
                on_failure(result)
            await asyncio.sleep(self.interval)
