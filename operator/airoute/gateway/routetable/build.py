"""How the live route table is kept: route sources (:mod:`~airoute.gateway.routetable.folder`,
:mod:`~airoute.gateway.routetable.kubernetes`) report what changed, and each changed route is
built and bound on its own — a change costs the work of the routes it touched, whatever the size
of the table.

* routes and Secrets outside the served namespaces are left out;
* core's :class:`~airoute.core.tablestate.TableState` builds the entry of each changed route (an
  object whose input did not change builds nothing; a broken route keeps its previous entry; the
  model's first claimant owns it);
* every variant of a changed entry is bound to a caller (:class:`CallerCache`, counted by the
  routes using it); a route whose Secrets are missing keeps its previous live route when it had
  one, and is left out otherwise — its clients get a 503 naming it, and
  ``airoute_gateway_route_unservable`` tells the controller (the route's ``Served`` condition);
* a changed Secret rebinds the routes that reference it, and only those;
* :meth:`TableBuilder.submit` works through changes on the event loop in slices of at most
  :data:`SLICE` routes, each applied in one synchronous step, with the loop free to serve requests
  between slices; changes that arrive meanwhile are merged (the newest object of each route);
* a source that cannot be read at all is refused: the table stays as it is, a log line and
  ``airoute_gateway_route_table_load_failures_total`` say so.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from airoute.api.objects import SecretData, object_key
from airoute.core.routeentry import RouteEntry
from airoute.core.tablestate import TableState
from airoute.gateway.callers import BindError, CallerCache, secret_names
from airoute.gateway.failover.route import LiveRoute, compile_route
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.routetable.live import LiveTable
from airoute.gateway.routetable.snapshot import Change, Snapshot
from airoute.providers import Caller

log = logging.getLogger(__name__)

RETIRE_AFTER = 300.0
"""Seconds a caller that no route uses any more stays open for requests still using it."""
SLICE = 8
"""Routes built and bound in one turn of the event loop (a fraction of a millisecond each)."""
BACKLOG = 64
"""Routes waiting to be built, at most, before the table is first loaded."""


class _Rebind:
    """A route whose Secrets changed: bind its entry again."""


REBIND = _Rebind()
Pending = Mapping[str, Any] | None | _Rebind


def _nothing() -> None:
    pass


def _namespace(key: str) -> str:
    return key.partition("/")[0]


class TableBuilder:
    """Holds the live table and keeps it; ``namespaces``: the ones served (all when empty)."""

    def __init__(self, callers: CallerCache, metrics: GatewayMetrics, namespaces: tuple[str, ...] = ()) -> None:
        self.callers = callers
        self.metrics = metrics
        self.namespaces = frozenset(namespaces)
        self.live = LiveTable()
        self.loaded = asyncio.Event()
        self.state = TableState()
        self.slices = 0
        """Slices applied so far (each at most :data:`SLICE` routes)."""
        self.while_loading: Callable[[], None] = _nothing
        """Called after every slice until the table is first loaded (the gateway process freezes
        what it built: :func:`~airoute.gateway.runtime.freeze_loading`)."""
        self._secrets: dict[str, SecretData] = {}
        self._pending: dict[str, Pending] = {}
        self._rebind: set[str] = set()  # pending routes whose Secrets changed
        self._synced = False
        self._working: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._bind_problems: dict[str, str] = {}
        self._unservable: dict[str, tuple[RouteEntry, BindError]] = {}
        self._users: dict[str, set[str]] = {}  # Secret key -> keys of the routes bound to it
        self._uses: dict[str, tuple[str, ...]] = {}  # route key -> the Secret keys it was bound to

    @property
    def problems(self) -> list[str]:
        return [*(str(p) for p in self.state.problems.values()),
                *(f"{key}: {message}" for key, message in self._bind_problems.items())]

    def serves(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    def refuse(self, reason: str) -> None:
        self.metrics.table_failures.inc()
        log.error("route source refused, keeping version %d: %s", self.live.version, reason)

    def apply(self, update: Change | Snapshot) -> None:
        """Takes ``update`` in at once (a snapshot is everything: what is not in it is gone)."""
        self._queue(update)
        while self._pending:
            self._slice()
        self._loaded()

    def submit(self, update: Change | Snapshot) -> None:
        """Like :meth:`apply`, worked through in slices on the event loop, starting on a later turn.
        Until the table is loaded (no request can be routed yet) the backlog is kept under
        :data:`BACKLOG` routes by building right away: a source listing thousands of routes
        faster than they are built does not hold them all meanwhile."""
        self._queue(update)
        while not self.loaded.is_set() and len(self._pending) > BACKLOG:
            self._slice()
        if self._working is None or self._working.done():
            self._working = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._pending:
            self._slice()
            await asyncio.sleep(0)
        self._loaded()

    def _loaded(self) -> None:
        if self._synced and not self.loaded.is_set():
            self.loaded.set()
            log.info("route table version %d in use: %d route(s)%s", self.live.version, len(self.live.routes),
                     f", {len(self.problems)} problem(s)" if self.problems else "")

    def _whole(self, snapshot: Snapshot) -> Change:
        """The change from what is known to ``snapshot``."""
        routes: dict[str, Mapping[str, Any] | None] = {
            k: None for k in itertools.chain(self.state.records, self._pending)}
        routes.update((object_key(o), o) for o in snapshot.routes)
        secrets: dict[str, SecretData | None] = {k: None for k in self._secrets}
        secrets.update(snapshot.secrets)
        return Change(routes, secrets, True, snapshot.origin)

    def _queue(self, update: Change | Snapshot) -> None:
        change = self._whole(update) if isinstance(update, Snapshot) else update
        for key, data in change.secrets.items():
            if not self.serves(_namespace(key)) or self._secrets.get(key) == data:
                continue
            if data is None:
                del self._secrets[key]
            else:
                self._secrets[key] = data
            for route in self._users.get(key, ()):
                self._pending.setdefault(route, REBIND)
                self._rebind.add(route)
        for key, obj in change.routes.items():
            if self.serves(_namespace(key)):
                self._pending[key] = obj
        self._synced = self._synced or change.synced

    def _slice(self) -> None:
        """Builds and binds up to :data:`SLICE` pending routes, in one step (its CPU time observed)."""
        started = time.thread_time()
        try:
            self._apply_slice()
        finally:
            self.metrics.change_cpu.observe((), time.thread_time() - started)
        if not self.loaded.is_set():
            self.while_loading()

    def _apply_slice(self) -> None:
        items = [(key, self._pending.pop(key)) for key in list(itertools.islice(self._pending, SLICE))]
        self.slices += 1
        try:
            change = self.state.update({k: o for k, o in items if not isinstance(o, _Rebind)})
            for model, entry in change.models.items():
                self._serve(model, entry)
            for key, _ in items:
                served = self.state.serving(key) if key in self._rebind else None
                self._rebind.discard(key)
                if served is not None and served not in change.models:
                    self._serve(served, self.state.routes[served])
        except Exception as exc:  # a bug or a surprise in one route must not take the gateway down
            log.error("applying changes to routes %s failed", ", ".join(k for k, _ in items), exc_info=exc)
            self.metrics.table_failures.inc()
            return
        for problem in change.problems.values():
            if problem is not None:
                log.warning("route problem: %s", problem)
                self.metrics.table_failures.inc()
        self._commit()

    def _commit(self) -> None:
        self.live.version, self.live.hash = self.state.version, self.state.hash
        self.metrics.table_version.set((), self.live.version)
        self.metrics.routes.set((), len(self.live.routes))
        self.metrics.ready.set((), 1)
        self.metrics.unservable.values = {
            (e.namespace, e.name, exc.backend, exc.reason): 1.0 for e, exc in self._unservable.values()
        }

    def _serve(self, model: str, entry: RouteEntry | None) -> None:
        """Makes ``entry`` the live route of ``model`` (None: no route serves it any more)."""
        old = self.live.routes.get(model)
        if entry is None:
            self._drop(model)
            return
        self._index(entry)
        try:
            callers = self.callers.bind(entry, self._secrets)
        except BindError as exc:
            if old is not None and old.key == entry.key:
                self._problem(entry.key, f"{exc}; previous routing kept")
                return
            self._drop(model)
            self.live.unavailable[model] = entry
            self._unservable[model] = (entry, exc)
            self._problem(entry.key, f"{exc}; left out")
            return
        if old is not None:
            self._retire(old)
        self.live.routes[model] = compile_route(entry, callers)
        self.live.unavailable.pop(model, None)
        self._unservable.pop(model, None)
        self._problem(entry.key, None)

    def _drop(self, model: str) -> None:
        old = self.live.routes.pop(model, None)
        left_out = self.live.unavailable.pop(model, None)
        self._unservable.pop(model, None)
        if old is not None:
            self._retire(old)
        for key in {r.key for r in (old, left_out) if r is not None}:
            if self.state.serving(key) is None:
                self._problem(key, None)
                self._index(None, key)

    def _problem(self, key: str, message: str | None) -> None:
        if message is None:
            self._bind_problems.pop(key, None)
        elif self._bind_problems.get(key) != message:
            self._bind_problems[key] = message
            log.warning("route problem: %s: %s", key, message)
            self.metrics.table_failures.inc()

    def _index(self, entry: RouteEntry | None, key: str = "") -> None:
        """Records which Secrets the route uses (``entry``; None: none any more, for ``key``)."""
        key = entry.key if entry is not None else key
        uses = tuple(sorted({f"{entry.namespace}/{name}" for b in entry.backends for v in b.variants
                             for name in secret_names(v.provider)})) if entry is not None else ()
        for secret in self._uses.pop(key, ()):
            users = self._users.get(secret, set())
            users.discard(key)
            if not users:
                self._users.pop(secret, None)
        if uses:
            self._uses[key] = uses
            for secret in uses:
                self._users.setdefault(secret, set()).add(key)

    def _retire(self, route: LiveRoute) -> None:
        """Releases the callers of a route no longer live; those no route uses close later."""
        for caller in self.callers.release(list(route.callers.values())):
            task = asyncio.get_running_loop().create_task(_close_later(caller, RETIRE_AFTER))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def close(self) -> None:
        if self._working is not None:
            self._working.cancel()
        for task in list(self._retiring):
            task.cancel()
        await self.callers.close()


async def _close_later(caller: Caller, delay: float) -> None:
    try:
        await asyncio.sleep(delay)
    finally:
        await caller.aclose()
