"""The gateway's HTTP endpoints: ``/v1/chat/completions``, ``/v1/models``, ``/healthz``,
``/readyz`` and ``/metrics``. Handlers are thin: authenticate, sniff, look up the route, admit,
then hand the request to the :class:`~airoute.gateway.failover.policy.Failover` policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from airoute.api.metrics import Outcome
from airoute.gateway import errors
from airoute.gateway.admission import Admission
from airoute.gateway.client_keys import Keyring, presented_key
from airoute.gateway.failover.policy import Failover
from airoute.gateway.failover.route import LiveRoute
from airoute.gateway.http_server import Reply, Request
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.promtext import CONTENT_TYPE
from airoute.gateway.routetable.build import TableBuilder
from airoute.providers.sniff import SniffError, sniff

log = logging.getLogger(__name__)

_NO_ROUTE = ("", "", "", "", "")


def _no_route(outcome: Outcome) -> tuple[str, ...]:
    """Labels of an outcome decided before any route was found."""
    return (*_NO_ROUTE, outcome)

MetricsText = Callable[[], Awaitable[bytes]]


class Endpoints:
    """Routes requests to handlers (:meth:`handle` is the HTTP server's handler).

    ``metrics_text`` renders ``/metrics`` when it is not just this process's metrics (several
    workers); ``draining`` turns ``/readyz`` to 503 during shutdown."""

    def __init__(
        self,
        table: TableBuilder,
        failover: Failover,
        admission: Admission,
        metrics: GatewayMetrics,
        keyring: Keyring,
        request_timeout: float = 120.0,
        metrics_text: MetricsText | None = None,
    ) -> None:
        self.table = table
        self.failover = failover
        self.admission = admission
        self.metrics = metrics
        self.keyring = keyring
        self.request_timeout = request_timeout
        self.metrics_text = metrics_text
        self.draining = False

    async def handle(self, request: Request, reply: Reply) -> None:
        path, method = request.path, request.method
        try:
            if path in ("/v1/chat/completions", "/chat/completions"):
                if method != "POST":
                    raise errors.ClientError(405, "use POST for chat completions", code="method_not_allowed")
                await self.chat(request, reply)
            elif path in ("/v1/models", "/models") and method == "GET":
                self.models(request, reply)
            elif path == "/healthz":
                reply.send(200, b'{"status":"ok"}')
            elif path == "/readyz":
                self.readyz(reply)
            elif path == "/metrics":
                text = await self.metrics_text() if self.metrics_text is not None else self.metrics.render()
                reply.send(200, text, CONTENT_TYPE)
            else:
                raise errors.not_found(f"no such endpoint: {method} {path}", "unknown_url", None)
        except errors.ClientError as exc:
            if reply.started:
                reply.abort()
            else:
                reply.send(exc.status, exc.body(), headers=exc.headers)

    def readyz(self, reply: Reply) -> None:
        if self.draining:
            reply.send(503, b'{"status":"shutting down"}')
        elif not self.table.loaded.is_set():
            reply.send(503, b'{"status":"no route table loaded yet"}')
        else:
            reply.send(200, json.dumps({"status": "ready", "routeTableVersion": self.table.live.version}).encode())

    def _client(self, request: Request) -> str | None:
        """The client's name; raises 401. None when auth is disabled."""
        keys = self.keyring.keys
        if keys is None:
            if self.keyring.required:
                self.metrics.requests.inc(_no_route("auth_failed"))
                raise errors.unauthorized("client keys are not loaded yet; try again shortly")
            return None
        key = presented_key(request.headers)
        name = keys.identify(key) if key else None
        if name is None:
            self.metrics.requests.inc(_no_route("auth_failed"))
            raise errors.unauthorized(
                "missing API key: send Authorization: Bearer <key>" if key is None else "invalid API key"
            )
        return name

    def _route(self, request: Request, client: str | None, model: str) -> LiveRoute:
        route = self.table.live.routes.get(model)
        if route is None and not self.table.loaded.is_set():
            # Not "no such model": this gateway has not read its routes yet. Retryable.
            self.metrics.requests.inc(_no_route("shed"))
            raise errors.not_ready("the gateway has not loaded its route table yet; retry in 1s")
        if route is None:
            self.metrics.requests.inc(_no_route("bad_request"))
            raise errors.not_found(
                f"the model {model!r} does not exist: no AIRoute served here has spec.model {model!r}; "
                "GET /v1/models lists the models you may use"
            )
        if not self._allowed(route, client):
            self.metrics.requests.inc(route.outcome("auth_failed"))
            raise errors.forbidden(f"client {client!r} may not use model {model!r} (not in spec.allowedClients)")
        return route

    @staticmethod
    def _allowed(route: LiveRoute, client: str | None) -> bool:
        allowed = route.entry.allowed_clients
        return client is None or not allowed or client in allowed

    async def chat(self, request: Request, reply: Reply) -> None:
        client = self._client(request)
        try:
            sniffed = sniff(request.body)
        except SniffError as exc:
            self.metrics.requests.inc(_no_route("bad_request"))
            raise errors.bad_request(str(exc), exc.param) from None
        route = self._route(request, client, sniffed.model)
        tier = route.entry.tier
        if not self.admission.admit(tier):
            self.metrics.requests.inc(route.outcome("shed"))
            raise errors.shed(tier, 1)
        try:
            await self.failover.run(route, request.body, sniffed, reply, self._deadline(request))
        finally:
            self.admission.release(tier)

    def _deadline(self, request: Request) -> float:
        seconds = self.request_timeout
        asked = request.headers.get("x-airoute-timeout")
        if asked:
            try:
                seconds = min(seconds, max(float(asked), 0.001))
            except ValueError:
                raise errors.bad_request("x-airoute-timeout must be a number of seconds") from None
        return self.failover.clock() + seconds

    def models(self, request: Request, reply: Reply) -> None:
        client = self._client(request)
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": f"airoute:{route.key}",
             "tier": route.entry.tier}
            for model, route in sorted(self.table.live.routes.items())
            if self._allowed(route, client)
        ]
        reply.send(200, json.dumps({"object": "list", "data": data}).encode())
