"""Azure OpenAI data plane: ``POST /openai/deployments/{deployment}/chat/completions``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import ClassVar

from aiohttp import web

from airoute.emulators import openai_format as fmt
from airoute.emulators.replies import make_reply
from airoute.emulators.server import EmulatorServer, retry_headers

API = "chat"
_API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
_AUTH_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)
_CODES = {400: "BadRequest", 401: "401", 403: "403", 404: "404", 408: "408", 429: "429",
          500: "InternalServerError", 503: "ServiceUnavailable"}


class AzureOpenAIEmulator(EmulatorServer):
    """Accepts ``api-key`` or ``Authorization: Bearer``; with ``api_key`` set, only that key.

    ``deployments`` maps deployment names to the model they serve; ``None`` serves any name.
    """

    provider: ClassVar[str] = "azure"

    def __init__(self, *, api_key: str | None = None, deployments: Mapping[str, str] | None = None,
                 seed: int | None = 0, model_version: str = "v1") -> None:
        self.api_key = api_key
        self.deployments = dict(deployments) if deployments is not None else None
        super().__init__(seed=seed, model_version=model_version)

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/openai/deployments/{deployment}/chat/completions", self._chat)]

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       ) -> web.Response:
        body = {"error": {"code": _CODES.get(status, str(status)), "message": message}}
        return web.json_response(body, status=status, headers=retry_headers(status, retry_after))

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("api-key")
        bearer = request.headers.get("Authorization", "")
        token = bearer[7:] if bearer.startswith("Bearer ") else None
        if self.api_key is None:
            return bool(key or token)
        return self.api_key in (key, token)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        deployment = request.match_info["deployment"]
        if not _API_VERSION.match(request.query.get("api-version", "")):
            self.record(request, API, deployment, False, "bad_request", 404)
            return self.error_response(404, "Resource not found")
        if not self._authorized(request):
            self.record(request, API, deployment, False, "unauthorized", 401)
            return self.error_response(401, _AUTH_MESSAGE)
        if self.deployments is not None and deployment not in self.deployments:
            self.record(request, API, deployment, False, "bad_request", 404)
            return web.json_response({"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist.")}}, status=404)
        try:
            body = json.loads(await request.read())
            turn = fmt.parse_turn(body, deployment)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.record(request, API, deployment, False, "bad_request", 400)
            return self.error_response(400, str(exc))
        streamed = body.get("stream") is True
        gate = await self.gate(request, API, deployment, streamed)
        if gate.response is not None:
            return gate.response
        model = (self.deployments or {}).get(deployment, deployment)
        reply = make_reply(self.provider, turn)
        fingerprint = f"fp_{self.faults.model_version}"
        headers = {"x-emulator-model-version": self.faults.model_version}
        if not streamed:
            self.record(request, API, deployment, False, "ok", 200)
            return web.json_response(fmt.completion(reply, model, fingerprint, _n(body)),
                                     headers=headers)
        include_usage = fmt.include_usage(body)
        chunks = fmt.sse_chunks(fmt.chunk_dicts(reply, model, fingerprint, include_usage))
        response, complete = await self.stream(
            request, chunks, gate.decision, "text/event-stream", headers)
        self.record(request, API, deployment, True, "ok" if complete else "cut", 200)
        return response


def _n(body: Mapping[str, object]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and 1 <= n <= 128 else 1
