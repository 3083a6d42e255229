"""``airoute drill|promote|abort``: the manual levers, applied as annotations the controller reads."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from airoute.api import parse_duration
from airoute.api.levers import ABORT, DRILL_PREFIX, PROMOTE, RUNNING, gate_value
from airoute.commands.routes import RouteStore, RouteStoreError
from airoute.core.clock import to_rfc3339


def _backends(obj: Mapping[str, Any]) -> list[str]:
    return [b["name"] for b in obj.get("spec", {}).get("backends", [])]


def start_drill(store: RouteStore, obj: Mapping[str, Any], backend: str, duration: str) -> str:
    if backend not in _backends(obj):
        raise RouteStoreError(f"route has no backend {backend!r} (it has: {', '.join(_backends(obj))})")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise RouteStoreError(f"--for: {exc}") from None
    if not 0 < seconds <= 24 * 3600:
        raise RouteStoreError("--for: a drill lasts between 1s and 24h")
    until = to_rfc3339(time.time() + seconds)
    meta = obj["metadata"]
    store.annotate(meta["namespace"], meta["name"], DRILL_PREFIX + backend, until)
    return f"drill of {backend} on {meta['namespace']}/{meta['name']} started: forced out until {until}"


def stop_drill(store: RouteStore, obj: Mapping[str, Any], backend: str) -> str:
    meta = obj["metadata"]
    if DRILL_PREFIX + backend not in meta.get("annotations", {}):
        raise RouteStoreError(f"no drill of {backend!r} on {meta['namespace']}/{meta['name']}")
    store.annotate(meta["namespace"], meta["name"], DRILL_PREFIX + backend, to_rfc3339(time.time()))
    return f"drill of {backend} ends now; it ramps back in and the report appears in its status"


def drill_report(obj: Mapping[str, Any]) -> list[str]:
    drills = (obj.get("status") or {}).get("drills", [])
    if not drills:
        return ["no drills recorded for this route"]
    lines = []
    for d in drills:
        shifted, recovered, errors = d.get("weightShiftedAfter"), d.get("recoveredAfter"), d.get("clientErrors")
        lines.append(
            f"{d['backend']}: {d['phase']}, started {d['started']}, until {d['until']}; "
            + ("traffic not shifted away yet" if shifted is None else f"traffic shifted away after {shifted:g}s")
            + ("; full weight not back yet" if recovered is None
               else f"; full weight back {recovered:g}s after the end")
            + (f"; {errors:g} client-visible errors" if errors is not None else "")
        )
    return lines


def _active(obj: Mapping[str, Any], backend: str | None) -> dict[str, Any]:
    active = [
        r
        for r in (obj.get("status") or {}).get("rollouts", [])
        if r.get("phase") in RUNNING and (backend is None or r.get("backend") == backend)
    ]
    meta = obj["metadata"]
    if not active:
        raise RouteStoreError(
            f"no rollout in progress on {meta['namespace']}/{meta['name']}" + (f" for {backend}" if backend else "")
        )
    if len(active) > 1:
        names = ", ".join(r["backend"] for r in active)
        raise RouteStoreError(f"several rollouts in progress ({names}): say which with --backend")
    found: dict[str, Any] = active[0]
    return found


def gate(store: RouteStore, obj: Mapping[str, Any], which: str, backend: str | None) -> str:
    """Promote or abort the active canary; the annotation names that rollout (its canary and start),
    so it never hits a later one, and the controller removes it once acted on."""
    rollout = _active(obj, backend)
    meta = obj["metadata"]
    key = PROMOTE if which == "promote" else ABORT
    store.annotate(meta["namespace"], meta["name"], key, gate_value(rollout["canaryHash"], rollout["started"]))
    verb = "promoted to stable" if which == "promote" else "aborted: stable gets all traffic back"
    return (
        f"canary {rollout['canaryHash']} of {rollout['backend']} on {meta['namespace']}/{meta['name']} will be {verb}"
    )
