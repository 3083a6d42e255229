"""Outage drills: a backend forced out for a while, and a report of how the route coped.

A drill is announced by an annotation (backend → end time). While it runs the backend is forced
out (see :func:`airoute.core.health.step_backend`); it then ramps back in like any recovering
backend. The drill stays ``Running`` until the backend is back at full weight, then it is
``Completed`` with ``weight_shifted_after`` (seconds from its start until the backend's weight
was 0), ``recovered_after`` (seconds from its end until full weight was back) and the
client-visible errors counted meanwhile, when the metrics source reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from airoute.api.status import DrillStatus
from airoute.core.clock import elapsed, from_rfc3339, reached, to_rfc3339
from airoute.core.events import Event, clip

MAX_DRILLS = 16


def _started(backend: str, until: float, now: float) -> tuple[DrillStatus, Event]:
    drill = DrillStatus(backend=backend, phase="Running", started=to_rfc3339(now), until=to_rfc3339(until))
    message = f"outage drill of {backend} started: forced out until {drill.until}"
    return drill, Event("Normal", "DrillStarted", message, backend)


def _report(d: DrillStatus) -> str:
    shifted = "never" if d.weight_shifted_after is None else f"after {d.weight_shifted_after:g}s"
    text = (
        f"outage drill of {d.backend} completed: traffic shifted away {shifted}, "
        f"full weight back {d.recovered_after:g}s after the drill ended"
    )
    if d.client_errors is not None:
        text += f", {d.client_errors:g} client-visible errors"
    return text


def _progress(
    d: DrillStatus,
    weight: int,
    back: bool,
    client_errors: float | None,
    now: float,
) -> tuple[DrillStatus, Event | None]:
    update: dict[str, object] = {}
    if d.weight_shifted_after is None and weight == 0:
        update["weight_shifted_after"] = elapsed(now, d.started)
    if client_errors is not None:
        update["client_errors"] = client_errors
    if reached(now, d.until) and back:
        update |= {"phase": "Completed", "recovered_after": elapsed(now, d.until)}
    new = d.model_copy(update=update)
    if new.phase == "Completed":
        return new, Event("Normal", "DrillCompleted", clip(_report(new), 1024), d.backend)
    return new, None


def step_drills(
    prev: Sequence[DrillStatus],
    drills: Mapping[str, float],
    weights: Mapping[str, int],
    back: Mapping[str, bool],
    client_errors: float | None,
    now: float,
) -> tuple[list[DrillStatus], tuple[Event, ...]]:
    """Drills after one evaluation.

    ``weights`` holds the effective weight of every backend in the spec (drills of others are
    ignored), ``back`` whether a backend is in service at full weight again (neither ejected
    nor ramping).
    """
    known = {(d.backend, d.until) for d in prev}
    events: list[Event] = []
    started: list[DrillStatus] = []
    for backend, until in sorted(drills.items()):
        if backend in weights and now < until and (backend, to_rfc3339(until)) not in known:
            drill, event = _started(backend, until, now)
            started.append(drill)
            events.append(event)
    kept = [d for d in prev if d.phase != "Running"]
    for d in [*prev, *started]:
        if d.phase == "Running":
            new, done = _progress(d, weights.get(d.backend, 0), back.get(d.backend, True), client_errors, now)
            kept.append(new)
            events.extend([done] if done is not None else [])
    kept.sort(key=lambda d: (from_rfc3339(d.started), d.backend))
    return kept[-MAX_DRILLS:], tuple(events)
