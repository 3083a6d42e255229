"""Capability-aware choice: a request goes only to the backend variants that can serve what it
needs.

A step of its own before the draw, composable with whatever else restricts the choice: the
route's :class:`~airoute.gateway.failover.choice.Choice` is restricted to the variants whose
declaration (:mod:`airoute.providers.capabilities`) refuses none of the request's needed features;
the draw then renormalises the weights among them. A request no variant can serve is answered
400 naming the features and the backends (:func:`refusal`) — never sent to a backend that would
refuse it while another could serve it.

The restricted choice depends only on the route and the needs mask, so it is computed once per
distinct mask and kept with the route (a new route table starts afresh).
"""

from __future__ import annotations

from dataclasses import dataclass

from airoute.gateway import errors
from airoute.gateway.failover.choice import Choice
from airoute.gateway.failover.route import LiveRoute, Target
from airoute.providers.capabilities import Feature, features_in
from airoute.providers.needs import Needs

MAX_CACHED = 256
"""Distinct needs masks remembered per route (far more than real traffic shows)."""


@dataclass(frozen=True, slots=True)
class Narrowing:
    """``choice``: the variants that may serve the request (None: none may); ``narrowed``: some
    variant was left out; ``sure``: backends declaring every needed feature (a 400 from a backend
    that only *may* take them moves the request on while one of these is untried)."""

    choice: Choice[Target] | None
    narrowed: bool
    sure: frozenset[str]


def narrowing(route: LiveRoute, needs: int) -> Narrowing:
    """The route's choice for a request with these needs (a mask of Feature flags)."""
    found: Narrowing | None = route.narrowings.get(needs)
    if found is None:
        found = _narrow(route.choice, needs)
        if len(route.narrowings) >= MAX_CACHED:
            route.narrowings.clear()
        route.narrowings[needs] = found
    return found


def _narrow(choice: Choice[Target], needs: int) -> Narrowing:
    kept = choice.restricted(lambda target: target.capabilities.can_take(needs))
    total = sum(len(s.variants) for s in choice.slots)
    left = sum(len(s.variants) for s in kept.slots) if kept is not None else 0
    sure = frozenset(s.name for s in choice.slots
                     if any(v.target.capabilities.surely_takes(needs) for v in s.variants))
    return Narrowing(kept, left < total, sure)


def _backend_text(target: Target) -> str:
    return f"{target.backend} ({target.provider}, {target.capabilities.family})"


def _feature_text(feature: Feature, needs: Needs) -> str:
    if feature is Feature.OPENAI_PARAMS and needs.params:
        return f"{feature.text}: {', '.join(needs.params)}"
    return feature.text


def refusal(route: LiveRoute, needs: Needs) -> errors.ClientError:
    """The 400 for a request no backend of ``route`` can serve: each backend and what it lacks."""
    reasons = []
    for slot in route.choice.slots:
        for pick in slot.variants:
            target = pick.target
            lacking = features_in(needs.mask & target.capabilities.refuses)
            reasons.append(f"{_backend_text(target)} does not take "
                           + ", ".join(_feature_text(f, needs) for f in lacking))
    wanted = ", ".join(f.short for f in features_in(needs.mask))
    return errors.ClientError(
        400,
        f"no backend of route {route.key} can serve this request (it needs: {wanted}): {'; '.join(reasons)}",
        "invalid_request_error",
        "unsupported_by_route",
        _param(needs),
    )


def _param(needs: Needs) -> str | None:
    """The request field of the first needed feature, for OpenAI's ``param``."""
    first = features_in(needs.mask)
    if not first:
        return None
    if first[0] is Feature.OPENAI_PARAMS:
        return needs.params[0] if needs.params else None
    return first[0].param
