"""OpenAI chat completions ⇄ Bedrock Converse / ConverseStream. Pure: dicts in, dicts out.

The request side returns the Converse request without ``modelId`` (the adapter adds it), in its
JSON wire form (image bytes in base64, a structured-output schema as JSON text); the response
side turns a Converse response, or ConverseStream events one by one, into OpenAI objects.

Images come from ``data:`` URLs as ``image`` blocks; ``response_format`` ``json_schema`` becomes
``outputConfig.textFormat`` and ``strict`` tools ``toolSpec.strict`` (Bedrock's structured
outputs: which models take them is declared in :mod:`airoute.providers.capabilities`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airoute.providers.errors import Unavailable
from airoute.providers.request import TEXT_PARTS, ChatRequest, ForcedTool, Message, part_text
from airoute.providers.request_codec import as_chat_request
from airoute.providers.translate.common import (
    ChunkMaker,
    Usage,
    arguments_of,
    completion_json,
    image_media,
    message_json,
    refuse,
    refuse_unsupported,
    tool_call_json,
)

PROVIDER = "bedrock"
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "tool_use": "tool_calls",
          "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
          "malformed_model_output": "stop", "malformed_tool_use": "stop"}
"""Every ``StopReason`` of the Converse API (botocore's service model lists them) → OpenAI's
``finish_reason``; a stop at the context window is ``length``, an answer the model could not
finish as valid output or a valid tool call is ``stop``."""
_PLACEHOLDER_SCHEMA = {"type": "object", "properties": {}}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}


def _image_block(part: Mapping[str, Any], path: str) -> dict[str, Any]:
    media = image_media(part, PROVIDER, path)
    kind = IMAGE_FORMATS.get(media.mime)
    if kind is None:
        raise refuse(PROVIDER, f"{path}.image_url.url", f"{media.mime} images are not supported "
                     "(png, jpeg, gif or webp)")
    return {"image": {"format": kind, "source": {"bytes": media.data}}}


def _content_blocks(message: Message, path: str, images: bool = True) -> list[dict[str, Any]]:
    """Text and image blocks in the order of the content parts (blank text left out)."""
    if isinstance(message.content, str):  # one text block, or none when blank
        return [{"text": message.content}] if message.content.strip() else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(message.parts):
        where = f"{path}.content[{index}]"
        kind = part.get("type")
        if kind in TEXT_PARTS:
            text = part_text(part)
            if text.strip():
                blocks.append({"text": text})
        elif kind == "image_url" and images:
            blocks.append(_image_block(part, where))
        else:
            raise refuse(PROVIDER, f"{where}.type", f"{kind} content parts are not supported"
                         + ("" if images else " in this message"))
    return blocks


def _blocks(message: Message, path: str) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        result = {"toolUseId": message.tool_call_id, "content": [{"text": message.text}]}
        return "user", [{"toolResult": result}]
    blocks = _content_blocks(message, path, images=message.role == "user")
    if message.role == "assistant":
        blocks += [{"toolUse": {"toolUseId": c.id, "name": c.name,
                                "input": arguments_of(c, PROVIDER)}}
                   for c in message.tool_calls]
    return message.role, blocks


def _conversation(req: ChatRequest, system_prompts: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages) with consecutive same-role turns merged, as Converse wants.
    Without ``system_prompts`` the system blocks open the first user message instead."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(req.messages):
        path = f"messages[{index}]"
        if message.role in ("system", "developer"):
            system += _content_blocks(message, path, images=False)
            continue
        role, blocks = _blocks(message, path)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += blocks
        else:
            messages.append({"role": role, "content": blocks})
    if not messages or messages[0]["role"] != "user":
        raise refuse(PROVIDER, "messages", "the conversation must start with a user message")
    if system and not system_prompts:
        messages[0]["content"][:0] = system
        return [], messages
    return system, messages


def _inference_config(req: ChatRequest) -> dict[str, Any]:
    if req.temperature is not None and req.temperature > 1:
        raise refuse(PROVIDER, "temperature", "values above 1 are not accepted")
    config: dict[str, Any] = {}
    for key, value in (("maxTokens", req.token_limit), ("temperature", req.temperature),
                       ("topP", req.top_p)):
        if value is not None:
            config[key] = value
    if req.stop:
        config["stopSequences"] = list(req.stop)
    return config


def _tool_config(req: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    used = {b["toolUse"]["name"] for m in messages for b in m["content"] if "toolUse" in b}
    if req.tool_choice == "none":
        if used:
            raise refuse(PROVIDER, "tool_choice", "'none' cannot be combined with earlier tool "
                         "calls in the conversation")
        return None
    specs = [{"toolSpec": {"name": t.name, "inputSchema": {"json": dict(t.parameters or _PLACEHOLDER_SCHEMA)}}
              | ({"description": t.description} if t.description else {})
              | ({"strict": True} if t.strict else {})} for t in req.tools]
    # Converse requires toolConfig whenever the history holds tool blocks.
    known = {t.name for t in req.tools}
    specs += [{"toolSpec": {"name": name, "inputSchema": {"json": _PLACEHOLDER_SCHEMA}}}
              for name in sorted(used - known)]
    if not specs:
        return None
    config: dict[str, Any] = {"tools": specs}
    if isinstance(req.tool_choice, ForcedTool):
        config["toolChoice"] = {"tool": {"name": req.tool_choice.name}}
    elif req.tool_choice == "required":
        config["toolChoice"] = {"any": {}}
    elif req.tool_choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def _output_config(req: ChatRequest) -> dict[str, Any] | None:
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        raise refuse(PROVIDER, "response_format", "json_object output (JSON mode without a schema) is not "
                     "supported by Converse; send a json_schema")
    if fmt.schema is None:
        raise refuse(PROVIDER, "response_format.json_schema.schema", "is required by Converse")
    schema: dict[str, Any] = {"schema": json.dumps(fmt.schema, separators=(",", ":")), "name": fmt.name}
    if fmt.description:
        schema["description"] = fmt.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}


def to_converse(request: ChatRequest | Mapping[str, Any], *, system_prompts: bool = True) -> dict[str, Any]:
    """The Converse request body (no ``modelId``) for an OpenAI request; ``system_prompts``
    False for models without a system prompt (the system messages then open the first user turn)."""
    req = as_chat_request(request)
    refuse_unsupported(req, PROVIDER, allow=("tools[].function.strict",))
    system, messages = _conversation(req, system_prompts)
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    config = _inference_config(req)
    if config:
        out["inferenceConfig"] = config
    tool_config = _tool_config(req, messages)
    if tool_config is not None:
        out["toolConfig"] = tool_config
    output_config = _output_config(req)
    if output_config is not None:
        out["outputConfig"] = output_config
    return out


def _usage(usage: Any) -> Usage | None:
    if not isinstance(usage, Mapping):
        return None
    return Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)),
                 usage.get("totalTokens"))


def from_converse(response: Mapping[str, Any], model: str, id_: str, created: int,
                  ) -> dict[str, Any]:
    """A Converse response as a ``chat.completion``."""
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    texts = [b["text"] for b in content if isinstance(b.get("text"), str)]
    calls = [tool_call_json(b["toolUse"]["toolUseId"], b["toolUse"]["name"],
                            b["toolUse"].get("input", {}))
             for b in content if isinstance(b.get("toolUse"), Mapping)]
    finish = FINISH.get(str(response.get("stopReason")), "stop")
    choice = {"index": 0, "message": message_json("".join(texts), calls), "logprobs": None,
              "finish_reason": finish}
    return completion_json(id_, model, created, [choice], _usage(response.get("usage")))


class ConverseStreamTranslator:
    """ConverseStream events → ``chat.completion.chunk`` objects, one event at a time."""

    def __init__(self, model: str, id_: str, created: int, include_usage: bool) -> None:
        self.chunks = ChunkMaker(id_, model, created)
        self.include_usage = include_usage
        self._tool_index: dict[int, int] = {}
        self.finished = False

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        if "messageStart" in event:
            return [self.chunks.delta({"role": "assistant", "content": ""})]
        if "contentBlockStart" in event:
            return self._block_start(event["contentBlockStart"])
        if "contentBlockDelta" in event:
            return self._block_delta(event["contentBlockDelta"])
        if "messageStop" in event:
            self.finished = True
            reason = FINISH.get(str(event["messageStop"].get("stopReason")), "stop")
            return [self.chunks.delta({}, reason)]
        if "metadata" in event:
            usage = _usage(event["metadata"].get("usage"))
            return [self.chunks.usage(usage)] if usage and self.include_usage else []
        return []

    def close(self) -> None:
        """The event stream ended: it must have reached ``messageStop``."""
        if not self.finished:
            raise Unavailable("the stream ended before messageStop", provider=PROVIDER)

    def _block_start(self, start: Mapping[str, Any]) -> list[dict[str, Any]]:
        tool = (start.get("start") or {}).get("toolUse")
        if not isinstance(tool, Mapping):
            return []
        index = self._tool_index.setdefault(int(start.get("contentBlockIndex", 0)),
                                            len(self._tool_index))
        call = tool_call_json(tool["toolUseId"], tool["name"], "")
        return [self.chunks.delta({"tool_calls": [{"index": index} | call]})]

    def _block_delta(self, block: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = block.get("delta") or {}
        if isinstance(delta.get("text"), str):
            return [self.chunks.delta({"content": delta["text"]})]
        tool = delta.get("toolUse")
        if isinstance(tool, Mapping):
            index = self._tool_index.get(int(block.get("contentBlockIndex", 0)), 0)
            args = tool.get("input", "")
            text = args if isinstance(args, str) else json.dumps(args)
            return [self.chunks.delta({"tool_calls": [{"index": index,
                                                       "function": {"arguments": text}}]})]
        return []
