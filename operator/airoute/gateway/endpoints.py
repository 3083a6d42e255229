"""The gateway's HTTP endpoints: ``/v1/chat/completions``, ``/v1/models``, ``/healthz``,
``/readyz`` and ``/metrics``. Handlers are thin: authenticate, sniff, look up the route, admit,
then hand the request to the :class:`~airoute.gateway.failover.policy.Failover` policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from airoute.api.metrics import Outcome
from airoute.core.routeentry import RouteEntry
from airoute.gateway import errors
from airoute.gateway.admission import Admission
from airoute.gateway.client_keys import Keyring, presented_key
from airoute.gateway.failover.policy import Failover
from airoute.gateway.failover.route import LiveRoute
from airoute.gateway.http_messages import Refusal, Reply, Request
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.promtext import CONTENT_TYPE
from airoute.gateway.routetable.build import TableBuilder
from airoute.gateway.token_limits import TokenLimiter
from airoute.providers.sniff import SniffError, sniff

log = logging.getLogger(__name__)

_NO_ROUTE = ("", "", "", "", "")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""The only paths served without a client key (probes and scrapes); every other one, known or
not, is refused from its head when the key is missing or wrong. ``/metrics`` only while it is
served on the API port (no ``--metrics-port``)."""


def _no_route(outcome: Outcome) -> tuple[str, ...]:
    """Labels of an outcome decided before any route was found."""
    return (*_NO_ROUTE, outcome)

def _unknown_model(model: str) -> errors.ClientError:
    return errors.not_found(
        f"the model {model!r} does not exist: no AIRoute served here has spec.model {model!r}; "
        "GET /v1/models lists the models you may use"
    )


MetricsText = Callable[[], Awaitable[bytes]]
MODELS_CACHED = 16
"""Clients whose ``/v1/models`` answer is kept (per table version)."""


