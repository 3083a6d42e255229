"""The rollout state machine: a changed provider block, or a new backend, goes out as a canary.

* The route's first evaluation adopts every backend as stable; there is nothing to compare with.
* A canary starts when a backend's provider hash differs from the stable hash in its status
  (kind ``Change``), or when a backend has no status yet while the route has (``NewBackend``).
  A standby backend (weight 0) takes no traffic that could be analysed: it is adopted at once.
  So is a change a canary may not make — of kind, endpoint, region, credentials, headers or TLS
  (:mod:`airoute.core.statustrust`): the gateway never serves a stored block that differs from the
  spec's there, so such a change takes effect at once; ramp a new backend in to move traffic
  progressively.
* Every ``rollout.interval`` (from ``step_started``) the canary is analysed:
  Passed → next step, or Succeeded after passing at 100 % (the canary block becomes stable);
  Failed → one more failed check (a total, not a streak), RolledBack at ``failureLimit``;
  Inconclusive (too few canary requests, none at all included) → stays at the step and is
  analysed again at the next evaluation;
  Error (could not measure) → Paused, no step, no failure; it resumes once metrics are back.
* While metrics are unavailable an active rollout is Paused at once.
* The manual gates act on a rollout that was already running: ``abort`` → Aborted, ``promote`` →
  Succeeded.
* RolledBack and Aborted are terminal while the spec still has that canary block; another block
  starts a new canary, reverting to the stable block clears it. A change during a rollout
  restarts it at step 0 with the new canary.
* For ``Change`` the canary gets ``canary_weight`` percent of the backend's traffic. For
  ``NewBackend`` there is no stable variant: all of the backend's traffic is canary and the
  backend gets ``canary_weight`` percent of its desired weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airoute.api.spec import Backend, RolloutPolicy
from airoute.api.status import BackendStatus, RolloutKind, RolloutPhase, RolloutStatus
from airoute.core.analysis import verdict
from airoute.core.clock import reached, to_rfc3339
from airoute.core.events import Event, EventType, clip
from airoute.core.signals import Signals
from airoute.core.statustrust import stored_block_mismatch

ACTIVE: tuple[RolloutPhase, ...] = ("Progressing", "Paused")
FAILED: tuple[RolloutPhase, ...] = ("RolledBack", "Aborted")


@dataclass(frozen=True)
class Gates:
    """What the rollout needs from outside the route: measurements and the manual gates."""

    canary: Signals | None
    metrics_available: bool
    promote: bool = False
    abort: bool = False


@dataclass(frozen=True)
class RolloutStep:
    """The rollout of one backend after an evaluation, and its stable provider block."""

    rollout: RolloutStatus | None
    stable_hash: str | None
    stable_provider: dict[str, Any] | None
    events: tuple[Event, ...] = ()


def provider_wire(backend: Backend) -> dict[str, Any]:
    """The backend's provider block as stored in status: ``{kind: block}``."""
    return {backend.provider_kind: backend.provider.to_wire()}


def is_active(rollout: RolloutStatus | None) -> bool:
    return rollout is not None and rollout.phase in ACTIVE


def backend_factor(rollout: RolloutStatus | None) -> float:
    """Share of its desired weight a backend may have because of its rollout."""
    if rollout is None or rollout.kind != "NewBackend" or rollout.phase == "Succeeded":
        return 1.0
    return rollout.canary_weight / 100 if rollout.phase in ACTIVE else 0.0


def canary_share(rollout: RolloutStatus | None) -> int:
    """Percent of the backend's traffic on its canary variant (0 when there is no active canary)."""
    if rollout is None or rollout.phase not in ACTIVE:
        return 0
    return 100 if rollout.kind == "NewBackend" else rollout.canary_weight


