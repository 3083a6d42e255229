"""The controller over a folder of AIRoute files (``airoute controller --routes-dir``).

Same loop and decisions as in a cluster; status goes to files beside the routes (see
``airoute.store``), Events go to the log (and to the notifier), so the gateway's folder source
and the demo work with no Kubernetes at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airoute.api.objects import object_key
from airoute.controller.evaluator import Evaluator
from airoute.controller.loop import EvaluationLoop, EventHook
from airoute.core.events import Event
from airoute.ports import Notifier
from airoute.store import FolderRoutes, LoadedRoute

log = logging.getLogger("airoute.controller")


class FolderStore:
    """A :class:`~airoute.controller.loop.RouteStore` over a folder: read at every cycle."""

    def __init__(self, folder: Path) -> None:
        self.files = FolderRoutes(folder)
        self._loaded: dict[str, LoadedRoute] = {}
        self._reported: set[str] = set()

    def acting(self) -> bool:
        return True  # one process per folder

    def routes(self) -> Sequence[Mapping[str, Any]]:
        loaded = self.files.load()
        for broken in (r for r in loaded if r.obj is None):
            self._warn_once(broken.error)
        self._loaded = {r.key: r for r in loaded if r.obj is not None}
        return [r.obj for r in self._loaded.values() if r.obj is not None]

    async def write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        """Writes one route's status; a route whose status cannot be written never stops the others."""
        source = self._loaded.get(object_key(obj))
        if source is None:
            return True
        try:
            self.files.write_status(source, status)
        except (OSError, ValueError) as exc:
            self._warn_once(f"{source.source.name}: status not written: {exc}")
            return False
        return True

    async def clear_levers(self, obj: Mapping[str, Any], levers: Mapping[str, str]) -> None:
        """The route files are the user's (often a Git checkout): levers are left in them; a gate
        names its rollout, so one left behind never acts on a later canary."""

    async def record(self, obj: Mapping[str, Any], event: Event) -> None:
        """No Event store without a cluster: the loop logs every decision (``controller.decisions``)."""

    def _warn_once(self, problem: str) -> None:
        if problem not in self._reported:
            self._reported.add(problem)
            log.warning("%s", problem)


class FolderController(EvaluationLoop):
    """The evaluation loop over the routes of ``folder``."""

    def __init__(
        self,
        folder: Path,
        evaluator: Evaluator,
        notifier: Notifier | None = None,
        on_event: EventHook | None = None,
        tick: float = 5.0,
    ) -> None:
        super().__init__(evaluator, FolderStore(folder), tick, notifier, on_event)
