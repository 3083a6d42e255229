"""From the outside world to the core's :class:`Observations` (no Kopf here).

The annotations people (or ``airoute drill|promote|abort``) put on an AIRoute — drills and the
rollout gates — are described in :mod:`airoute.api.levers`: a gate acts only on the rollout it
names, and the controller removes a lever once it is spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from airoute.api import AIRoute, Backend, RolloutStatus
from airoute.api.levers import ABORT, DRILL_PREFIX, PROMOTE, RUNNING, names_rollout
from airoute.core.clock import from_rfc3339
from airoute.core.signals import Observations, Signals, StatusPage
from airoute.ports import MetricsSnapshot


def drills(annotations: Mapping[str, str], now: float) -> dict[str, float]:
    """Backend → drill end, for every drill annotation that parses and has not ended."""
    out: dict[str, float] = {}
    for key, value in annotations.items():
        if not key.startswith(DRILL_PREFIX):
            continue
        try:
            until = from_rfc3339(value)
        except ValueError:
            continue
        out[key.removeprefix(DRILL_PREFIX)] = until
    return out


def _gate(annotations: Mapping[str, str], key: str, active: list[RolloutStatus]) -> bool:
    value = annotations.get(key, "")
    return any(names_rollout(value, r.canary_hash, r.started) for r in active)


def status_page_key(backend: Backend) -> str:
    """Which configured status page speaks for a backend: its own URL, else its cloud's."""
    block = backend.open_ai_compatible
    if block is not None and block.status_page:
        return block.status_page
    return backend.cloud


def _with_page(signals: Signals | None, page: StatusPage | None) -> Signals | None:
    if page is None:
        return signals
    base = signals or Signals(requests=0.0, errors=0.0, throttled=0.0)
    return replace(base, status_page=page)


@dataclass
class DrillBaselines:
    """Client-visible failures since each drill began: the route's counter when the controller
    first saw the drill's annotation. Kept in memory; after a controller restart a running drill
    counts from the restart."""

    _start: dict[tuple[str, str, float], float] = field(default_factory=dict)

    def since_drill(self, route: AIRoute, snapshot: MetricsSnapshot, active: Mapping[str, float]) -> float | None:
        current = snapshot.client_errors.get((route.metadata.namespace, route.metadata.name))
        running = any(d.phase == "Running" for d in route.status.drills)
        if current is None or not (active or running):
            return None
        bases = [self._start.setdefault((route.key, backend, until), current) for backend, until in active.items()]
        if len(self._start) > 10_000:  # bounded: the oldest drills are forgotten first
            for key in list(self._start)[: len(self._start) - 10_000]:
                del self._start[key]
        base = min(bases) if bases else current
        return current - base if current >= base else current  # a counter reset (gateway restart) counts from 0


def page_keys(route: AIRoute) -> tuple[tuple[str, str], ...]:
    """Each backend's name and the status page that speaks for it."""
    return tuple((b.name, status_page_key(b)) for b in route.spec.backends)


def backend_signals(
    namespace: str,
    name: str,
    backends: Sequence[tuple[str, str]],
    snapshot: MetricsSnapshot,
    pages: Mapping[str, StatusPage],
) -> dict[str, Signals]:
    """Each backend's signals (its stable variant) with what its status page says; ``backends``
    as :func:`page_keys` gives them."""
    stable = snapshot.for_route(namespace, name, "stable")
    if not pages:
        return {b: s for b, _ in backends if (s := stable.get(b)) is not None}
    return {b: s for b, page in backends if (s := _with_page(stable.get(b), pages.get(page)))}


def observe(
    route: AIRoute,
    snapshot: MetricsSnapshot,
    pages: Mapping[str, StatusPage],
    now: float,
    baselines: DrillBaselines | None = None,
) -> Observations:
    """Everything the core needs to know about one route for one evaluation."""
    canary = snapshot.for_route(route.metadata.namespace, route.metadata.name, "canary")
    backends = backend_signals(route.metadata.namespace, route.metadata.name, page_keys(route), snapshot, pages)
    active = [r for r in route.status.rollouts if r.phase in RUNNING]
    annotations = route.metadata.annotations
    drill_ends = drills(annotations, now)
    return Observations(
        metrics_available=snapshot.available,
        metrics_error=snapshot.error,
        backends=backends,
        canaries=canary,
        drills=drill_ends,
        promote=_gate(annotations, PROMOTE, active),
        abort=_gate(annotations, ABORT, active),
        client_errors=baselines.since_drill(route, snapshot, drill_ends) if baselines is not None else None,
        unservable=snapshot.unservable.get((route.metadata.namespace, route.metadata.name)),
    )
