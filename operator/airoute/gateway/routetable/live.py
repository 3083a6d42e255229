"""The route table the gateway serves from: routes by model name, each ready for the failover
policy, and the routes left out because they cannot be served.

A :class:`LiveTable` is changed in place by its builder only, on the event loop, one slice of
changed routes at a time (each in one synchronous step): a request sees a route as it was before
a change or after it, never half of one, and the routes a change did not touch stay the very
same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airoute.core.routeentry import RouteEntry
from airoute.gateway.failover.route import LiveRoute


@dataclass(eq=False)
class LiveTable:
    """Routes by model name; ``unavailable``: the routes by model name that were left out because
    they cannot be served (a 503, not "no such model"); ``version`` and ``hash``: core's
    (:class:`~airoute.core.tablestate.TableState`)."""

    routes: dict[str, LiveRoute] = field(default_factory=dict)
    unavailable: dict[str, RouteEntry] = field(default_factory=dict)
    version: int = 0
    hash: str = ""
