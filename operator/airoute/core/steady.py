"""A route at rest: what counts as a change of its status, and when evaluating it again is moot.

**What counts as a change.** A status is written when what it *decides* changed: health and
reasons, streaks, ejections and ramps, weights, rollouts, drills, conditions.
:data:`MEASURED` — the numbers a backend was last measured at and the health message that
quotes them — change with every read of the signals; they are refreshed whenever the status is
written and are always current in the metrics. A field rewritten every interval would wake every
watcher of every route (the Kubernetes API conventions warn about ``lastHeartbeatTime``).

**When evaluating again is moot** — the fast path, exact under this invariant: if evaluating a
route gave back its stored status (:func:`same_decision`) and no event, then evaluating it
again, from the same stored status and spec, gives that same decision and no event too, as long as

* the route is :func:`at_rest`: no clock in it can fire — nothing ejected or ramping back, no
  canary in progress, no drill running, no backend out of service — so ``now``
  only enters through timestamps of transitions, and there are none;
* the route is the same — spec, stored status and annotations (drills, the promote and abort
  gates) — and its signals have the same :func:`signature`: everything of them the decision
  depends on at rest. The raw numbers reach a route at rest only through :data:`MEASURED` and
  the messages. A drill annotation whose end has not come starts the drill at the first
  evaluation that sees it (a change); one whose end has passed changes nothing whenever it is
  read again; the gates act only on a canary in progress.

``tests/unit/controller/test_fast_path.py`` drives random routes, histories and signals through both ways
and requires identical decisions, conditions and events.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from airoute.api.status import AIRouteStatus, BackendStatus
from airoute.core.health import Thresholds, health_of
from airoute.core.rollout import ACTIVE
from airoute.core.signals import Signals

MEASURED = frozenset({"requests", "error_rate", "throttle_rate", "latency_p95", "message"})
"""Fields of a backend's status that say what was measured, not what was decided."""


def _decided(backend: BackendStatus) -> tuple[object, ...]:
    return tuple(v for k, v in backend.__dict__.items() if k not in MEASURED)


def same_decision(a: AIRouteStatus, b: AIRouteStatus) -> bool:
    """Whether two statuses decide the same: equal but for :data:`MEASURED`."""
    if a is b:
        return True
    if (a.observed_generation, a.weights, a.weights_summary, a.canary_weights) != (
        b.observed_generation,
        b.weights,
        b.weights_summary,
        b.canary_weights,
    ):
        return False
    if (a.rollouts, a.drills, a.conditions) != (b.rollouts, b.drills, b.conditions):
        return False
    return len(a.backends) == len(b.backends) and all(
        _decided(x) == _decided(y) for x, y in zip(a.backends, b.backends, strict=True)
    )


def at_rest(status: AIRouteStatus) -> bool:
    """No clock in the route can fire: see the module's docstring."""
    if any(b.ejected_until is not None or b.ramp_step is not None for b in status.backends):
        return False
    if any(r.phase in ACTIVE for r in status.rollouts) or any(d.phase == "Running" for d in status.drills):
        return False
    degraded = status.condition("Degraded")
    return degraded is None or degraded.status == "False"


def signature(
    limits: Thresholds, names: Sequence[str], backends: Mapping[str, Signals], metrics_available: bool, error: str
) -> Hashable:
    """What of the signals a decision at rest depends on, for a route with a health policy of these
    ``limits`` and these backends (``backends`` may hold others: only ``names`` are read): each
    backend's assessed health and reason, and whether metrics could be read and why not."""
    health = tuple([health_of(limits, backends.get(name), metrics_available) for name in names])
    return metrics_available, error, health
