"""Amazon Bedrock runtime: ``POST /model/{modelId}/converse`` and ``/converse-stream``, and
``/invoke`` for the embedding models (Titan Text Embeddings, Cohere Embed).

Requests must be SigV4-signed for service ``bedrock`` (with ``secret_access_key`` set the signature
itself is verified). Errors carry ``x-amzn-ErrorType`` and ``{"message": …}`` like AWS; the stream
is ``application/vnd.amazon.eventstream``.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from aiohttp import web

from airoute.emulators.embeddings import EmbeddingsError, bedrock_invoke, is_bedrock_embedder
from airoute.emulators.eventstream import event_frame, exception_frame
from airoute.emulators.faults import Decision
from airoute.emulators.replies import BLOCK_ANSWER, TOO_LONG, Reply, ToolCall, ToolSpec, Turn, make_reply, word_count
from airoute.emulators.server import EmulatorServer
from airoute.emulators.sigv4 import SignatureError, parse_authorization, verify

ERROR_TYPES = {
    400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
    404: "ResourceNotFoundException", 408: "ModelTimeoutException", 424: "ModelErrorException",
    429: "ThrottlingException", 500: "InternalServerException", 503: "ServiceUnavailableException",
}
_STATUS = {code: status for status, code in ERROR_TYPES.items()} | {
    "MissingAuthenticationTokenException": 403, "IncompleteSignatureException": 400,
    "InvalidSignatureException": 403, "UnrecognizedClientException": 403,
}
STREAM_EXCEPTIONS = {400: "validationException", 424: "modelStreamErrorException", 429: "throttlingException",
                     500: "internalServerException", 503: "serviceUnavailableException"}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "content_filtered"}


_STREAM_MESSAGES = {"throttlingException": "Too many requests, please wait before trying again.",
                    "modelStreamErrorException": "The model failed while streaming its answer.",
                    "serviceUnavailableException": "The service is unavailable. Try again later."}


class ValidationError(ValueError):
    pass


class BedrockEmulator(EmulatorServer):
    """``access_key_id`` / ``secret_access_key``: accept only that key (and check the signature);
    ``models``: the model IDs served (``None``: any); ``region``: the region signatures must use."""

    provider: ClassVar[str] = "bedrock"

    def __init__(self, *, access_key_id: str | None = None, secret_access_key: str | None = None,
                 region: str | None = None, models: Iterable[str] | None = None,
                 seed: int | None = 0, model_version: str = "v1") -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region
        self.models = frozenset(models) if models is not None else None
        super().__init__(seed=seed, model_version=model_version)

    def routes(self) -> Iterable[web.RouteDef]:
        return [
            web.post("/model/{model_id:.+}/converse", self._converse),
            web.post("/model/{model_id:.+}/converse-stream", self._converse_stream),
            web.post("/model/{model_id:.+}/invoke", self._invoke),
        ]

    def fault_response(self, decision: Decision, message: str) -> web.Response:
        return self.error_response(decision.status, message, code=decision.error_code)

    def error_response(self, status: int, message: str, retry_after: float | None = None,
                       code: str | None = None) -> web.Response:
        code = code or ERROR_TYPES.get(status, "InternalServerException")
        headers = {  # Bedrock sends no Retry-After, on a 429 either
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000",
        }
        return web.json_response({"message": message}, status=status, headers=headers)

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, streamed=False)

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, streamed=True)

    async def _signed(self, request: web.Request, api: str, streamed: bool) -> tuple[bytes, web.Response | None]:
        """The body, captured, and the answer to give at once when its signature is wrong."""
        raw = await request.read()
        self.capture(request, raw)
        try:
            self._check_signature(request, raw)
        except SignatureError as exc:
            self.record(request, api, request.match_info["model_id"], streamed, "unauthorized", _STATUS[exc.code])
            return raw, self.error_response(_STATUS[exc.code], str(exc), code=exc.code)
        return raw, None

    async def _invoke(self, request: web.Request) -> web.StreamResponse:
        """InvokeModel of an embedding model; other models are not emulated (400)."""
        model = request.match_info["model_id"]
        raw, refused = await self._signed(request, "invoke", False)
        if refused is not None:
            return refused
        if (self.models is not None and model not in self.models) or not is_bedrock_embedder(model):
            self.record(request, "invoke", model, False, "bad_request", 404 if self.models else 400)
            return self.error_response(404 if self.models else 400, "The provided model identifier is invalid.")
        try:
            answer, used = bedrock_invoke(model, json.loads(raw))
        except (ValueError, RecursionError) as exc:
            self.record(request, "invoke", model, False, "bad_request", 400)
            return self.error_response(400, str(exc) if isinstance(exc, EmbeddingsError) else "Malformed input request")
        gate = await self.gate(request, "invoke", model, False)
        if gate.response is not None:
            return gate.response
        self.record(request, "invoke", model, False, "ok", 200)
        return web.json_response(answer, headers={
            "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000",
            "X-Amzn-Bedrock-Input-Token-Count": str(used), "X-Amzn-Bedrock-Invocation-Latency": "1"})

    async def _handle(self, request: web.Request, streamed: bool) -> web.StreamResponse:
        api = "converse-stream" if streamed else "converse"
        model = request.match_info["model_id"]
        raw, refused = await self._signed(request, api, streamed)
        if refused is not None:
            return refused
        if self.models is not None and model not in self.models:
            self.record(request, api, model, streamed, "bad_request", 404)
            return self.error_response(404, "The provided model identifier is invalid.")
        try:
            turn = parse_turn(json.loads(raw), model)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.record(request, api, model, streamed, "bad_request", 400)
            return self.error_response(400, str(exc))
        if TOO_LONG in turn.last_user:
            self.record(request, api, model, streamed, "bad_request", 400)
            return self.error_response(400, "Input is too long for requested model.")
        gate = await self.gate(request, api, model, streamed)
        if gate.response is not None:
            return gate.response
        reply = make_reply(self.provider, turn)
        if BLOCK_ANSWER in turn.last_user:
            reply = replace(reply, text=" ".join((reply.text or "").split(" ")[:3]), finish="content_filter")
        headers = {"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000",
                   "x-emulator-model-version": self.faults.model_version}
        if not streamed:
            self.record(request, api, model, False, "ok", 200)
            return web.json_response(converse_response(reply), headers=headers)
        frames, decision = stream_frames(reply), gate.decision
        failing = decision.stream_error_after is not None
        if decision.stream_error_after is not None:  # Bedrock ends the stream after the exception
            kind = decision.error_code or STREAM_EXCEPTIONS.get(decision.error_status, "internalServerException")
            frames = [*frames[:decision.stream_error_after],
                      exception_frame(kind[:1].lower() + kind[1:], _STREAM_MESSAGES.get(kind, "The model failed."))]
        response, complete = await self.stream(request, frames, decision, "application/vnd.amazon.eventstream",
                                               headers)
        self.record(request, api, model, True, "cut" if not complete else "stream_error" if failing else "ok", 200)
        return response

    def _check_signature(self, request: web.Request, body: bytes) -> None:
        cred = parse_authorization(request.headers.get("Authorization"))
        if cred.service != "bedrock" or (self.region and cred.region != self.region):
            raise SignatureError("InvalidSignatureException",
                                 f"Credential should be scoped to a valid region and service "
                                 f"'bedrock', not '{cred.region}/{cred.service}'.")
        if self.access_key_id is not None and cred.access_key_id != self.access_key_id:
            raise SignatureError("UnrecognizedClientException",
                                 "The security token included in the request is invalid.")
        if self.secret_access_key is not None:
            verify(cred, self.secret_access_key, request.method, request.raw_path.split("?")[0],
                   request.query, request.headers, body)


def _blocks_text(blocks: Iterable[Any]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Mapping) and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block, Mapping) and isinstance(block.get("json"), (dict, list)):
            parts.append(json.dumps(block["json"]))
    return " ".join(parts)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValidationError("A conversation must start with a user message. Try again.")
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in messages]
    if roles[0] != "user":
        raise ValidationError("A conversation must start with a user message. Try again.")
    for index, role in enumerate(roles):
        if role not in ("user", "assistant") or not isinstance(messages[index].get("content"), list):
            raise ValidationError(f"messages.{index}: role and a content list are required.")
        if index and role == roles[index - 1]:
            raise ValidationError(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again.")


IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
MAX_IMAGE_BYTES = 3_750_000


def _check_images(messages: list[Any]) -> None:
    """Image blocks as Bedrock validates them: a known format and base64 bytes (the JSON form of
    the blob) of at most 3.75 MB."""
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            image = block.get("image") if isinstance(block, Mapping) else None
            if image is None:
                continue
            where = f"messages.{index}.member.content.{position}.member.image"
            source = image.get("source") if isinstance(image, Mapping) else None
            data = source.get("bytes") if isinstance(source, Mapping) else None
            if not isinstance(image, Mapping) or image.get("format") not in IMAGE_FORMATS:
                raise ValidationError(f"{where}.format: Member must satisfy enum value set: {list(IMAGE_FORMATS)}")
            if message["role"] != "user" or not isinstance(data, str):
                raise ValidationError(f"{where}: images are only taken as bytes in user messages.")
            try:
                size = len(base64.b64decode(data, validate=True))
            except (ValueError, binascii.Error):
                raise ValidationError(f"{where}.source.bytes: Invalid base64.") from None
            if size > MAX_IMAGE_BYTES:
                raise ValidationError(f"{where}: Image exceeds max size {MAX_IMAGE_BYTES} bytes.")


def _output_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON schema of ``outputConfig.textFormat`` (structured outputs), checked."""
    config = body.get("outputConfig")
    if config is None:
        return None
    text_format = config.get("textFormat") if isinstance(config, Mapping) else None
    structure = text_format.get("structure") if isinstance(text_format, Mapping) else None
    schema = (structure.get("jsonSchema") or {}).get("schema") if isinstance(structure, Mapping) else None
    if not isinstance(text_format, Mapping) or text_format.get("type") != "json_schema" or not isinstance(schema, str):
        raise ValidationError("outputConfig.textFormat: type json_schema with structure.jsonSchema.schema "
                              "(a JSON string) is required.")
    try:
        parsed = json.loads(schema)
    except ValueError:
        raise ValidationError("outputConfig.textFormat.structure.jsonSchema.schema: is not valid JSON.") from None
    if not isinstance(parsed, Mapping):
        raise ValidationError("outputConfig.textFormat.structure.jsonSchema.schema: must be a JSON object.")
    return parsed


