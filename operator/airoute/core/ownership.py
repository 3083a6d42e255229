"""Who owns a model name: ``spec.model`` is what clients send, so two routes that claim the same one
would share (or steal) each other's prompts (issue 14.4).

The rule, one pure function used by the gateway, the controller, ``airoute validate`` and
``airoute inventory`` alike: **the route that claimed the model first owns it** — the oldest
``metadata.creationTimestamp``; routes created in the same second (the API server's resolution),
or read from files without one (which sort after every route that has one), are ordered by
namespace, then name. Every AIRoute with a ``spec.model`` string claims it, valid or not: a route
whose spec is broken keeps its model, so a broken spec never hands another team its traffic.
The others are not served; the controller marks each with a ``Conflict`` condition naming the
owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.api.status import AIRouteStatus
from airoute.core.clock import from_rfc3339
from airoute.core.conditions import set_condition
from airoute.core.decide import Decision
from airoute.core.events import Event, clip


@dataclass(frozen=True, order=True, slots=True)
class Claim:
    """One route's claim on a model; claims sort in the order of the rule (the owner first)."""

    unstamped: bool
    created: float
    namespace: str
    name: str
    model: str
    stamp: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        since = f" since {self.stamp}" if self.stamp else ""
        return f"{self.key}{since}"


def claim_of(obj: Mapping[str, Any]) -> Claim | None:
    """The claim of one raw AIRoute object (None when it names no model)."""
    spec = obj.get("spec")
    model = spec.get("model") if isinstance(spec, Mapping) else None
    if not isinstance(model, str) or not model:
        return None
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    stamp = meta.get("creationTimestamp")
    stamp = stamp if isinstance(stamp, str) else ""
    try:
        created = from_rfc3339(stamp) if stamp else None
    except ValueError:
        created = None
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    return Claim(created is None, created or 0.0, namespace, name, model, stamp if created is not None else "")


@dataclass(frozen=True)
class Ownership:
    """Every model's owner, and every route that lost its claim (by key) with the owner's claim."""

    owners: Mapping[str, Claim]
    lost: Mapping[str, Claim]

    def owns(self, key: str, model: str) -> bool:
        owner = self.owners.get(model)
        return owner is None or owner.key == key

    def conflict_message(self, key: str) -> str | None:
        owner = self.lost.get(key)
        if owner is None:
            return None
        return (f"spec.model {owner.model!r} belongs to {owner.describe()}, which claimed it first; "
                "this route is not served until it names another model or that route is gone")


def ownership(objs: Iterable[Mapping[str, Any]]) -> Ownership:
    """The owner of each model among ``objs``, by the rule of this module."""
    return ownership_of(c for o in objs if (c := claim_of(o)) is not None)


def ownership_of(claims: Iterable[Claim]) -> Ownership:
    """The owner of each model among these claims (see :func:`ownership`)."""
    owners: dict[str, Claim] = {}
    lost: dict[str, Claim] = {}
    for claim in sorted(claims):
        owner = owners.setdefault(claim.model, claim)
        if owner is not claim and owner.key != claim.key:
            lost[claim.key] = owner
    return Ownership(owners, lost)


@dataclass
class ClaimCache:
    """:func:`ownership` of objects seen again and again (the controller's routes, every cycle):
    each object's claim is kept by its ``resourceVersion`` and the ownership while no claim
    changed, so a cycle where nothing changed costs a lookup per object instead of a timestamp
    parse and a sort. Objects without a resourceVersion (files) are claimed afresh each time."""

    _claims: dict[str, tuple[str, Claim | None]] = field(default_factory=dict)
    _owned: tuple[list[Claim], Ownership] | None = None

    def ownership(self, keyed: Iterable[tuple[str, Mapping[str, Any]]]) -> Ownership:
        """:func:`ownership` of the objects, given with their ``namespace/name`` keys."""
        keyed = list(keyed)
        claims = [c for key, obj in keyed if (c := self._claim(key, obj)) is not None]
        if len(self._claims) > len(keyed):  # some are gone
            present = {key for key, _ in keyed}
            for key in [k for k in self._claims if k not in present]:
                del self._claims[key]
        if self._owned is None or self._owned[0] != claims:  # the same claims compare by identity
            self._owned = (claims, ownership_of(claims))
        return self._owned[1]

    def _claim(self, key: str, obj: Mapping[str, Any]) -> Claim | None:
        meta = obj.get("metadata")
        version = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
        if not isinstance(version, str) or not version:
            return claim_of(obj)
        cached = self._claims.get(key)
        if cached is None or cached[0] != version:
            cached = self._claims[key] = (version, claim_of(obj))
        return cached[1]


def conflict_decision(prev: AIRouteStatus, message: str, generation: int, now: float) -> Decision:
    """The status of a route that lost its model: ``Conflict`` True and ``Ready`` False, both saying
    whose model it is; nothing else changes (the route is not served, so nothing is measured)."""
    conditions = set_condition(prev.conditions, "Ready", "False", "ModelConflict", message, now, generation)
    conditions = set_condition(conditions, "Conflict", "True", "ModelClaimed", message, now, generation)
    status = prev.model_copy(update={"observed_generation": generation, "conditions": conditions})
    before = prev.condition("Conflict")
    if before is not None and (before.status, before.message) == ("True", message):
        return Decision(status)
    return Decision(status, (Event("Warning", "ModelConflict", clip(message, 1024)),))


def resolved(decision: Decision, now: float, generation: int) -> Decision:
    """A decision for a route that owns its model: a ``Conflict`` left from before turns False."""
    before = decision.status.condition("Conflict")
    if before is None or before.status != "True":
        return decision
    conditions = set_condition(decision.status.conditions, "Conflict", "False", "ModelOwned",
                               "spec.model is this route's own", now, generation)
    event = Event("Normal", "ModelOwned", "spec.model is this route's own again: it is served")
    return Decision(decision.status.model_copy(update={"conditions": conditions}), (*decision.events, event))
