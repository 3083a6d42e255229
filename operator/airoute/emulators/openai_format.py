"""The OpenAI chat-completions wire format, shared by the Azure OpenAI and OpenAI-compatible
emulators: request → :class:`Turn`, :class:`Reply` → ``chat.completion`` / SSE chunk bytes."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from airoute.emulators.replies import Reply, ToolSpec, Turn, word_count

CREATED = 1_700_000_000
DONE = b"data: [DONE]\n\n"


class InvalidRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def content_text(content: Any) -> str:
    """The text of an OpenAI message content (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def parse_turn(body: Any, model: str) -> Turn:
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", "messages")
    texts: list[str] = []
    last_user = ""
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise InvalidRequest(f"messages[{index}] must be an object with a role.", "messages")
        text = content_text(message.get("content"))
        texts.append(text)
        if message["role"] == "user":
            last_user = text
    last = messages[-1]
    return Turn(
        model=model,
        last_user=last_user,
        tool_result=texts[-1] if last.get("role") == "tool" else None,
        tools=_tools(body.get("tools")),
        tool_mode=_tool_mode(body.get("tool_choice")),
        prompt_words=sum(word_count(t) for t in texts),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        json_mode=_json_mode(body.get("response_format")),
        parallel=body.get("parallel_tool_calls") is not False,
        json_schema=_json_schema(body.get("response_format")),
        images=_images(last.get("content") if last.get("role") == "user" else None),
    )


def _tools(tools: Any) -> tuple[ToolSpec, ...]:
    if not isinstance(tools, list):
        return ()
    specs = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            specs.append(ToolSpec(fn["name"], params if isinstance(params, Mapping) else {}))
    return tuple(specs)


def _tool_mode(choice: Any) -> str:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        return str(choice["function"].get("name", "auto"))
    return "auto"


def _json_mode(response_format: Any) -> bool:
    return isinstance(response_format, Mapping) and response_format.get("type") in (
        "json_object", "json_schema",
    )


def _json_schema(response_format: Any) -> Mapping[str, Any] | None:
    spec = response_format.get("json_schema") if isinstance(response_format, Mapping) else None
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return schema if isinstance(schema, Mapping) else None


def _images(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if isinstance(part, Mapping) and part.get("type") == "image_url")


def include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, Mapping) and bool(options.get("include_usage"))


def completion_id(model: str, reply: Reply) -> str:
    return f"chatcmpl-{zlib.crc32(f'{model}/{reply.text}'.encode()):08x}"


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [{
            "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        } for call in reply.tool_calls]
    return message


def usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens,
    }


def completion(reply: Reply, model: str, fingerprint: str, n: int = 1) -> dict[str, Any]:
    message = _message(reply)
    return {
        "id": completion_id(model, reply),
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": reply.finish}
            for i in range(n)
        ],
        "usage": usage(reply),
    }


def chunk_dicts(reply: Reply, model: str, fingerprint: str, include_usage: bool,
                ) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed reply, in order."""
    base = {"id": completion_id(model, reply), "object": "chat.completion.chunk",
            "created": CREATED, "model": model, "system_fingerprint": fingerprint}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": "" if not reply.tool_calls else None})]
    for index, call in enumerate(reply.tool_calls):
        chunks.append(chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                             "function": {"name": call.name, "arguments": ""}}]}))
        args = call.arguments_json
        for start in range(0, len(args), 16):
            chunks.append(chunk({"tool_calls": [{"index": index,
                                                 "function": {"arguments": args[start:start + 16]}}]}))
    chunks.extend(chunk({"content": piece}) for piece in reply.pieces())
    chunks.append(chunk({}, reply.finish))
    if include_usage:
        chunks.append(base | {"choices": [], "usage": usage(reply)})
    return chunks


def sse_chunks(chunks: list[dict[str, Any]]) -> list[bytes]:
    """Each chunk as one SSE event, then ``data: [DONE]``."""
    encoded = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    encoded.append(DONE)
    return encoded
