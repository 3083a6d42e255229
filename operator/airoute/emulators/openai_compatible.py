"""An OpenAI-compatible model server (vLLM, KServe, Ollama, and vendor APIs such as OpenAI, xAI,
Mistral): ``POST {prefix}/chat/completions``, ``POST {prefix}/embeddings``, ``GET {prefix}/models``.

This is the upstream of the benchmarks, so a request does little work: answers are computed once
per distinct request body and kept as ready bytes; without fault rules the fault gate is one
attribute check, and a stream is written in one piece.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from airoute.emulators import openai_format as fmt
from airoute.emulators.embeddings import EmbeddingsError, openai_embeddings
from airoute.emulators.replies import make_reply
from airoute.emulators.server import EmulatorServer, retry_headers
from airoute.emulators.stats import RequestRecord

API = "chat"
CACHE_SIZE = 4096
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
          404: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error",
          503: "service_unavailable"}
_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


@dataclass(frozen=True)
class _Prepared:
    model: str
    streamed: bool
    payload: bytes | list[bytes]
    ok: RequestRecord


class OpenAICompatibleEmulator(EmulatorServer):
    """``api_key``: the bearer token required (``None``: no auth). ``models``: the served model
    names (``None``: any). ``path_prefix``: where the API lives (``/v1``)."""

    provider: ClassVar[str] = "openai"

    def __init__(self, *, api_key: str | None = None, models: Sequence[str] | None = None,
                 path_prefix: str = "/v1", provider_name: str = "openai",
                 seed: int | None = 0, model_version: str = "v1") -> None:
        self.api_key = api_key
        self._auth = f"Bearer {api_key}" if api_key is not None else None
        self.models = tuple(models) if models is not None else None
        self.path_prefix = path_prefix.rstrip("/")
        self.provider_name = provider_name
        self._cache: dict[bytes, _Prepared] = {}
        super().__init__(seed=seed, model_version=model_version)
        self.faults.subscribe(self._cache.clear)

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post(f"{self.path_prefix}/chat/completions", self._chat),
            web.post(f"{self.path_prefix}/embeddings", self._embeddings),
            web.get(f"{self.path_prefix}/models", self._models),
        ]

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       param: str | None = None) -> web.Response:
        body = {"error": {"message": message, "type": _TYPES.get(status, "server_error"),
                          "param": param, "code": _CODES.get(status)}}
        return web.json_response(body, status=status, headers=retry_headers(status, retry_after))

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if self._auth is not None and request.headers.get("Authorization") != self._auth:
            self.record(request, "models", "", False, "unauthorized", 401)
            return self.error_response(401, "Incorrect API key provided.")
        gate = await self.gate(request, "models", "", False)
        if gate.response is not None:
            return gate.response
        self.record(request, "models", "", False, "ok", 200)
        names = self.models if self.models is not None else ("emulated-model",)
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": fmt.CREATED, "owned_by": "emulator"}
            for name in names
        ]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        prepared = self._cache.get(raw)
        if prepared is None:
            try:
                prepared = self._prepare(raw, request.path)
            except fmt.InvalidRequest as exc:
                self.record(request, API, "", False, "bad_request", 400)
                return self.error_response(400, str(exc), param=exc.param)
        if self._auth is not None and request.headers.get("Authorization") != self._auth:
            self.record(request, API, prepared.model, prepared.streamed, "unauthorized", 401)
            return self.error_response(401, "Incorrect API key provided.")
        if self.models is not None and prepared.model not in self.models:
            self.record(request, API, prepared.model, prepared.streamed, "bad_request", 404)
            return self.error_response(
                404, f"The model `{prepared.model}` does not exist.", param="model")
        gate = await self.gate(request, API, prepared.model, prepared.streamed)
        if gate.response is not None:
            return gate.response
        if isinstance(prepared.payload, bytes):
            self.stats.counter[prepared.ok] += 1
            return web.Response(body=prepared.payload, content_type="application/json")
        chunks, decision = prepared.payload, gate.decision
        if decision.stream_error_after is not None:
            chunks = [*chunks[:decision.stream_error_after], _error_event(decision.error_status), b"data: [DONE]\n\n"]
        response, complete = await self.stream(request, chunks, decision, "text/event-stream")
        if complete and decision.stream_error_after is not None:
            self.record(request, API, prepared.model, True, "stream_error", 200)
        elif complete:
            self.stats.counter[prepared.ok] += 1
        else:
            self.record(request, API, prepared.model, True, "cut", 200)
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
            model = body.get("model") if isinstance(body, dict) else None
        except (ValueError, RecursionError):
            body = model = None
        if not isinstance(model, str) or not model:
            self.record(request, "embeddings", "", False, "bad_request", 400)
            return self.error_response(400, "'model' is required.", param="model")
        if self._auth is not None and request.headers.get("Authorization") != self._auth:
            self.record(request, "embeddings", model, False, "unauthorized", 401)
            return self.error_response(401, "Incorrect API key provided.")
        if self.models is not None and model not in self.models:
            self.record(request, "embeddings", model, False, "bad_request", 404)
            return self.error_response(404, f"The model `{model}` does not exist.", param="model")
        try:
            answer = openai_embeddings(body, model)
        except EmbeddingsError as exc:
            self.record(request, "embeddings", model, False, "bad_request", 400)
            return self.error_response(400, str(exc), param=exc.param)
        gate = await self.gate(request, "embeddings", model, False)
        if gate.response is not None:
            return gate.response
        self.record(request, "embeddings", model, False, "ok", 200)
        return web.json_response(answer)

    def _prepare(self, raw: bytes, path: str) -> _Prepared:
        try:
            body: Any = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # what OpenAI answers too: 400, never a 500
            raise fmt.InvalidRequest(f"The body is not valid JSON: {exc}") from exc
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model, str) or not model:
            raise fmt.InvalidRequest("'model' is required.", "model")
        try:
            reply = make_reply(self.provider_name, fmt.parse_turn(body, model))
        except (TypeError, KeyError, AttributeError) as exc:
            raise fmt.InvalidRequest(f"The request is malformed: {exc}") from exc
        fingerprint = f"fp_{self.faults.model_version}"
        streamed = body.get("stream") is True
        payload: bytes | list[bytes]
        if streamed:
            include_usage = fmt.include_usage(body)
            payload = fmt.sse_chunks(fmt.chunk_dicts(reply, model, fingerprint, include_usage))
        else:
            n = body.get("n") if isinstance(body.get("n"), int) else 1
            payload = json.dumps(fmt.completion(reply, model, fingerprint, n)).encode()
        ok = RequestRecord(API, path, model, self.faults.model_version, streamed, "ok", 200)
        prepared = _Prepared(model, streamed, payload, ok)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[raw] = prepared
        return prepared


def _error_event(status: int) -> bytes:
    """An error reported inside a stream, as vLLM writes it."""
    error = {"object": "error", "message": "the engine failed while generating", "type": "InternalServerError",
             "param": None, "code": status}
    return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
