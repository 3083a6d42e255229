"""Vertex AI: ``POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent``
and ``:streamGenerateContent`` (SSE with ``alt=sse``, else one JSON array), the embedding actions
(``:predict``, ``:embedContent``, ``:batchEmbedContents``), Google-shaped errors, bearer auth, and an
OAuth token endpoint (``POST /token``) for service-account credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from aiohttp import web

from airoute.emulators.embeddings import vertex_batch_embed_contents, vertex_embed_content, vertex_predict
from airoute.emulators.replies import (
    BLOCK_ANSWER,
    BLOCK_PROMPT,
    THINK,
    TOO_LONG,
    Reply,
    ToolSpec,
    Turn,
    make_reply,
    word_count,
)
from airoute.emulators.server import EmulatorServer

STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
_CREATE_TIME = "2023-11-14T22:13:20.000000Z"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
THINKING_MODELS = ("gemini-2.5", "gemini-3")
"""Models that think: their answers count ``thoughtsTokenCount`` and sign their function calls."""
SIGNED_MODELS = ("gemini-3",)
"""Models that refuse a function call of the current turn sent back without its thoughtSignature."""
SKIP_SIGNATURE = "skip_thought_signature_validator"
THOUGHT_TOKENS = 7
EMBED = {"predict": vertex_predict, "embedContent": vertex_embed_content,
         "batchEmbedContents": vertex_batch_embed_contents}


class VertexAIEmulator(EmulatorServer):
    """``access_token``: the bearer token required (``None``: any); ``models``: served names."""

    provider: ClassVar[str] = "vertex"

    def __init__(self, *, access_token: str | None = None, models: Iterable[str] | None = None,
                 seed: int | None = 0, model_version: str = "v1") -> None:
        self.access_token = access_token
        self.models = frozenset(models) if models is not None else None
        super().__init__(seed=seed, model_version=model_version)

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/{version:v1|v1beta1}/projects/{project}/locations/{location}/publishers/"
                     "{publisher}/models/{model_action}", self._model_action),
            web.post("/token", self._token),
        ]

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       ) -> web.Response:
        body = {"error": {"code": status, "message": message,
                          "status": STATUSES.get(status, "UNKNOWN")}}
        return web.json_response(body, status=status)  # Vertex AI sends no Retry-After, on a 429 either

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assertion = str(form.get("assertion", ""))
        if form.get("grant_type") != JWT_BEARER or not _looks_like_jwt(assertion):
            self.record(request, "token", "", False, "unauthorized", 400)
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "Invalid JWT assertion."}, status=400)
        self.record(request, "token", "", False, "ok", 200)
        return web.json_response({"access_token": self.access_token or "emulated-access-token",
                                  "expires_in": 3600, "token_type": "Bearer"})

    def _unauthorized(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        token = bearer[7:] if bearer.startswith("Bearer ") else ""
        return not token or (self.access_token is not None and token != self.access_token)

    async def _embed(self, request: web.Request, model: str, action: str) -> web.StreamResponse:
        """``:predict`` (text-embedding models), ``:embedContent`` / ``:batchEmbedContents`` (Gemini)."""
        if self._unauthorized(request):
            self.record(request, action, model, False, "unauthorized", 401)
            return self.error_response(401, "Request had invalid authentication credentials. "
                                       "Expected OAuth 2 access token.")
        gemini = "gemini" in model
        if (self.models is not None and model not in self.models) or gemini != (action != "predict"):
            self.record(request, action, model, False, "bad_request", 404)
            return self.error_response(404, f"Publisher Model `{request.path.rsplit(':', 1)[0]}` "
                                       f"does not serve {action}.")
        raw = await request.read()
        self.capture(request, raw)
        try:
            body = json.loads(raw)
            answer = EMBED[action](model, body)
        except (ValueError, RecursionError) as exc:
            self.record(request, action, model, False, "bad_request", 400)
            return self.error_response(400, str(exc))
        gate = await self.gate(request, action, model, False)
        if gate.response is not None:
            return gate.response
        self.record(request, action, model, False, "ok", 200)
        return web.json_response(answer)

    async def _model_action(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["model_action"].partition(":")
        streamed = action == "streamGenerateContent"
        if action in EMBED:
            return await self._embed(request, model, action)
        if action not in ("generateContent", "streamGenerateContent"):
            return self.error_response(404, f"Method {action!r} is not found.")
        if self._unauthorized(request):
            self.record(request, action, model, streamed, "unauthorized", 401)
            return self.error_response(401, "Request had invalid authentication credentials. "
                                       "Expected OAuth 2 access token.")
        if self.models is not None and model not in self.models:
            self.record(request, action, model, streamed, "bad_request", 404)
            return self.error_response(404, f"Publisher Model `{request.path.rsplit(':', 1)[0]}` "
                                       "was not found or your project does not have access to it.")
        raw = await request.read()
        self.capture(request, raw)
        try:
            body = json.loads(raw)
            turn = parse_turn(body, model)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.record(request, action, model, streamed, "bad_request", 400)
            return self.error_response(400, str(exc))
        if TOO_LONG in turn.last_user:
            self.record(request, action, model, streamed, "bad_request", 400)
            return self.error_response(400, "The input token count (1048577) exceeds the maximum number of tokens "
                                            "allowed (1048576).")
        gate = await self.gate(request, action, model, streamed)
        if gate.response is not None:
            return gate.response
        reply = make_reply(self.provider, turn)
        version = f"{model}@{self.faults.model_version}"
        shape = Shape(blocked=BLOCK_PROMPT in turn.last_user, thoughts=turn.thoughts,
                      unsafe=BLOCK_ANSWER in turn.last_user, thinking=model.startswith(THINKING_MODELS), n=_n(body))
        if not streamed:
            self.record(request, action, model, False, "ok", 200)
            return web.json_response(generate_response(reply, version, shape))
        sse = request.query.get("alt") == "sse"
        chunks, decision = stream_chunks(reply, version, sse, shape), gate.decision
        failing = sse and decision.stream_error_after is not None
        if sse and decision.stream_error_after is not None:
            status = decision.error_status
            error = {"error": {"code": status, "message": _STREAM_ERRORS.get(status, "Internal error encountered."),
                               "status": STATUSES.get(status, "UNKNOWN")}}
            chunks = [*chunks[:decision.stream_error_after], b"data: " + json.dumps(error).encode() + b"\r\n\r\n"]
        content_type = "text/event-stream" if sse else "application/json"
        response, complete = await self.stream(request, chunks, decision, content_type)
        self.record(request, action, model, True, "cut" if not complete else "stream_error" if failing else "ok", 200)
        return response


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def pick(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a Google JSON object: proto JSON accepts lowerCamelCase and snake_case."""
    if not isinstance(obj, Mapping):
        return default
    if name in obj:
        return obj[name]
    return obj.get(_snake(name), default)


