"""The route table the gateway serves from: routes by model name, each ready for the failover
policy, and core's :class:`RouteTable` they were compiled from.

A :class:`LiveTable` is immutable; the gateway swaps the whole object in one assignment, so a
request sees either the old table or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from airoute.core.routeentry import RouteEntry
from airoute.core.routetable import RouteTable
from airoute.gateway.failover.route import LiveRoute


@dataclass(frozen=True)
class LiveTable:
    """Routes by model name, plus the core table they came from; ``unavailable``: the routes by
    model name that were left out because they cannot be served (a 503, not "no such model")."""

    table: RouteTable
    routes: Mapping[str, LiveRoute]
    unavailable: Mapping[str, RouteEntry] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.table.version


EMPTY = LiveTable(RouteTable(0, "", {}), {})
