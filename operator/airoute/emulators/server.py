"""The base of every emulator: lifecycle, listening socket, fault gate, streaming, admin endpoints.

Admin endpoints, on the same server as the provider API:
``GET /_emulator/faults`` · ``PUT /_emulator/faults`` (a rule object, or
``{"model_version": "v2", "rules": [...]}``) · ``GET /_emulator/stats`` · ``POST /_emulator/reset``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web

from airoute.emulators.faults import OK, Decision, FaultController, Faults
from airoute.emulators.stats import RequestRecord, Stats

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN = "/_emulator"
CAPTURED = 64


@dataclass(frozen=True)
class Captured:
    """One request as it arrived: method, path with query, headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Gate:
    """The outcome of the fault gate: either a response to send now, or the decision to go on."""

    __slots__ = ("decision", "response")

    def __init__(self, decision: Decision, response: web.StreamResponse | None = None) -> None:
        self.decision = decision
        self.response = response


class EmulatorServer:
    """One provider's emulator. Subclasses add routes in :meth:`routes` and shape errors."""

    provider: ClassVar[str] = "emulator"

    def __init__(self, *, seed: int | None = 0, model_version: str = "v1") -> None:
        self.faults = FaultController(seed=seed, model_version=model_version)
        self.stats = Stats()
        self.connections = 0
        """TCP connections accepted so far (keep-alive reuse shows as few connections)."""
        self.captured: deque[Captured] = deque(maxlen=CAPTURED)
        """The last requests received, as sent (tests compare what different clients send)."""
        self.app = web.Application(client_max_size=32 * 1024 * 1024)
        self.app.router.add_get(f"{ADMIN}/faults", self._get_faults)
        self.app.router.add_put(f"{ADMIN}/faults", self._put_faults)
        self.app.router.add_get(f"{ADMIN}/stats", self._get_stats)
        self.app.router.add_post(f"{ADMIN}/reset", self._post_reset)
        self.app.router.add_routes(self.routes())
        self.faults.subscribe(self._on_faults_changed)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._relisten: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._host = "127.0.0.1"
        self._port = 0
        self._ssl: ssl.SSLContext | None = None

    def routes(self) -> Iterable[web.RouteDef]:
        return ()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None,
    ) -> str:
        """Listen on ``host:port`` (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._host, self._port, self._ssl = host, port, ssl_context
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=0.2,
        )
        await self._runner.setup()
        await self._listen()
        return self.base_url

    async def stop(self) -> None:
        """Stop listening, reset open connections, release every waiting handler."""
        if self._runner is None:
            return
        self._closing.set()
        if self._relisten is not None:
            self._relisten.cancel()
        self._close_listener()
        self._abort_connections()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def set_faults(self, *rules: Faults, **fields: Any) -> None:
        """Replace the fault rules and wait until they are in force (listener closed/reopened)."""
        self.faults.set(*rules, **fields)
        await self.settle()

    async def settle(self) -> None:
        if self.faults.refusing:
            self._abort_connections()
        elif self._relisten is not None:
            await asyncio.shield(self._relisten)

    async def _listen(self) -> None:
        assert self._runner is not None and self._runner.server is not None
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.create_server((self._host, self._port), family=family, backlog=1024)
        self._port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        factory = self._runner.server

        def accept() -> asyncio.Protocol:
            self.connections += 1
            return factory()

        self._server = await loop.create_server(accept, sock=sock, ssl=self._ssl, backlog=1024)

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _abort_connections(self) -> None:
        server = self._runner.server if self._runner is not None else None
        for handler in server.connections if server is not None else ():
            if handler.transport is not None:
                handler.transport.abort()

    def _on_faults_changed(self) -> None:
        if self._runner is None:
            return
        loop = asyncio.get_running_loop()
        if self.faults.refusing and self._server is not None:
            self._close_listener()
            # Late enough for an admin PUT to get its answer out first.
            loop.call_later(0.05, self._abort_if_refusing)
        elif not self.faults.refusing and self._server is None:
            self._relisten = loop.create_task(self._listen())

    def _abort_if_refusing(self) -> None:
        if self.faults.refusing:
            self._abort_connections()

    # -- the fault gate and helpers for subclasses -------------------------------------------

    def capture(self, request: web.Request, body: bytes) -> None:
        """Keeps the request as received in :attr:`captured`."""
        self.captured.append(Captured(request.method, request.path_qs, dict(request.headers), body))

    def record(self, request: web.Request, api: str, model: str, streamed: bool,
               outcome: str, status: int) -> None:
        self.stats.record(RequestRecord(
            api, request.path, model, self.faults.model_version, streamed, outcome, status,
        ))

    async def gate(self, request: web.Request, api: str, model: str, streamed: bool) -> Gate:
        """Apply the fault rules to a request: delay it, reset it, drop it, or answer an error."""
        faults = self.faults
        if not faults.active:
            return Gate(OK)
        if faults.refusing:
            return Gate(OK, await self._reset(request, api, model, streamed, "refused"))
        decision = faults.decide(model)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.action == "reset":
            return Gate(decision, await self._reset(request, api, model, streamed, "reset"))
        if decision.action == "drop":
            self.record(request, api, model, streamed, "dropped", 0)
            await self._closing.wait()
            return Gate(decision, await self._reset(request, api, model, streamed, None))
        if decision.action in ("error", "throttle"):
            outcome = "throttled" if decision.action == "throttle" else "error"
            self.record(request, api, model, streamed, outcome, decision.status)
            response = self.fault_response(decision, _FAULT_MESSAGES.get(
                decision.status, "The emulator injected this error."))
            return Gate(decision, response)
        return Gate(decision)

    async def _reset(self, request: web.Request, api: str, model: str, streamed: bool,
                     outcome: str | None) -> web.StreamResponse:
        if outcome is not None:
            self.record(request, api, model, streamed, outcome, 0)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)

    def fault_response(self, decision: Decision, message: str) -> web.Response:
        """The answer to an injected error or throttle."""
        return self.error_response(decision.status, message, decision.retry_after)

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       ) -> web.Response:
        """The provider-shaped error; subclasses override."""
        body = {"error": {"code": str(status), "message": message}}
        return web.json_response(body, status=status, headers=retry_headers(status, retry_after))

    async def stream(self, request: web.Request, chunks: list[bytes], decision: Decision,
                     content_type: str, headers: dict[str, str] | None = None,
                     ) -> tuple[web.StreamResponse, bool]:
        """Send ``chunks`` with the decision's pacing; False when the stream was cut midway."""
        response = web.StreamResponse(status=200, headers=headers)
        response.content_type = content_type
        await response.prepare(request)
        try:
            if decision is OK:
                await response.write(b"".join(chunks))
                await response.write_eof()
                return response, True
            for index, chunk in enumerate(chunks):
                if decision.cut_after is not None and index >= decision.cut_after:
                    if request.transport is not None:
                        request.transport.abort()
                    return response, False
                pause = decision.first_token_delay if index == 0 else decision.chunk_delay
                if index == decision.stall_after:
                    pause += decision.stall_for
                if pause:
                    await asyncio.sleep(pause)
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:  # the client went away
            return response, False
        return response, True

    # -- admin -----------------------------------------------------------------------------

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.snapshot())

    async def _put_faults(self, request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.read() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            self.faults.load(data)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.snapshot())

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.snapshot())

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.faults.snapshot())

    def reset(self) -> None:
        """No fault rules, counters at zero, the random source re-seeded."""
        self.faults.reset()
        self.stats.clear()
        self.captured.clear()
        self.connections = 0


def retry_headers(status: int, retry_after: float | None) -> dict[str, str]:
    if status == 429 and retry_after is not None:
        return {"Retry-After": f"{retry_after:g}", "retry-after-ms": str(round(retry_after * 1000))}
    return {}


_FAULT_MESSAGES = {
    400: "The request is invalid (injected by the emulator).",
    401: "Access denied due to invalid credentials (injected by the emulator).",
    403: "The caller is not allowed to use this model (injected by the emulator).",
    404: "The model or deployment does not exist (injected by the emulator).",
    429: "Too many requests; retry later (injected by the emulator).",
    500: "The server had an error while processing the request (injected by the emulator).",
    503: "The service is temporarily unavailable (injected by the emulator).",
}
