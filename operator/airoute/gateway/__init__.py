"""The OpenAI-compatible gateway: route table with atomic hot reload, weighted choice, retry
before the first byte, local ejection, streaming, client auth, limits, tier shedding, metrics.

Entry points: :func:`run_gateway` (blocking, ``--workers N``), :func:`serve` (async, one
process), :class:`Gateway` (start/shutdown by hand, for tests and the demo).
"""

from airoute.gateway.config import GatewayConfig
from airoute.gateway.runner import run_gateway, serve
from airoute.gateway.server import Gateway

__all__ = ["Gateway", "GatewayConfig", "run_gateway", "serve"]
