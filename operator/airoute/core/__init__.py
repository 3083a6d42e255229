"""Pure decisions: health, analysis, weights, rollouts, drills, shedding, the route table.

Nothing here does I/O or reads a clock: time comes in as ``now`` (epoch seconds).
"""

from airoute.core.analysis import verdict
from airoute.core.clock import from_rfc3339, to_rfc3339
from airoute.core.conditions import set_condition
from airoute.core.decide import Decision, evaluate, invalid_spec_status
from airoute.core.drills import step_drills
from airoute.core.events import Event
from airoute.core.health import DEGRADED_FACTOR, Assessment, assess, step_backend, traffic_factor
from airoute.core.rollout import Gates, RolloutStep, step_rollout
from airoute.core.routetable import (
    BackendEntry,
    RouteEntry,
    RouteTable,
    TableProblem,
    Variant,
    build_table,
    route_entry,
)
from airoute.core.shedding import SHED_ORDER, shed_by_pressure, shed_tier, tier_capacity
from airoute.core.signals import Observations, Signals
from airoute.core.weights import WeightPlan, effective_weights, largest_remainder, normalized

__all__ = [
    "DEGRADED_FACTOR",
    "SHED_ORDER",
    "Assessment",
    "BackendEntry",
    "Decision",
    "Event",
    "Gates",
    "Observations",
    "RolloutStep",
    "RouteEntry",
    "RouteTable",
    "Signals",
    "TableProblem",
    "Variant",
    "WeightPlan",
    "assess",
    "build_table",
    "effective_weights",
    "evaluate",
    "from_rfc3339",
    "invalid_spec_status",
    "largest_remainder",
    "normalized",
    "route_entry",
    "set_condition",
    "shed_by_pressure",
    "shed_tier",
    "step_backend",
    "step_drills",
    "step_rollout",
    "tier_capacity",
    "to_rfc3339",
    "traffic_factor",
    "verdict",
]
