"""The controller's loop over a folder of AIRoute files (``airoute controller --routes-dir``).

Same decisions as in a cluster; status goes to files beside the routes (see ``airoute.store``),
Events go to the log (and to the notifier), so the gateway's folder source and the demo work
with no Kubernetes at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from airoute.controller.notify import WebhookNotifier
from airoute.controller.reconciler import Outcome, Reconciler
from airoute.core.events import Event
from airoute.store import FolderRoutes, LoadedRoute

log = logging.getLogger("airoute.controller")

EventHook = Callable[[str, Event], None]


class FolderController:
    """Evaluates the routes of a folder every ``tick`` seconds and writes their status."""

    def __init__(
        self,
        folder: Path,
        reconciler: Reconciler,
        notifier: WebhookNotifier | None = None,
        on_event: EventHook | None = None,
    ) -> None:
        self.store = FolderRoutes(folder)
        self.reconciler = reconciler
        self.notifier = notifier
        self.on_event = on_event
        self._reported: set[str] = set()

    async def once(self, force: bool = False) -> list[Outcome]:
        loaded = self.store.load()
        for broken in (r for r in loaded if r.obj is None):
            if broken.error not in self._reported:
                self._reported.add(broken.error)
                log.warning("%s", broken.error)
        by_key = {r.key: r for r in loaded if r.obj is not None}
        outcomes = await self.reconciler.cycle([r.obj for r in by_key.values() if r.obj is not None], force=force)
        for outcome in outcomes:
            source = by_key.get(outcome.key)
            if source is not None:
                self._write(source, outcome.decision.status.to_wire())
            for event in outcome.decision.events:
                await self._record(outcome.key, event)
        return outcomes

    def _write(self, source: LoadedRoute, status: dict[str, object]) -> None:
        """Writes one route's status; a route whose status cannot be written never stops the others."""
        try:
            self.store.write_status(source, status)
        except (OSError, ValueError) as exc:
            problem = f"{source.source.name}: status not written: {exc}"
            if problem not in self._reported:
                self._reported.add(problem)
                log.warning("%s", problem)

    async def _record(self, key: str, event: Event) -> None:
        level = logging.WARNING if event.type == "Warning" else logging.INFO
        log.log(level, "%s %s: %s", key, event.reason, event.message)
        if self.on_event is not None:
            self.on_event(key, event)
        if self.notifier is not None:
            await self.notifier.notify(key, event)

    async def run(self, tick: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.once()
            except Exception:  # one bad cycle must not stop the controller
                log.exception("evaluation cycle failed; retrying in %.0fs", tick)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)
