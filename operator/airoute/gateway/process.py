"""One gateway process, wired: the route table and its source, the callers, the failover policy,
the endpoints, the HTTP server, the client keys, and shutdown.

``async with Gateway(config) as gw`` starts everything (``gw.port`` is the bound port);
:meth:`Gateway.shutdown` drains: ``/readyz`` answers 503, then (after ``shutdown_delay``) the
listener closes, idle connections close, requests and streams in flight finish (up to
``shutdown_grace`` seconds), and the process may exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airoute.gateway.admission import Admission
from airoute.gateway.callers import CallerCache
from airoute.gateway.client_keys import Keyring
from airoute.gateway.config import GatewayConfig
from airoute.gateway.endpoints import Endpoints
from airoute.gateway.failover.policy import Failover
from airoute.gateway.http_server import HttpServer, Limits
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.overload import MEMORY_SHARE, Overload, cgroup_memory_limit
from airoute.gateway.routetable.build import TableBuilder
from airoute.gateway.routetable.folder import FolderSource
from airoute.gateway.routetable.kubernetes import KubeSource
from airoute.gateway.runtime import GcPauses
from airoute.gateway.worker_metrics import pod_metrics, serve_worker_metrics
from airoute.kube import KubeClient, KubeConfig, load_config
from airoute.providers import Pools, fastjson

if TYPE_CHECKING:
    from airoute.gateway.otlp import OtlpExport

log = logging.getLogger(__name__)

JOIN_WAIT_SECONDS = 30.0


def kubernetes_api_addresses(kube: KubeConfig | None) -> frozenset[str]:
    """The Kubernetes API's addresses, refused as upstream targets: the ``kubernetes`` Service's
    (``KUBERNETES_SERVICE_HOST`` in a pod) and the API server's the gateway talks to."""
    hosts = {os.environ.get("KUBERNETES_SERVICE_HOST", "")}
    if kube is not None:
        hosts.add(urlsplit(kube.server).hostname or "")
    found: set[str] = set()
    for host in filter(None, hosts):
        with contextlib.suppress(OSError):
            found.update(str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
    return frozenset(found)


def _memory_limit(configured: int | None) -> int | None:
    """``--max-memory``, else :data:`MEMORY_SHARE` of the container's limit (None: not watched)."""
    if configured is not None:
        return configured or None
    found = cgroup_memory_limit()
    return int(found * MEMORY_SHARE) if found else None


def _otlp_export(config: GatewayConfig, metrics: GatewayMetrics, worker: int) -> OtlpExport | None:
    """The OTLP export when ``--otlp-endpoint`` is set (imported only then: off, it costs nothing)."""
    if config.otlp_endpoint is None:
        return None
    from airoute.gateway.otlp import OtlpExport

    return OtlpExport(config.otlp_endpoint, metrics.registry, config.otlp_interval, worker)


class Gateway:
    """A running gateway (one process, one event loop). In Kubernetes mode the kubeconfig is read
    here: the namespaces served default to its namespace."""

    def __init__(self, config: GatewayConfig, worker: int = 0) -> None:
        config.check()
        self.config = config
        self.worker = worker
        self.metrics = GatewayMetrics()
        self._kube_config: KubeConfig | None = None
        namespaces = config.namespaces
        if config.kubernetes:
            self._kube_config = load_config(config.kubeconfig, config.kube_context)
            namespaces = namespaces or (self._kube_config.namespace,)
        self.namespaces = namespaces
        policy = config.upstream_policy(kubernetes_api_addresses(self._kube_config))
        self.pools = Pools(policy)
        self.table = TableBuilder(CallerCache(self.pools, config.service_hosts), self.metrics, namespaces)
        self.otlp = _otlp_export(config, self.metrics, worker)
        self.failover = Failover(self.metrics, spans=self.otlp.spans if self.otlp is not None else None)
        self.overload = Overload(config.max_loop_lag, _memory_limit(config.max_memory), self._open_connections)
        self.admission = Admission(config.max_in_flight, self.metrics, self.overload)
        self.metrics.registry.collectors.append(self._collect)
        self.metrics.registry.collectors.append(self._publish_out)
        self.keyring = Keyring(required=not config.auth_disabled)
        metrics_dir = config.metrics_dir
        self.endpoints = Endpoints(self.table, self.failover, self.admission, self.metrics, self.keyring,
                                   config.request_timeout,
                                   (lambda: pod_metrics(metrics_dir)) if metrics_dir else None,
                                   metrics_here=config.metrics_port is None)
        limits = Limits(max_body=config.max_body_bytes, idle_timeout=config.idle_timeout,
                        max_connections=config.max_connections, header_timeout=config.header_timeout,
                        min_data_rate=config.min_data_rate)
        self.http = HttpServer(self.endpoints.handle, limits, admit=self.endpoints.admit)
        self.metrics_http = (HttpServer(self.endpoints.handle_metrics_port, limits)
                             if config.metrics_port is not None else None)
        self.gc_pauses = GcPauses(self.metrics.gc_pause.observe)
        self.port = 0
        self.metrics_port = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._kube: KubeClient | None = None
        self._worker_metrics: HttpServer | None = None

    def _collect(self) -> None:
        self.overload.pressure()
        for resource, pressure in self.overload.pressures.items():
            self.metrics.overload.set((resource,), pressure)
        self.metrics.loop_lag.set((), self.overload.lag)

    def _publish_out(self) -> None:
        """Backends this process keeps out right now: ejected, held off after a 429 (issue 18.1)."""
        self.metrics.publish_out("ejected", self.failover.ejector.ejected())
        self.metrics.publish_out("held_off", self.failover.held.all())

    def _open_connections(self) -> int:
        metrics = len(self.metrics_http.connections) if self.metrics_http is not None else 0
        return len(self.http.connections) + metrics + self.pools.open_connections()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    async def start(self) -> int:
        config = self.config
        self.gc_pauses.install()
        if self._kube_config is not None:
            self._kube = KubeClient(self._kube_config, decode=fastjson.loads)
            withheld = frozenset([config.api_keys_secret] if config.api_keys_secret else [])
            source = KubeSource(self._kube, self.namespaces, withheld=withheld)
            self._spawn(source.run(self.table.submit, self.table.refuse), "route-source")
            if config.api_keys_secret:
                self._spawn(self.keyring.watch_secret(self._kube, config.api_keys_secret), "client-keys")
        else:
            assert config.routes_dir is not None
            folder = FolderSource(config.routes_dir, config.poll_interval)
            self._spawn(folder.run(self.table.submit, self.table.refuse), "route-source")
        if config.api_keys_file:
            self.keyring.load_file(config.api_keys_file)
            self._spawn(self.keyring.poll_file(config.api_keys_file, config.poll_interval), "client-keys")
        if config.metrics_dir:
            self._worker_metrics = await serve_worker_metrics(config.metrics_dir, self.worker, self.metrics)
        if config.reuse_port:
            # Workers share the port: the kernel spreads connections over every worker listening,
            # so a worker joins only once it can route (or after a while, to answer probes).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.table.loaded.wait(), JOIN_WAIT_SECONDS)
        if self.metrics_http is not None and config.metrics_port is not None:
            self.metrics_port = await self.metrics_http.listen(config.host, config.metrics_port,
                                                               reuse_port=config.reuse_port)
        self.port = await self.http.listen(config.host, config.port, reuse_port=config.reuse_port)
        self.overload.start()
        if self.otlp is not None:
            self._spawn(self.otlp.push_metrics(), "otlp-metrics")
        log.info("gateway worker %d listening on %s:%d (%s)%s", self.worker, config.host, self.port,
                 "kubernetes" if config.kubernetes else f"folder {config.routes_dir}",
                 f", /metrics on port {self.metrics_port}" if self.metrics_http is not None else "")
        return self.port

    async def wait_ready(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self.table.loaded.wait(), within)

    async def shutdown(self) -> bool:
        """Drains and stops; True when everything in flight finished within the grace period."""
        self.endpoints.draining = True
        self.metrics.ready.set((), 0)
        if self.config.shutdown_delay > 0:
            await asyncio.sleep(self.config.shutdown_delay)
        finished = await self.http.drain(self.config.shutdown_grace)
        self.overload.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._worker_metrics is not None:
            await self._worker_metrics.drain(0)
        if self.metrics_http is not None:
            await self.metrics_http.drain(0)
        await self.table.close()
        if self.otlp is not None:
            await self.otlp.close()
        if self._kube is not None:
            await self._kube.close()
        self.gc_pauses.remove()
        log.info("gateway worker %d stopped%s", self.worker, "" if finished else " (grace period ran out)")
        return finished
