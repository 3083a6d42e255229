"""Metrics of a pod with several worker processes: each worker serves its own metrics on a unix
socket in a shared folder, and ``/metrics`` on any worker merges all of them, so one scrape sees
the whole pod."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from airoute.gateway.http_server import HttpServer, Reply, Request
from airoute.gateway.metrics import MAX_GAUGES, GatewayMetrics
from airoute.gateway.promtext import CONTENT_TYPE, merge


async def serve_worker_metrics(folder: str, worker: int, metrics: GatewayMetrics) -> HttpServer:
    """Serves this worker's own metrics on ``{folder}/worker-{worker}.sock``; drain it at shutdown."""
    sock = Path(folder) / f"worker-{worker}.sock"
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()

    async def local(request: Request, reply: Reply) -> None:
        reply.send(200, metrics.render(), CONTENT_TYPE)

    server = HttpServer(local)
    await server.listen_unix(str(sock))
    return server


async def pod_metrics(folder: str) -> bytes:
    """Every worker's metrics, merged (a worker that does not answer within 2 s is left out)."""
    socks = await asyncio.to_thread(lambda: sorted(Path(folder).glob("worker-*.sock")))
    results = await asyncio.gather(*(asyncio.wait_for(_fetch(s), 2.0) for s in socks), return_exceptions=True)
    return merge([r for r in results if isinstance(r, bytes)], MAX_GAUGES)


async def _fetch(path: Path) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: local\r\nconnection: close\r\n\r\n")
        data = await reader.read()
    finally:
        writer.close()
    return data.partition(b"\r\n\r\n")[2]