def step_rollout(
    policy: RolloutPolicy,
    backend: Backend,
    prev_backend: BackendStatus | None,
    prev: RolloutStatus | None,
    gates: Gates,
    *,
    first: bool,
    now: float,
) -> RolloutStep:
    """One evaluation of a backend's rollout."""
    spec_hash = backend.provider_hash()
    stable_hash = prev_backend.provider_hash if prev_backend is not None else None
    stable = prev_backend.provider if prev_backend is not None else None
    if first:
        return RolloutStep(None, spec_hash, provider_wire(backend))
    if backend.weight == 0 and spec_hash != stable_hash:
        text = f"standby {backend.name} takes no traffic to analyse: its provider block is adopted as stable"
        return RolloutStep(
            None, spec_hash, provider_wire(backend), (_event("Normal", "StandbyAdopted", backend, text),)
        )
    not_canaried = _not_canaried(backend, stable) if spec_hash != stable_hash else None
    if not_canaried is not None:
        text = f"{backend.name}: no canary for this change, {not_canaried}; its provider block is adopted as stable"
        return RolloutStep(None, spec_hash, provider_wire(backend), (_event("Normal", "ChangeAdopted", backend, text),))
    if prev is not None and prev.canary_hash == spec_hash:
        if prev.phase not in ACTIVE:
            return RolloutStep(prev, stable_hash, stable)
        return _advance(policy, backend, prev, gates, stable_hash, stable, now)
    if spec_hash == stable_hash:
        if prev is None or prev.phase == "Succeeded":
            return RolloutStep(None, stable_hash, stable)
        text = f"canary of {backend.name} cleared: the spec is back at the stable provider block"
        return RolloutStep(None, stable_hash, stable, (_event("Normal", "CanaryCleared", backend, text),))
    return _start(policy, backend, prev, stable_hash, stable, now)


def _not_canaried(backend: Backend, stable: dict[str, Any] | None) -> str | None:
    """Why a change from the ``stable`` block cannot be a canary (None when it can, or there is none)."""
    if not stable or len(stable) != 1:
        return None
    (kind, block), = stable.items()
    if not isinstance(block, dict):
        return None
    return stored_block_mismatch(kind, block, backend.provider_kind, backend.provider.to_wire())


def _start(
    policy: RolloutPolicy,
    backend: Backend,
    prev: RolloutStatus | None,
    stable_hash: str | None,
    stable: dict[str, Any] | None,
    now: float,
) -> RolloutStep:
    kind: RolloutKind = "Change" if stable_hash is not None else "NewBackend"
    first_step, label = policy.steps[0], backend.provider.version_label
    started = RolloutStatus(
        backend=backend.name,
        kind=kind,
        phase="Progressing",
        step=0,
        canary_weight=first_step,
        stable_hash=stable_hash,
        canary_hash=backend.provider_hash(),
        message=f"step 1 of {len(policy.steps)}: {first_step}% on {label}",
        started=to_rfc3339(now),
        step_started=to_rfc3339(now),
    )
    restarted = is_active(prev)
    what = "restarted with a new provider block" if restarted else "started"
    text = f"canary of {backend.name} {what} ({kind}): {first_step}% on {label} [{started.canary_hash}]"
    reason = "CanaryRestarted" if restarted else "CanaryStarted"
    return RolloutStep(started, stable_hash, stable, (_event("Normal", reason, backend, text),))


def _event(kind: EventType, reason: str, backend: Backend | str, message: str) -> Event:
    name = backend if isinstance(backend, str) else backend.name
    return Event(kind, reason, clip(message, 1024), name)


def _promoted(backend: Backend, r: RolloutStatus, message: str, now: float) -> RolloutStep:
    done = r.model_copy(
        update={
            "phase": "Succeeded",
            "canary_weight": 0,
            "message": clip(message, 1024),
            "step_started": to_rfc3339(now),
        }
    )
    event = _event("Normal", "CanaryPromoted", backend.name, f"canary of {backend.name} promoted: {message}")
    return RolloutStep(done, r.canary_hash, provider_wire(backend), (event,))


def _stopped(
    backend: Backend,
    r: RolloutStatus,
    phase: RolloutPhase,
    message: str,
    stable_hash: str | None,
    stable: dict[str, Any] | None,
) -> RolloutStep:
    done = r.model_copy(update={"phase": phase, "canary_weight": 0, "message": clip(message, 1024)})
    word = "rolled back" if phase == "RolledBack" else "aborted"
    event = _event(
        "Warning",
        "CanaryRolledBack" if phase == "RolledBack" else "CanaryAborted",
        backend.name,
        f"canary of {backend.name} {word}: {message}",
    )
    return RolloutStep(done, stable_hash, stable, (event,))


