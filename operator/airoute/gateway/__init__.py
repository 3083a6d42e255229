"""The OpenAI-compatible gateway: route table with atomic hot reload, weighted choice, retry
before the first byte, local ejection, streaming, client auth, limits, tier shedding, metrics.

Entry points: :func:`run_gateway` (blocking, ``--workers N``), :func:`serve` (async, one
process), :class:`Gateway` (start/shutdown by hand, for tests and the demo).

A request goes one way: ``http_server.py`` → ``endpoints.py`` → ``failover/`` → the callers of
:mod:`airoute.providers`. Where each concern lives:

===========================  ===================================================================
``process.py``               one process wired together: start, drain (:class:`Gateway`)
``workers.py``               ``serve()``, ``run_gateway()``, the supervisor of N workers
``worker_metrics.py``        one ``/metrics`` for all workers of a pod
``cli.py``, ``config.py``    the ``airoute gateway`` flags and :class:`GatewayConfig`
``http_server.py``           the HTTP/1.1 server (keep-alive, limits, streaming, drain)
``endpoints.py``             the HTTP endpoints: chat completions, models, health, metrics
``client_keys.py``           client API keys, hot-reloaded from a file or a Secret
``admission.py``             the concurrency limit, shedding the least critical tier first
``errors.py``                the errors the gateway answers with, in OpenAI's shape
``failover/policy.py``       one request through a route: attempts, retries, cut streams, degrade
``failover/choice.py``       weighted choice of a backend variant and the order of the others
``failover/ejection.py``     local outlier ejection
``failover/route.py``        a route ready for the policy: targets, choice, metric labels
``failover/answers.py``      the degraded answer and stream error events
``routetable/live.py``       the live table, swapped whole on every change
``routetable/build.py``      a snapshot → a new live table (or the last good one kept)
``routetable/snapshot.py``   what a route source hands over
``routetable/folder.py``     route source: a folder of YAML files
``routetable/kubernetes.py`` route source: AIRoutes and Secrets watched in the cluster
``callers.py``               the cache of built callers, kept across reloads
``metrics.py``               the gateway's metrics (``promtext.py``: their hot-path registry)
===========================  ===================================================================
"""

from airoute.gateway.config import GatewayConfig
from airoute.gateway.process import Gateway
from airoute.gateway.workers import run_gateway, serve

__all__ = ["Gateway", "GatewayConfig", "run_gateway", "serve"]
