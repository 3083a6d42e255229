"""One gateway process: the HTTP server, the route source, the client keys, and shutdown.

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
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from airoute.gateway.admission import Admission
from airoute.gateway.app import GatewayApp
from airoute.gateway.auth import ClientKeys, KeyFileError, keys_from_secret, load_key_file
from airoute.gateway.callers import CallerCache
from airoute.gateway.config import GatewayConfig
from airoute.gateway.dispatch import Dispatcher
from airoute.gateway.folder import FolderSource
from airoute.gateway.httpserver import HttpServer
from airoute.gateway.keeper import TableKeeper
from airoute.gateway.kubesource import KubeSource, watch_secret
from airoute.gateway.metrics import MAX_GAUGES, GatewayMetrics
from airoute.gateway.promtext import merge
from airoute.kube import KubeClient, load_config
from airoute.providers import Pools

log = logging.getLogger(__name__)

JOIN_WAIT_SECONDS = 30.0


class Gateway:
    """A running gateway (one process, one event loop)."""

    def __init__(self, config: GatewayConfig, worker: int = 0) -> None:
        config.check()
        self.config = config
        self.worker = worker
        self.metrics = GatewayMetrics()
        callers = CallerCache(Pools(), config.service_hosts, config.request_timeout)
        self.keeper = TableKeeper(callers, self.metrics, config.namespaces)
        self.dispatcher = Dispatcher(self.metrics)
        self.app = GatewayApp(self.keeper, self.dispatcher, Admission(config.max_in_flight, self.metrics),
                              self.metrics, None, not config.auth_disabled, config.request_timeout)
        self.http = HttpServer(self.app.handle, config.max_body_bytes, config.idle_timeout)
        self.port = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._kube: KubeClient | None = None
        self._local_metrics: HttpServer | None = None

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    async def start(self) -> int:
        config = self.config
        if config.kubernetes:
            kube_config = load_config(config.kubeconfig, config.kube_context)
            self._kube = KubeClient(kube_config)
            namespaces = config.namespaces or (kube_config.namespace,)
            self.keeper.namespaces = frozenset(namespaces)
            source = KubeSource(self._kube, namespaces)
            self._spawn(source.run(self.keeper.apply, self.keeper.refuse), "route-source")
            if config.api_keys_secret:
                self._spawn(watch_secret(self._kube, config.api_keys_secret, self._secret_keys), "client-keys")
        else:
            assert config.routes_dir is not None
            folder = FolderSource(config.routes_dir, config.poll_interval)
            self._spawn(folder.run(self.keeper.apply, self.keeper.refuse), "route-source")
        if config.api_keys_file:
            self.app.keys = load_key_file(config.api_keys_file)
            self._spawn(self._poll_key_file(config.api_keys_file), "client-keys")
        if config.metrics_dir:
            await self._serve_local_metrics(config.metrics_dir)
        if config.reuse_port:
            # Workers share the port: the kernel spreads connections over every worker listening,
            # so a worker joins only once it can route (or after a while, to answer probes).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.keeper.loaded.wait(), JOIN_WAIT_SECONDS)
        self.port = await self.http.listen(config.host, config.port, reuse_port=config.reuse_port)
        log.info("gateway worker %d listening on %s:%d (%s)", self.worker, config.host, self.port,
                 "kubernetes" if config.kubernetes else f"folder {config.routes_dir}")
        return self.port

    async def wait_ready(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self.keeper.loaded.wait(), within)

    def _secret_keys(self, secret: dict[str, Any] | None) -> None:
        if secret is None:
            log.error("client key Secret %s not found; requests are refused until it exists",
                      self.config.api_keys_secret)
            self.app.keys = None
            return
        try:
            self.app.keys = keys_from_secret(secret)
            log.info("client keys loaded: %d client(s)", len(self.app.keys))
        except (KeyFileError, ValueError) as exc:
            log.error("client key Secret unusable, keeping the previous keys: %s", exc)

    async def _poll_key_file(self, path: str) -> None:
        seen = _stamp(path)
        while True:
            await asyncio.sleep(self.config.poll_interval)
            stamp = _stamp(path)
            if stamp == seen:
                continue
            seen = stamp
            try:
                self.app.keys = await asyncio.to_thread(load_key_file, path)
                log.info("client keys reloaded from %s: %d client(s)", path, len(self.app.keys))
            except KeyFileError as exc:
                log.error("client key file unusable, keeping the previous keys: %s", exc)

    async def _serve_local_metrics(self, folder: str) -> None:
        """With several workers: each serves its own metrics on a unix socket, and /metrics on any
        worker merges all of them, so one scrape sees the whole pod."""
        sock = Path(folder) / f"worker-{self.worker}.sock"
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()

        async def local(request: Any, reply: Any) -> None:
            reply.send(200, self.metrics.render(), "text/plain")

        self._local_metrics = HttpServer(local)
        await self._local_metrics.listen_unix(str(sock))
        self.app.metrics_text = lambda: _merged_metrics(folder)

    async def shutdown(self) -> bool:
        """Drains and stops; True when everything in flight finished within the grace period."""
        self.app.draining = True
        self.metrics.ready.set((), 0)
        if self.config.shutdown_delay > 0:
            await asyncio.sleep(self.config.shutdown_delay)
        finished = await self.http.drain(self.config.shutdown_grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._local_metrics is not None:
            await self._local_metrics.drain(0)
        await self.keeper.close()
        if self._kube is not None:
            await self._kube.close()
        log.info("gateway worker %d stopped%s", self.worker, "" if finished else " (grace period ran out)")
        return finished


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


async def _fetch_local(path: Path) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: local\r\nconnection: close\r\n\r\n")
        data = await reader.read()
    finally:
        writer.close()
    return data.partition(b"\r\n\r\n")[2]


async def _merged_metrics(folder: str) -> bytes:
    socks = await asyncio.to_thread(lambda: sorted(Path(folder).glob("worker-*.sock")))
    results = await asyncio.gather(*(asyncio.wait_for(_fetch_local(s), 2.0) for s in socks), return_exceptions=True)
    return merge([r for r in results if isinstance(r, bytes)], MAX_GAUGES)


__all__ = ["ClientKeys", "Gateway", "KeyFileError"]