def parse_turn(body: Any, model: str) -> Turn:
    """The Converse request, validated as strictly as Bedrock does where it matters here."""
    if not isinstance(body, Mapping):
        raise ValidationError("The request body must be a JSON object.")
    messages = body.get("messages")
    _check_messages(messages)
    assert isinstance(messages, list)
    _check_images(messages)
    tool_config = body.get("toolConfig")
    blocks = [b for m in messages for b in m["content"] if isinstance(b, Mapping)]
    if any("toolUse" in b or "toolResult" in b for b in blocks) and not tool_config:
        raise ValidationError("The toolConfig field must be defined when using toolUse and "
                              "toolResult content blocks.")
    config = body.get("inferenceConfig") or {}
    temperature = config.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise ValidationError("temperature: must be between 0 and 1.")
    users = [m for m in messages if m["role"] == "user" and _blocks_text(
        b for b in m["content"] if "text" in b)]
    last = messages[-1]["content"]
    results = [b["toolResult"] for b in last if isinstance(b, Mapping) and "toolResult" in b]
    system = _blocks_text(body.get("system") or [])
    return Turn(
        model=model,
        last_user=_blocks_text(b for b in users[-1]["content"] if "text" in b) if users else "",
        tool_result=_blocks_text(results[0].get("content") or []) if results else None,
        tools=_tools(tool_config),
        tool_mode=_tool_mode(tool_config),
        prompt_words=word_count(system) + sum(
            word_count(_blocks_text(m["content"])) for m in messages),
        max_tokens=config.get("maxTokens"),
        json_schema=_output_schema(body),
        images=sum(1 for b in messages[-1]["content"] if isinstance(b, Mapping) and "image" in b),
    )