class Endpoints:
    """Routes requests to handlers (:meth:`handle` is the HTTP server's handler).

    ``metrics_text`` renders ``/metrics`` when it is not just this process's metrics (several
    workers); ``metrics_here`` is False when ``/metrics`` has a port of its own
    (:meth:`handle_metrics_port`); ``draining`` turns ``/readyz`` to 503 during shutdown."""

    def __init__(
        self,
        table: TableBuilder,
        failover: Failover,
        admission: Admission,
        metrics: GatewayMetrics,
        keyring: Keyring,
        request_timeout: float = 120.0,
        metrics_text: MetricsText | None = None,
        metrics_here: bool = True,
    ) -> None:
        self.table = table
        self.failover = failover
        self.admission = admission
        self.metrics = metrics
        self.keyring = keyring
        self.request_timeout = request_timeout
        self.metrics_text = metrics_text
        self.metrics_here = metrics_here
        self.public = PUBLIC_PATHS if metrics_here else PUBLIC_PATHS - {"/metrics"}
        self.token_limits = TokenLimiter(metrics)
        self.draining = False
        self._models: dict[str | None, bytes] = {}
        """``/v1/models`` answers by client, for table version ``_models_version``."""
        self._models_version = -1

    async def handle(self, request: Request, reply: Reply) -> None:
        path, method = request.path, request.method
        try:
            if path in ("/v1/chat/completions", "/chat/completions"):
                if method != "POST":
                    raise errors.ClientError(405, "use POST for chat completions", code="method_not_allowed")
                await self.chat(request, reply)
            elif path in ("/v1/embeddings", "/embeddings"):
                if method != "POST":
                    raise errors.ClientError(405, "use POST for embeddings", code="method_not_allowed")
                await self.chat(request, reply, embeddings=True)
            elif path in ("/v1/models", "/models") and method == "GET":
                self.models(request, reply)
            elif path == "/healthz":
                reply.send(200, b'{"status":"ok"}')
            elif path == "/readyz":
                self.readyz(reply)
            elif path == "/metrics" and self.metrics_here:
                await self._metrics(reply)
            else:
                raise errors.not_found(f"no such endpoint: {method} {path}", "unknown_url", None)
        except errors.ClientError as exc:
            if reply.started:
                reply.abort()
            else:
                reply.send(exc.status, exc.body(), headers=exc.headers)

    async def _metrics(self, reply: Reply) -> None:
        text = await self.metrics_text() if self.metrics_text is not None else self.metrics.render()
        reply.send(200, text, CONTENT_TYPE)

    async def handle_metrics_port(self, request: Request, reply: Reply) -> None:
        """The handler of ``--metrics-port``: ``GET /metrics`` and nothing else."""
        if request.path == "/metrics" and request.method == "GET":
            await self._metrics(reply)
        else:
            reply.send(404, errors.not_found("this port serves GET /metrics only", "unknown_url", None).body())

    def admit(self, method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
        """The HTTP server's check of a request head: the client key, before the body is read."""
        if path in self.public:
            return None
        try:
            self._client(headers)
        except errors.ClientError as exc:
            return Refusal(exc.status, exc.body(), exc.headers)
        return None

    def readyz(self, reply: Reply) -> None:
        if self.draining:
            reply.send(503, b'{"status":"shutting down"}')
        elif not self.table.loaded.is_set():
            reply.send(503, b'{"status":"no route table loaded yet"}')
        else:
            reply.send(200, json.dumps({"status": "ready", "routeTableVersion": self.table.live.version}).encode())

    def _client(self, headers: Mapping[str, str]) -> str | None:
        """The client's name; raises 401. None when auth is disabled."""
        keys = self.keyring.keys
        if keys is None:
            if self.keyring.required:
                self.metrics.requests.inc(_no_route("auth_failed"))
                raise errors.unauthorized("client keys are not loaded yet; try again shortly")
            return None
        key = presented_key(headers)
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
        if route is not None and not self._allowed(route.entry, client):
            # The same answer as for a model that does not exist: a key learns nothing of the
            # routes it may not use (operators see it as auth_failed on the route).
            self.metrics.requests.inc(route.outcome("auth_failed"))
            raise _unknown_model(model)
        if route is None:
            left_out = self.table.live.unavailable.get(model)
            if left_out is not None and self._allowed(left_out, client):
                self.metrics.requests.inc((left_out.namespace, left_out.name, "", "", "", "error"))
                raise errors.route_unavailable(model, left_out.key)
            self.metrics.requests.inc(_no_route("bad_request"))
            raise _unknown_model(model)
        return route

    @staticmethod
    def _allowed(entry: RouteEntry, client: str | None) -> bool:
        allowed = entry.allowed_clients
        return client is None or not allowed or client in allowed

    async def chat(self, request: Request, reply: Reply, embeddings: bool = False) -> None:
        """A chat-completions request, or (``embeddings``) an embeddings request: the same way
        through the route's backends, on a route that serves that API."""
        client = self._client(request.headers)
        try:
            sniffed = sniff(request.body)
        except SniffError as exc:
            self.metrics.requests.inc(_no_route("bad_request"))
            raise errors.bad_request(str(exc), exc.param) from None
        route = self._route(request, client, sniffed.model)
        if (route.entry.embeddings is not None) != embeddings:
            self.metrics.requests.inc(route.outcome("bad_request"))
            raise errors.wrong_api(sniffed.model, serves_embeddings=not embeddings)
        if embeddings and sniffed.stream:
            self.metrics.requests.inc(route.outcome("bad_request"))
            raise errors.bad_request("embeddings are not streamed: leave stream out", "stream")
        reservation = self.token_limits.reserve(route, client, request.body)
        tier = route.entry.tier
        refused = self.admission.admit(tier)
        if refused is not None:
            self.metrics.requests.inc(route.outcome("shed"))
            raise errors.shed(tier, 1, refused)
        try:
            used = await self.failover.run(route, request.body, sniffed, reply, self._deadline(request),
                                           request.headers)
        finally:
            self.admission.release(tier)
        if reservation is not None:
            self.token_limits.settle(reservation, used)

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
        """The models this client may use. The list is O(routes) to build (10,000 routes: ~10 ms on
        the event loop), so it is built once per table version and client, and kept for a few clients."""
        client = self._client(request.headers)
        live = self.table.live
        if self._models_version != live.version:
            self._models.clear()
            self._models_version = live.version
        body = self._models.get(client)
        if body is None:
            data = [
                {"id": model, "object": "model", "created": 0, "owned_by": f"airoute:{route.key}",
                 "tier": route.entry.tier}
                for model, route in sorted(live.routes.items())
                if self._allowed(route.entry, client)
            ]
            body = json.dumps({"object": "list", "data": data}).encode()
            if len(self._models) >= MODELS_CACHED:
                del self._models[next(iter(self._models))]
            self._models[client] = body
        reply.send(200, body)
