"""How the live route table is built: a new one from each snapshot a route source reports
(:mod:`~airoute.gateway.routetable.folder`, :mod:`~airoute.gateway.routetable.kubernetes`),
swapped in whole.

* routes outside the served namespaces are left out;
* core's :func:`build_table` validates every route (a broken route keeps its previous entry);
* every variant is bound to a caller; a route whose Secrets are missing keeps its previous live
  route when it had one, and is left out otherwise — its clients get a 503 naming it, and
  ``airoute_gateway_route_unservable`` tells the controller (the route's ``Served`` condition);
* what did not change is reused: an object of the same ``resourceVersion`` is not parsed again
  (core's :class:`EntryCache`), and a route whose entry and namespace Secrets are the same keeps
  its live route and callers — a change costs the parsing and binding of the routes it touched,
  and a lookup for each of the others;
* a snapshot that cannot be read or built at all is refused: the last good table stays, a log
  line and ``airoute_gateway_route_table_load_failures_total`` say so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from airoute.api.objects import SecretData, namespace_of
from airoute.core.routetable import EntryCache, RouteEntry, RouteTable, TableProblem, build_table
from airoute.gateway.callers import BindError, CallerCache
from airoute.gateway.failover.route import LiveRoute, Target, compile_route
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.routetable.live import EMPTY, LiveTable
from airoute.gateway.routetable.snapshot import Snapshot
from airoute.providers import Caller

log = logging.getLogger(__name__)

RETIRE_AFTER = 300.0
"""Seconds a caller that no route uses any more stays open for requests still using it."""


class TableBuilder:
    """Holds the live table; :meth:`apply` builds a new one and swaps it in, :meth:`refuse`
    records a snapshot that could not be read. ``namespaces``: the ones served (all when empty)."""

    def __init__(self, callers: CallerCache, metrics: GatewayMetrics, namespaces: tuple[str, ...] = ()) -> None:
        self.callers = callers
        self.metrics = metrics
        self.namespaces = frozenset(namespaces)
        self.live: LiveTable = EMPTY
        self.loaded = asyncio.Event()
        self.problems: list[str] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self._entries = EntryCache()
        self._next: Snapshot | None = None
        self._building: asyncio.Task[None] | None = None
        self._secrets: dict[str, dict[str, SecretData]] = {}

    def serves(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    def refuse(self, reason: str) -> None:
        self.metrics.table_failures.inc()
        log.error("route table refused, keeping version %d: %s", self.live.version, reason)

    def apply(self, snapshot: Snapshot) -> None:
        """Builds the table for ``snapshot`` and makes it the live one (or refuses it), at once."""
        try:
            live = self._bind_all(self._core(snapshot), snapshot)
        except Exception as exc:  # a bug or a surprise in the input must not take the gateway down
            self._failed(snapshot, exc)
            return
        self._swap(live)

    def submit(self, snapshot: Snapshot) -> None:
        """Like :meth:`apply`, with core's part (parsing, ownership, hashing) in a worker thread so
        that requests keep being served meanwhile; the binding, cheap for what did not change,
        stays on the event loop. A snapshot that arrives during a build waits; only the newest
        one is built next."""
        self._next = snapshot
        if self._building is None or self._building.done():
            self._building = asyncio.get_running_loop().create_task(self._build_submitted())

    async def _build_submitted(self) -> None:
        while self._next is not None:
            snapshot, self._next = self._next, None
            try:
                built = await asyncio.to_thread(self._core, snapshot)
                live = self._bind_all(built, snapshot)
            except Exception as exc:
                self._failed(snapshot, exc)
                continue
            self._swap(live)

    def _failed(self, snapshot: Snapshot, exc: Exception) -> None:
        log.error("building the route table from %s failed", snapshot.origin, exc_info=exc)
        self.refuse(f"{type(exc).__name__}: {exc}")

    def _swap(self, live: LiveTable) -> None:
        changed = live.table.hash != self.live.table.hash or not self.loaded.is_set()
        self.live = live
        self.metrics.table_version.set((), live.version)
        self.metrics.routes.set((), len(live.routes))
        self.metrics.ready.set((), 1)
        self.loaded.set()
        if changed:
            log.info("route table version %d in use: %d route(s)%s", live.version, len(live.routes),
                     f", {len(self.problems)} problem(s)" if self.problems else "")
        self._retire()

    def _core(self, snapshot: Snapshot) -> tuple[RouteTable, list[TableProblem]]:
        """Core's table for ``snapshot`` (pure: safe in a worker thread, one build at a time)."""
        objs = [o for o in snapshot.routes if self.serves(namespace_of(o))]
        previous = self.live.table if self.live is not EMPTY else None
        return build_table(objs, previous, self._entries)

    def _bind_all(self, built: tuple[RouteTable, list[TableProblem]], snapshot: Snapshot) -> LiveTable:
        table, table_problems = built
        problems = [str(p) for p in table_problems]
        self.callers.begin()
        routes: dict[str, LiveRoute] = {}
        entries: dict[str, RouteEntry] = {}
        unservable: dict[str, tuple[RouteEntry, BindError]] = {}
        before = {route.key: route for route in self.live.routes.values()}
        secrets = _by_namespace(snapshot.secrets)
        same = {ns for ns in {e.namespace for e in table.routes.values()} if secrets.get(ns) == self._secrets.get(ns)}
        self._secrets = secrets
        for model, entry in table.routes.items():
            kept = before.get(entry.key)
            if kept is not None and kept.entry is entry and entry.namespace in same:
                self.callers.keep({(t.backend, t.variant): t.caller for t in _targets(kept)})
                live: LiveRoute | None = kept
            else:
                live = self._bind(entry, snapshot.secrets, problems, kept, unservable)
            if live is not None:
                routes[model] = live
                entries[model] = live.entry
        if problems != self.problems:
            for problem in problems:
                log.warning("route problem: %s", problem)
            self.metrics.table_failures.inc(amount=len([p for p in problems if p not in self.problems]))
        self.problems = problems
        self.metrics.unservable.values = {
            (e.namespace, e.name, exc.backend, exc.reason): 1.0 for e, exc in unservable.values()
        }
        final = type(table)(table.version, table.hash, entries) if entries.keys() != table.routes.keys() else table
        return LiveTable(final, routes, {model: e for model, (e, _) in unservable.items()})

    def _bind(
        self, entry: RouteEntry, secrets: Mapping[str, SecretData], problems: list[str], previous: LiveRoute | None,
        unservable: dict[str, tuple[RouteEntry, BindError]],
    ) -> LiveRoute | None:
        try:
            return compile_route(entry, self.callers.bind(entry, secrets))
        except BindError as exc:
            if previous is not None:
                problems.append(f"{entry.key}: {exc}; previous routing kept")
                self.callers.keep({(t.backend, t.variant): t.caller for t in _targets(previous)})
                return previous
            problems.append(f"{entry.key}: {exc}; left out")
            unservable[entry.model] = (entry, exc)
            return None

    def _retire(self) -> None:
        for caller in self.callers.retire():
            task = asyncio.get_running_loop().create_task(_close_later(caller, RETIRE_AFTER))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        if self._building is not None:
            self._building.cancel()
        for task in list(self._retiring):
            task.cancel()
        await self.callers.close()


def _by_namespace(secrets: Mapping[str, SecretData]) -> dict[str, dict[str, SecretData]]:
    """``namespace/name`` → data, grouped by namespace (a route reads its own namespace's only)."""
    out: dict[str, dict[str, SecretData]] = {}
    for key, data in secrets.items():
        out.setdefault(key.partition("/")[0], {})[key] = data
    return out


def _targets(route: LiveRoute) -> list[Target]:
    return [p.target for s in route.choice.slots for p in s.variants]


async def _close_later(caller: Caller, delay: float) -> None:
    try:
        await asyncio.sleep(delay)
    finally:
        await caller.aclose()
