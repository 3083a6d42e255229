"""Running the gateway: :func:`serve` (async, one process) and :func:`run_gateway` (blocking;
with ``--workers N`` it starts N worker processes that share the port through ``SO_REUSEPORT``,
restarts one that dies and forwards SIGTERM/SIGINT to all)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import signal
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from airoute.gateway import runtime
from airoute.gateway.config import GatewayConfig
from airoute.gateway.process import Gateway

log = logging.getLogger(__name__)

# Libraries that log request headers (credentials, AWS session tokens) at DEBUG: never below WARNING.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "azure", "google", "httpx", "httpcore", "aiohttp.access")


def configure_logging(level: str, fmt: str) -> None:
    """The gateway's log: ``level`` for airoute itself, WARNING at most for the provider SDKs. It replaces
    whatever was set up before (``airoute``'s own default), so that ``--log-level`` takes effect."""
    logging.basicConfig(level=level, format=fmt, force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


async def serve(
    config: GatewayConfig,
    *,
    stop: asyncio.Event | None = None,
    worker: int = 0,
    on_started: Callable[[Gateway], None] | None = None,
) -> bool:
    """Runs one gateway until ``stop`` is set or SIGTERM/SIGINT arrives, then drains.
    Returns True when everything in flight finished within the grace period."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    runtime.raise_fd_limit()
    runtime.collect_less()
    gateway = Gateway(config, worker)
    gateway.table.while_loading = runtime.freeze_loading
    await gateway.start()
    settled = loop.create_task(_freeze_when_loaded(gateway), name="freeze-heap")
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    if on_started is not None:
        on_started(gateway)
    try:
        await stop.wait()
        log.info("gateway worker %d shutting down: draining requests in flight", worker)
    finally:
        settled.cancel()
        finished = await gateway.shutdown()
    return finished


async def _freeze_when_loaded(gateway: Gateway) -> None:
    await gateway.table.loaded.wait()
    runtime.freeze_heap()


def _run_loop(config: GatewayConfig, worker: int) -> bool:
    if config.uvloop:
        try:
            import uvloop

            return uvloop.run(serve(config, worker=worker))
        except ImportError:
            log.info("uvloop is not installed; using the standard asyncio loop")
    return asyncio.run(serve(config, worker=worker))


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM (and drains) when the supervising process dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker_main(config: GatewayConfig, worker: int) -> None:
    _die_with_parent()
    configure_logging(config.log_level, f"%(asctime)s worker-{worker} %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM for every worker
    raise SystemExit(0 if _run_loop(config, worker) else 1)


def _supervise(config: GatewayConfig) -> int:
    """Starts ``config.workers`` processes, restarts one that dies, forwards SIGTERM/SIGINT."""
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with tempfile.TemporaryDirectory(prefix="airoute-gateway-") as folder:
        worker_config = dataclasses.replace(config, reuse_port=True, metrics_dir=folder, workers=1)
        procs: dict[int, BaseProcess] = {}

        def start(i: int) -> None:
            proc = ctx.Process(target=_worker_main, args=(worker_config, i), name=f"airoute-gateway-{i}")
            proc.start()
            procs[i] = proc

        for i in range(config.workers):
            start(i)
        while not stopping:
            time.sleep(0.2)
            for i, proc in list(procs.items()):
                if not proc.is_alive() and not stopping:
                    log.error("gateway worker %d exited with %s; starting it again", i, proc.exitcode)
                    start(i)
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: each worker drains
        for proc in procs.values():
            proc.join(config.shutdown_delay + config.shutdown_grace + 5)
        return max((p.exitcode or 0) for p in procs.values())


def run_gateway(config: GatewayConfig) -> int:
    """Runs the gateway until SIGTERM/SIGINT; the exit code is 0 after a clean drain."""
    config.check()
    configure_logging(config.log_level, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.workers > 1:
        return _supervise(config)
    return 0 if _run_loop(config, 0) else 1
