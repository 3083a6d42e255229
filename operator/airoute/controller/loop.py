"""The evaluation loop: every tick, the routes of a store through the :class:`Evaluator`, and back.

The same loop runs in a cluster (:mod:`airoute.controller.kubestore`: routes from the API server,
status PATCHed, Kubernetes Events) and over a folder (:mod:`airoute.controller.folder_loop`:
routes from files, status files, Events in the log). A store is told to write a status only
when it changed; every event is recorded by the store and told to the notifier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from airoute.api import AIRouteStatus
from airoute.api.objects import object_key
from airoute.controller.decisions import log_decision
from airoute.controller.evaluator import Evaluator, Outcome
from airoute.controller.notify import NullNotifier
from airoute.core.events import Event
from airoute.core.levers import spent_levers
from airoute.ports import Notifier

log = logging.getLogger("airoute.controller")

EventHook = Callable[[str, Event], None]
WRITERS = 8
"""Statuses written (and events recorded) at the same time: a cycle where a provider fails across
many routes writes them in parallel, each route's writes and events still in order."""


class RouteStore(Protocol):
    """Where the routes come from and where their statuses and events go."""

    def acting(self) -> bool:
        """Whether this replica evaluates and writes now (HA: only one replica does)."""
        ...

    def routes(self) -> Sequence[Mapping[str, Any]]:
        """The raw AIRoute objects to evaluate now (``metadata``, ``spec``, ``status``)."""
        ...

    async def write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        """Stores ``status`` (wire form) as the status of ``obj``; never raises for one route.
        ``False`` when it was not written and the route should be decided again."""
        ...

    async def record(self, obj: Mapping[str, Any], event: Event) -> None:
        """Records an event about ``obj`` where people look for them."""
        ...

    async def clear_levers(self, obj: Mapping[str, Any], levers: Mapping[str, str]) -> None:
        """Removes the spent lever annotations of ``obj`` (annotation → value seen); never raises."""
        ...


class EvaluationLoop:
    """Evaluates a store's routes every ``tick`` seconds, or at once when woken."""

    def __init__(
        self,
        evaluator: Evaluator,
        store: RouteStore,
        tick: float,
        notifier: Notifier | None = None,
        on_event: EventHook | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.store = store
        self.tick = tick
        self.notifier: Notifier = notifier or NullNotifier()
        self.on_event = on_event
        self._woken = asyncio.Event()
        self._acting = False

    def wake(self) -> None:
        """A route changed: evaluate what is due now rather than at the next tick."""
        self._woken.set()

    async def once(self, force: bool = False, max_signal_age: float | None = None) -> list[Outcome]:
        """One cycle; ``force`` evaluates every route, due or not. Nothing while another replica acts."""
        acting = self.store.acting()
        if acting != self._acting:  # a replica that starts or stops acting starts afresh
            self.evaluator.reset()
            self._acting = acting
        if not acting:
            return []
        objs = {object_key(o): o for o in self.store.routes()}
        outcomes = await self.evaluator.cycle_keyed(list(objs.items()), force=force, max_signal_age=max_signal_age)
        pending = (o for o in outcomes if o.decision is not None)
        await asyncio.gather(*(self._apply(objs, pending) for _ in range(WRITERS)))
        return outcomes

    async def _apply(self, objs: Mapping[str, Mapping[str, Any]], pending: Iterator[Outcome]) -> None:
        """One of :data:`WRITERS`: writes the changed statuses, records the events and removes the
        spent levers of the outcomes it takes (each route's in this order). A status not written
        (409: the route changed meanwhile) records nothing: the route is decided again from what
        is stored, and that decision's events are the ones that count (no Event twice)."""
        for outcome in pending:
            obj, decision = objs[outcome.key], outcome.decision
            assert decision is not None  # see pending
            stored = not outcome.changed or await self.store.write_status(obj, decision.status.to_wire())
            if not stored:
                self.evaluator.retry(outcome.key)
                continue
            before = (obj.get("status") or {}).get("weights") or {} if decision.events else {}
            for event in decision.events:
                log_decision(outcome.key, event, before, decision.status.weights)
                await self._record(obj, outcome.key, event)
            await self._clear_spent(obj, decision.status)  # what it did is in the stored status

    async def _clear_spent(self, obj: Mapping[str, Any], status: AIRouteStatus) -> None:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations:
            return
        spent = spent_levers(annotations, status, self.evaluator.clock.now())
        if spent:
            await self.store.clear_levers(obj, spent)

    async def _record(self, obj: Mapping[str, Any], key: str, event: Event) -> None:
        await self.store.record(obj, event)
        if self.on_event is not None:
            self.on_event(key, event)
        await self.notifier.notify(key, event)

    async def run(self, stop: asyncio.Event) -> None:
        """Cycles until ``stop`` is set: one per tick, and one whenever woken in between."""
        try:
            await self._cycles(stop)
        finally:
            close = getattr(self.evaluator.metrics, "close", None)  # a source holding connections
            if close is not None:
                await close()

    async def _cycles(self, stop: asyncio.Event) -> None:
        tick = asyncio.get_running_loop().time()
        while not stop.is_set():
            woken = self._woken.is_set()
            self._woken.clear()
            try:
                # A wake-up between ticks reuses the signals of the last tick when still fresh.
                await self.once(max_signal_age=self.tick if woken else None)
            except Exception:  # one bad cycle must not stop the controller
                log.exception("evaluation cycle failed; retrying in %.0fs", self.tick)
            if not woken:
                tick = asyncio.get_running_loop().time()
            await _first(stop, self._woken, timeout=max(0.0, tick + self.tick - asyncio.get_running_loop().time()))


async def _first(*events: asyncio.Event, timeout: float) -> None:
    """Waits until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), timeout)
    finally:
        for w in waiters:
            w.cancel()
