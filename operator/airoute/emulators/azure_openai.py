"""Azure OpenAI data plane: the generally available v1 API, ``POST /openai/v1/chat/completions``
(``model`` = the deployment, no ``api-version``), and a deployment's own path,
``POST /openai/deployments/{deployment}/chat/completions?api-version=…``; and the same two paths
for ``/embeddings``.

As Azure does: answers carry content-filter annotations (``prompt_filter_results``, every choice's
``content_filter_results``; a stream starts with an annotation-only chunk); a prompt with
:data:`~airoute.emulators.replies.BLOCK_PROMPT` gets the content-filter 400
(``code: content_filter``, ``innererror.code: ResponsibleAIPolicyViolation``), one with
:data:`~airoute.emulators.replies.BLOCK_ANSWER` an answer cut with ``finish_reason:
content_filter``, one with :data:`~airoute.emulators.replies.TOO_LONG` the 400
``context_length_exceeded``; a 429 carries ``retry-after`` and ``retry-after-ms``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from aiohttp import web

from airoute.emulators import openai_format as fmt
from airoute.emulators.embeddings import openai_embeddings
from airoute.emulators.replies import BLOCK_ANSWER, BLOCK_PROMPT, TOO_LONG, make_reply
from airoute.emulators.server import EmulatorServer, retry_headers

API = "chat"
_API_VERSION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$")
_V1_VERSIONS = ("", "v1", "latest", "preview")
_AUTH_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)
_CODES = {400: "BadRequest", 401: "401", 403: "403", 404: "404", 408: "408", 429: "429",
          500: "InternalServerError", 503: "ServiceUnavailable"}
_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
FILTER_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry. To learn more about our content filtering policies please "
    "read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


def filter_results(flagged: str | None = None) -> dict[str, Any]:
    """Content-filter results, all safe except ``flagged`` (filtered at high severity)."""
    out: dict[str, Any] = {c: {"filtered": c == flagged, "severity": "high" if c == flagged else "safe"}
                           for c in _CATEGORIES}
    return out | {"jailbreak": {"filtered": False, "detected": False}}


def prompt_filter_results() -> list[dict[str, Any]]:
    return [{"prompt_index": 0, "content_filter_results": filter_results()}]


class AzureOpenAIEmulator(EmulatorServer):
    """Accepts ``api-key`` or ``Authorization: Bearer``; with ``api_key`` set, only that key (and
    with ``entra_token`` set, that bearer token too).

    ``deployments`` maps deployment names to the model they serve; ``None`` serves any name.
    """

    provider: ClassVar[str] = "azure"

    def __init__(self, *, api_key: str | None = None, deployments: Mapping[str, str] | None = None,
                 entra_token: str | None = None, seed: int | None = 0, model_version: str = "v1") -> None:
        self.api_key = api_key
        self.entra_token = entra_token
        self.deployments = dict(deployments) if deployments is not None else None
        super().__init__(seed=seed, model_version=model_version)

    def routes(self) -> Iterable[web.RouteDef]:
        return [web.post("/openai/deployments/{deployment}/chat/completions", self._deployment_chat),
                web.post("/openai/v1/chat/completions", self._v1_chat),
                web.post("/openai/deployments/{deployment}/embeddings", self._deployment_embeddings),
                web.post("/openai/v1/embeddings", self._v1_embeddings)]

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       ) -> web.Response:
        body = {"error": {"code": _CODES.get(status, str(status)), "message": message}}
        return web.json_response(body, status=status, headers=retry_headers(status, retry_after))

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("api-key")
        bearer = request.headers.get("Authorization", "")
        token = bearer[7:] if bearer.startswith("Bearer ") else None
        if self.api_key is None and self.entra_token is None:
            return bool(key or token)
        return (self.api_key is not None and key == self.api_key) or (
            token is not None and token in (self.api_key, self.entra_token))

    async def _deployment_chat(self, request: web.Request) -> web.StreamResponse:
        deployment = request.match_info["deployment"]
        if not _API_VERSION.match(request.query.get("api-version", "")):
            self.record(request, API, deployment, False, "bad_request", 404)
            return self.error_response(404, "Resource not found")
        raw = await request.read()
        return await self._chat(request, raw, deployment)

    async def _v1_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._v1(request, API, self._chat)

    async def _v1(self, request: web.Request, api: str,
                  then: Callable[[web.Request, bytes, str], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """The v1 API: no api-version (or v1/latest/preview), the deployment in the body's ``model``."""
        if request.query.get("api-version", "") not in _V1_VERSIONS:
            self.record(request, api, "", False, "bad_request", 400)
            return self.error_response(400, "API version not supported")
        raw = await request.read()
        try:
            model = json.loads(raw).get("model")
        except (ValueError, AttributeError):
            model = None
        if not isinstance(model, str) or not model:
            self.record(request, api, "", False, "bad_request", 400)
            return web.json_response({"error": {"code": "BadRequest", "param": "model", "type": "invalid_request_error",
                                                "message": "model is required: the name of a deployment"}}, status=400)
        return await then(request, raw, model)

    async def _chat(self, request: web.Request, raw: bytes, deployment: str) -> web.StreamResponse:
        self.capture(request, raw)
        if not self._authorized(request):
            self.record(request, API, deployment, False, "unauthorized", 401)
            return self.error_response(401, _AUTH_MESSAGE)
        if self.deployments is not None and deployment not in self.deployments:
            self.record(request, API, deployment, False, "bad_request", 404)
            return web.json_response({"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist.")}}, status=404)
        try:
            body = json.loads(raw)
            turn = fmt.parse_turn(body, deployment)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.record(request, API, deployment, False, "bad_request", 400)
            return self.error_response(400, str(exc))
        streamed = body.get("stream") is True
        refused = self._refusal(turn.last_user)
        if refused is not None:
            self.record(request, API, deployment, streamed, "bad_request", 400)
            return refused
        gate = await self.gate(request, API, deployment, streamed)
        if gate.response is not None:
            return gate.response
        model = (self.deployments or {}).get(deployment, deployment)
        reply = make_reply(self.provider, turn)
        flagged = BLOCK_ANSWER in turn.last_user
        if flagged:
            reply = replace(reply, text=" ".join((reply.text or "").split(" ")[:3]), finish="content_filter")
        fingerprint = f"fp_{self.faults.model_version}"
        headers = {"x-emulator-model-version": self.faults.model_version}
        if not streamed:
            self.record(request, API, deployment, False, "ok", 200)
            return web.json_response(_annotated(fmt.completion(reply, model, fingerprint, _n(body)), flagged),
                                     headers=headers)
        include_usage = fmt.include_usage(body)
        dicts = [_annotated(c, flagged) for c in fmt.chunk_dicts(reply, model, fingerprint, include_usage)]
        annotations = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                       "prompt_filter_results": prompt_filter_results()}
        chunks = fmt.sse_chunks([annotations, *dicts])
        response, complete = await self.stream(request, chunks, gate.decision, "text/event-stream", headers)
        self.record(request, API, deployment, True, "ok" if complete else "cut", 200)
        return response

    async def _deployment_embeddings(self, request: web.Request) -> web.StreamResponse:
        deployment = request.match_info["deployment"]
        if not _API_VERSION.match(request.query.get("api-version", "")):
            self.record(request, "embeddings", deployment, False, "bad_request", 404)
            return self.error_response(404, "Resource not found")
        return await self._embeddings(request, await request.read(), deployment)

    async def _v1_embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._v1(request, "embeddings", self._embeddings)

    async def _embeddings(self, request: web.Request, raw: bytes, deployment: str) -> web.StreamResponse:
        self.capture(request, raw)
        if not self._authorized(request):
            self.record(request, "embeddings", deployment, False, "unauthorized", 401)
            return self.error_response(401, _AUTH_MESSAGE)
        if self.deployments is not None and deployment not in self.deployments:
            self.record(request, "embeddings", deployment, False, "bad_request", 404)
            return web.json_response({"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist.")}}, status=404)
        model = (self.deployments or {}).get(deployment, deployment)
        try:
            answer = openai_embeddings(json.loads(raw), model)
        except (ValueError, RecursionError) as exc:
            self.record(request, "embeddings", deployment, False, "bad_request", 400)
            return self.error_response(400, str(exc))
        gate = await self.gate(request, "embeddings", deployment, False)
        if gate.response is not None:
            return gate.response
        self.record(request, "embeddings", deployment, False, "ok", 200)
        return web.json_response(answer)

    def _refusal(self, prompt: str) -> web.Response | None:
        if BLOCK_PROMPT in prompt:
            inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": filter_results("violence")}
            return web.json_response({"error": {
                "message": FILTER_MESSAGE, "type": None, "param": "prompt", "code": "content_filter",
                "status": 400, "innererror": inner}}, status=400)
        if TOO_LONG in prompt:
            return web.json_response({"error": {
                "message": "This model's maximum context length is 128000 tokens. However, your messages "
                           "resulted in 131072 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}},
                status=400)
        return None


def _annotated(obj: dict[str, Any], flagged: bool) -> dict[str, Any]:
    """``obj`` with Azure's annotations: the prompt's, and every choice's."""
    results = filter_results("violence" if flagged else None)
    choices = [c | {"content_filter_results": results} for c in obj.get("choices", [])]
    out = obj | {"choices": choices}
    if obj.get("object") == "chat.completion":
        out["prompt_filter_results"] = prompt_filter_results()
    return out


def _n(body: Mapping[str, object]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and 1 <= n <= 128 else 1
