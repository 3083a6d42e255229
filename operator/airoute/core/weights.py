"""Effective weights: desired weights scaled by health, with standby and panic, summing to 100.

* A weighted backend (desired > 0) gets ``desired * factor``, where the factor comes from its
  health (:func:`airoute.core.health.traffic_factor`): 0 ejected or drilled, the ramp
  percentage while recovering, 0.5 Degraded, 1 otherwise. The results are normalised to 100.
* Standby backends (desired 0) take traffic only when no weighted backend is usable; the usable
  standbys then split it evenly.
* Panic: when no backend at all is usable, traffic is spread by the desired weights (evenly if
  none has one) rather than sent nowhere — maybe some requests get through.
* Rounding is largest-remainder with ties broken by name, so the integers sum to exactly 100
  whenever any backend gets traffic, and the same inputs always give the same weights. A usable
  weighted backend never rounds down to 0: it gets at least 1, taken from the largest.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

TOTAL = 100
_SCALE = 1_000_000


@dataclass(frozen=True)
class WeightPlan:
    """Effective weight per backend (percent), and how they came about."""

    weights: Mapping[str, int] = field(default_factory=dict)
    panic: bool = False
    standby_active: bool = False

    def summary(self, order: list[str] | None = None) -> str:
        """``azure-eu=0 bedrock-eu=60 vertex-eu=40`` (in ``order``, else by name)."""
        names = order if order is not None else sorted(self.weights)
        return " ".join(f"{n}={self.weights.get(n, 0)}" for n in names)


def largest_remainder(shares: Mapping[str, float], total: int = TOTAL) -> dict[str, int]:
    """Integers proportional to ``shares`` that sum to ``total`` (all 0 when no share is positive).

    Each gets the floor of its quota; the rest go one by one to the largest remainders, ties
    broken by name. Shares are fixed to a millionth of the largest one and the quotas computed in
    integers, so the result is exact and cheap (this runs for every route at every evaluation).
    """
    top = max((v for v in shares.values() if v > 0), default=0.0)
    if top <= 0:
        return {n: 0 for n in shares}
    scaled = {n: round(max(v, 0.0) / top * _SCALE) for n, v in shares.items()}
    whole = sum(scaled.values())
    out = {n: v * total // whole for n, v in scaled.items()}
    remainders = {n: v * total % whole for n, v in scaled.items()}
    left = total - sum(out.values())
    for name in sorted(remainders, key=lambda n: (-remainders[n], n))[:left]:
        out[name] += 1
    return out


def _at_least_one(weights: dict[str, int], shares: Mapping[str, float]) -> dict[str, int]:
    """Every positive share gets at least 1 %, taken from the largest weights (ties by name).

    Otherwise a small share (a canary of a new backend at 5 % of a weight of 10) would round to
    0 and never receive the traffic it needs to be judged.
    """
    starving = sorted(n for n, v in shares.items() if v > 0 and weights[n] == 0)
    if len(starving) + sum(1 for w in weights.values() if w > 0) > TOTAL:
        return weights
    out = dict(weights)
    for name in starving:
        donor = min(out, key=lambda n: (-out[n], n))
        out[donor] -= 1
        out[name] = 1
    return out


def effective_weights(desired: Mapping[str, int], factors: Mapping[str, float]) -> WeightPlan:
    """Weights for the backends in ``desired``; a backend is usable when its factor is above 0.

    A backend missing from ``factors`` counts as fully usable (factor 1).
    """
    usable = {n: factors.get(n, 1.0) > 0 for n in desired}
    weighted = {n: desired[n] * factors.get(n, 1.0) for n in desired if desired[n] > 0 and usable[n]}
    if weighted:
        return WeightPlan(_fill(desired, _at_least_one(largest_remainder(weighted), weighted)))
    standbys = {n: 1.0 for n in desired if desired[n] <= 0 and usable[n]}
    if standbys:
        return WeightPlan(_fill(desired, largest_remainder(standbys)), standby_active=True)
    spread = {n: float(w) for n, w in desired.items() if w > 0} or {n: 1.0 for n in desired}
    return WeightPlan(_fill(desired, largest_remainder(spread)), panic=bool(desired))


def normalized(desired: Mapping[str, int]) -> dict[str, int]:
    """The spec's weights as percentages (standbys 0), with the same rounding (remembered: the
    routes of a fleet declare few distinct sets of weights)."""
    return dict(_normalized(tuple(desired.items())))


@functools.lru_cache(maxsize=1024)
def _normalized(desired: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    return tuple(effective_weights(dict(desired), {}).weights.items())


def _fill(names: Mapping[str, int], weights: Mapping[str, int]) -> dict[str, int]:
    return {n: weights.get(n, 0) for n in names}