def _tools(tool_config: Any) -> tuple[ToolSpec, ...]:
    if not isinstance(tool_config, Mapping):
        return ()
    specs = []
    for tool in tool_config.get("tools") or []:
        spec = tool.get("toolSpec") if isinstance(tool, Mapping) else None
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            schema = (spec.get("inputSchema") or {}).get("json") or {}
            specs.append(ToolSpec(spec["name"], schema))
    return tuple(specs)


def _tool_mode(tool_config: Any) -> str:
    choice = tool_config.get("toolChoice") if isinstance(tool_config, Mapping) else None
    if not isinstance(choice, Mapping):
        return "auto"
    if "any" in choice:
        return "required"
    if "tool" in choice:
        return str(choice["tool"].get("name", "auto"))
    return "auto"


def _tool_use_id(call: ToolCall) -> str:
    return f"tooluse_{zlib.crc32(call.id.encode()):08x}"


def _usage(reply: Reply) -> dict[str, int]:
    return {"inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens,
            "totalTokens": reply.total_tokens}


def converse_response(reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]]
    if reply.tool_calls:
        content = [{"toolUse": {"toolUseId": _tool_use_id(call), "name": call.name, "input": call.arguments}}
                   for call in reply.tool_calls]
    else:
        content = [{"text": reply.text or ""}]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _STOP[reply.finish],
        "usage": _usage(reply),
        "metrics": {"latencyMs": 1},
    }


def stream_frames(reply: Reply) -> list[bytes]:
    frames = [event_frame("messageStart", {"role": "assistant"})]
    for index, call in enumerate(reply.tool_calls):
        frames.append(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": {
            "toolUse": {"toolUseId": _tool_use_id(call), "name": call.name}}}))
        args = call.arguments_json
        frames.extend(
            event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                "toolUse": {"input": args[i:i + 16]}}})
            for i in range(0, len(args), 16))
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    if not reply.tool_calls:
        frames.extend(
            event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
            for piece in reply.pieces())
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event_frame("messageStop", {"stopReason": _STOP[reply.finish]}))
    frames.append(event_frame("metadata", {"usage": _usage(reply), "metrics": {"latencyMs": 1}}))
    return frames