def _advance(
    policy: RolloutPolicy,
    backend: Backend,
    prev: RolloutStatus,
    gates: Gates,
    stable_hash: str | None,
    stable: dict[str, Any] | None,
    now: float,
) -> RolloutStep:
    step = min(prev.step, len(policy.steps) - 1)
    r = prev.model_copy(update={"step": step, "canary_weight": policy.steps[step]})
    if gates.abort:
        return _stopped(backend, r, "Aborted", "aborted by hand", stable_hash, stable)
    if gates.promote:
        return _promoted(backend, r, "promoted by hand", now)
    if not gates.metrics_available:
        out = RolloutStep(_pause(r, "metrics unavailable: could not measure the canary"), stable_hash, stable)
    elif not reached(now - policy.interval_seconds, r.step_started):
        resumed = r.phase == "Paused"
        message = "metrics are back; waiting for the end of the step" if resumed else r.message
        out = RolloutStep(r.model_copy(update={"phase": "Progressing", "message": message}), stable_hash, stable)
    else:
        out = _analysed(policy, backend, r, gates.canary, stable_hash, stable, now)
    return _with_phase_events(backend.name, prev, out)


def _pause(r: RolloutStatus, why: str) -> RolloutStatus:
    return r.model_copy(update={"phase": "Paused", "message": clip(f"paused: {why}", 1024)})


def _with_phase_events(name: str, prev: RolloutStatus, out: RolloutStep) -> RolloutStep:
    new = out.rollout
    if new is None or new.phase == prev.phase:
        return out
    if new.phase == "Paused":
        extra = _event("Warning", "CanaryPaused", name, f"canary of {name} {new.message}")
    elif prev.phase == "Paused" and new.phase == "Progressing":
        extra = _event("Normal", "CanaryResumed", name, f"canary of {name} resumed: {new.message}")
    else:
        return out
    return RolloutStep(new, out.stable_hash, out.stable_provider, (extra, *out.events))


def _analysed(
    policy: RolloutPolicy,
    backend: Backend,
    r: RolloutStatus,
    canary: Signals | None,
    stable_hash: str | None,
    stable: dict[str, Any] | None,
    now: float,
) -> RolloutStep:
    v, why = verdict(policy, canary, True)
    base = r.model_copy(update={"last_verdict": v})
    if v == "Error":
        return RolloutStep(_pause(base, why), stable_hash, stable)
    if v == "Inconclusive":
        waiting = base.model_copy(update={"phase": "Progressing", "message": clip(f"{_label(policy, r)}: {why}", 1024)})
        return RolloutStep(waiting, stable_hash, stable)
    if v == "Passed" and r.step >= len(policy.steps) - 1:
        return _promoted(backend, base, f"passed at {policy.steps[r.step]}%: {why}", now)
    if v == "Passed":
        moved, events = _stepped(policy, backend, base, why, now)
        return RolloutStep(moved, stable_hash, stable, events)
    failed = r.failed_checks + 1
    counted = base.model_copy(update={"failed_checks": failed})
    if failed >= policy.failure_limit:
        return _stopped(backend, counted, "RolledBack", f"{why} ({failed} failed checks)", stable_hash, stable)
    held = counted.model_copy(
        update={
            "phase": "Progressing",
            "step_started": to_rfc3339(now),
            "message": clip(f"{_label(policy, r)}: {why} ({failed} of {policy.failure_limit} failed checks)", 1024),
        }
    )
    weight = policy.steps[r.step]
    text = f"canary of {backend.name} failed a check at {weight}%: {why} ({failed} of {policy.failure_limit})"
    return RolloutStep(held, stable_hash, stable, (_event("Warning", "CanaryCheckFailed", backend, text),))


def _label(policy: RolloutPolicy, r: RolloutStatus) -> str:
    return f"step {r.step + 1} of {len(policy.steps)} ({policy.steps[r.step]}%)"


def _stepped(
    policy: RolloutPolicy, backend: Backend, r: RolloutStatus, why: str, now: float
) -> tuple[RolloutStatus, tuple[Event, ...]]:
    """The next step after a passed check."""
    nxt = policy.steps[r.step + 1]
    moved = r.model_copy(
        update={
            "phase": "Progressing",
            "step": r.step + 1,
            "canary_weight": nxt,
            "step_started": to_rfc3339(now),
            "message": clip(f"step {r.step + 2} of {len(policy.steps)} ({nxt}%): previous step {why}", 1024),
        }
    )
    text = f"canary of {backend.name} passed at {policy.steps[r.step]}% ({why}); now at {nxt}%"
    return moved, (_event("Normal", "CanaryStepped", backend, text),)