def _looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(claims, dict) and "iss" in claims


def _n(body: Mapping[str, Any]) -> int:
    n = pick(pick(body, "generationConfig"), "candidateCount")
    return n if isinstance(n, int) and 1 <= n <= 8 else 1


def _parts_text(parts: Iterable[Any]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p, Mapping) and isinstance(
        p.get("text"), str))


def _response_text(response: Any) -> str:
    if isinstance(response, Mapping) and len(response) == 1:
        (value,) = response.values()
        return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(response)


def parse_turn(body: Any, model: str) -> Turn:
    if not isinstance(body, Mapping):
        raise ValueError("Invalid JSON payload received.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise ValueError("* GenerateContentRequest.contents: contents is not specified")
    for index, content in enumerate(contents):
        if not isinstance(content, Mapping) or not content.get("parts"):
            raise ValueError(f"* GenerateContentRequest.contents[{index}].parts: contents.parts "
                             "must not be empty.")
        if content.get("role", "user") not in ("user", "model", "function"):
            raise ValueError(f"* GenerateContentRequest.contents[{index}].role: Please use a valid "
                             "role: user, model.")
    _check_inline_data(contents)
    if model.startswith(SIGNED_MODELS):
        _check_signatures(contents)
    config = pick(body, "generationConfig") or {}
    temperature = config.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise ValueError("Unable to submit request because it has a temperature value of "
                         f"{temperature} but the supported range is from 0 (inclusive) to 2.0.")
    users = [c for c in contents if c.get("role", "user") == "user" and _parts_text(c["parts"])]
    results = [pick(p, "functionResponse") for p in contents[-1]["parts"]
               if pick(p, "functionResponse") is not None]
    system = _parts_text((pick(body, "systemInstruction") or {}).get("parts") or [])
    mime = pick(config, "responseMimeType")
    return Turn(
        model=model,
        last_user=_parts_text(users[-1]["parts"]) if users else "",
        tool_result=_response_text(results[0].get("response")) if results else None,
        tools=_tools(body.get("tools")),
        tool_mode=_tool_mode(pick(body, "toolConfig")),
        prompt_words=word_count(system) + sum(word_count(_parts_text(c["parts"]))
                                              for c in contents),
        max_tokens=pick(config, "maxOutputTokens"),
        json_mode=mime == "application/json",
        json_schema=(pick(config, "responseJsonSchema") or pick(config, "responseSchema")
                     if mime == "application/json" else None),
        images=sum(1 for p in contents[-1]["parts"]
                   if str(pick(pick(p, "inlineData"), "mimeType", "")).startswith("image/")),
        thoughts=bool(pick(pick(config, "thinkingConfig"), "includeThoughts")) or THINK in (
            _parts_text(users[-1]["parts"]) if users else ""),
    )


def _check_inline_data(contents: list[Any]) -> None:
    for index, content in enumerate(contents):
        for position, part in enumerate(content["parts"]):
            blob = pick(part, "inlineData")
            if blob is None:
                continue
            where = f"* GenerateContentRequest.contents[{index}].parts[{position}].inline_data"
            if not isinstance(pick(blob, "mimeType"), str) or not isinstance(blob.get("data"), str):
                raise ValueError(f"{where}: mime_type and data are required.")
            try:
                base64.b64decode(blob["data"], validate=True)
            except (ValueError, binascii.Error):
                raise ValueError(f"{where}.data: Invalid value (bytes), Base64 decoding failed.") from None


def signature_of(call_id: str) -> str:
    """The thoughtSignature this emulator gives a function call (opaque base64, like Gemini's)."""
    return base64.b64encode(f"emulated-thought:{call_id}".encode()).decode()


def _check_signatures(contents: list[Any]) -> None:
    """Gemini 3: each model step of the current turn (since the last user text) must send back
    the thoughtSignature of its first function call — one Gemini gave, or the documented skip value."""
    users = [i for i, c in enumerate(contents) if c.get("role", "user") == "user" and _parts_text(c["parts"])]
    for index in range(users[-1] + 1 if users else 0, len(contents)):
        calls = [p for p in contents[index]["parts"] if pick(p, "functionCall") is not None]
        if contents[index].get("role") != "model" or not calls:
            continue
        signature = pick(calls[0], "thoughtSignature")
        valid = signature == SKIP_SIGNATURE or (isinstance(signature, str) and _issued(signature))
        if not valid:
            name = pick(pick(calls[0], "functionCall"), "name")
            raise ValueError(f"Function call `{name}` in the `{index + 1}.` content block is missing a "
                             "`thought_signature`.")


def _issued(signature: str) -> bool:
    try:
        return base64.b64decode(signature, validate=True).startswith(b"emulated-thought:")
    except (ValueError, binascii.Error):
        return False


def _tools(tools: Any) -> tuple[ToolSpec, ...]:
    specs = []
    for tool in tools if isinstance(tools, list) else []:
        for decl in pick(tool, "functionDeclarations") or []:
            if isinstance(decl, Mapping) and isinstance(decl.get("name"), str):
                schema = pick(decl, "parametersJsonSchema") or decl.get("parameters") or {}
                specs.append(ToolSpec(decl["name"], schema))
    return tuple(specs)


def _tool_mode(tool_config: Any) -> str:
    config = pick(tool_config, "functionCallingConfig")
    if not isinstance(config, Mapping):
        return "auto"
    mode = str(config.get("mode", "AUTO")).upper()
    allowed = pick(config, "allowedFunctionNames")
    if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
        return str(allowed[0])
    return {"ANY": "required", "NONE": "none"}.get(mode, "auto")


@dataclass(frozen=True)
class Shape:
    """How Gemini answers besides the reply itself: the prompt blocked (``promptFeedback``, no
    candidates), thought parts before the answer, the answer stopped for safety; a thinking model
    (its first function call of a turn carries a ``thoughtSignature``, thinking tokens are
    counted); ``n`` candidates."""

    blocked: bool = False
    thoughts: bool = False
    unsafe: bool = False
    thinking: bool = False
    n: int = 1


_SAFETY_RATINGS = [{"category": c, "probability": "NEGLIGIBLE"} for c in (
    "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT")]
_BLOCKED_RATINGS = [r | ({"probability": "HIGH", "blocked": True}
                         if r["category"] == "HARM_CATEGORY_DANGEROUS_CONTENT" else {}) for r in _SAFETY_RATINGS]
_STREAM_ERRORS = {429: "Resource exhausted. Please try again later.", 503: "The service is currently unavailable."}


def _parts(reply: Reply, shape: Shape = Shape()) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if shape.thoughts:
        parts.append({"text": "**Weighing the question** I should answer briefly.", "thought": True})
    if not reply.tool_calls:
        return [*parts, {"text": reply.text or ""}]
    for index, call in enumerate(reply.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        if shape.thinking and index == 0:  # Gemini signs the first call of a turn
            part["thoughtSignature"] = signature_of(call.id)
        parts.append(part)
    return parts


def _usage(reply: Reply, shape: Shape = Shape()) -> dict[str, int]:
    n = shape.n
    thoughts = THOUGHT_TOKENS * n if shape.thinking or shape.thoughts else 0
    usage = {"promptTokenCount": reply.prompt_tokens, "candidatesTokenCount": reply.completion_tokens * n,
             "totalTokenCount": reply.prompt_tokens + reply.completion_tokens * n + thoughts}
    return usage | ({"thoughtsTokenCount": thoughts} if thoughts else {})


def _base(version: str) -> dict[str, Any]:
    return {"modelVersion": version, "createTime": _CREATE_TIME, "responseId": "emulated-response"}


def _blocked(reply: Reply, version: str) -> dict[str, Any]:
    return {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": _BLOCKED_RATINGS},
            "usageMetadata": {"promptTokenCount": reply.prompt_tokens, "totalTokenCount": reply.prompt_tokens}
            } | _base(version)


def _unsafe_candidate(index: int) -> dict[str, Any]:
    return {"finishReason": "SAFETY", "safetyRatings": _BLOCKED_RATINGS, "index": index}


def generate_response(reply: Reply, version: str, shape: Shape = Shape()) -> dict[str, Any]:
    if shape.blocked:
        return _blocked(reply, version)
    content = {"role": "model", "parts": _parts(reply, shape)}
    candidates = [_unsafe_candidate(i) if shape.unsafe else
                  {"content": content, "finishReason": _FINISH[reply.finish], "safetyRatings": _SAFETY_RATINGS,
                   "index": i} for i in range(shape.n)]
    return {"candidates": candidates, "usageMetadata": _usage(reply, shape)} | _base(version)


def stream_chunks(reply: Reply, version: str, sse: bool, shape: Shape = Shape()) -> list[bytes]:
    """The answer in pieces; with ``n`` candidates every chunk carries each of them."""
    base = _base(version)
    objects: list[dict[str, Any]] = []
    if shape.blocked:
        objects.append(_blocked(reply, version))
    else:
        parts_list: list[list[dict[str, Any]]] = [_parts(reply, shape)[:1]] if shape.thoughts else []
        if reply.tool_calls:
            parts_list.append(_parts(reply, replace(shape, thoughts=False)))
        else:
            parts_list += [[{"text": piece}] for piece in reply.pieces()] or [[{"text": ""}]]
        if shape.unsafe:
            parts_list = parts_list[:2]
        for index, parts in enumerate(parts_list):
            final = index == len(parts_list) - 1
            ending: dict[str, Any] = {}
            if final:
                ending = ({"finishReason": "SAFETY", "safetyRatings": _BLOCKED_RATINGS} if shape.unsafe
                          else {"finishReason": _FINISH[reply.finish]})
            candidates = [{"content": {"role": "model", "parts": parts}, "index": i} | ending for i in range(shape.n)]
            objects.append({"candidates": candidates} | ({"usageMetadata": _usage(reply, shape)} if final else {})
                           | base)
    encoded = [json.dumps(o, separators=(",", ":")).encode() for o in objects]
    if sse:
        return [b"data: " + e + b"\r\n\r\n" for e in encoded]
    return [(b"[" if i == 0 else b",\r\n") + e for i, e in enumerate(encoded)] + [b"]"]
