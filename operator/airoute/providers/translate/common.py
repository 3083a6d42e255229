"""Helpers shared by the translators: refusing what a provider cannot honour, and building
OpenAI ``chat.completion`` / ``chat.completion.chunk`` objects."""

from __future__ import annotations

import binascii
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airoute.providers.errors import BadRequest
from airoute.providers.request import ChatRequest, ToolCall


def refuse(provider: str, param: str, why: str) -> BadRequest:
    return BadRequest(f"{param}: {why} on {provider}", provider=provider, status=400)


def refuse_unsupported(req: ChatRequest, provider: str, *, allow: Iterable[str] = ()) -> None:
    """Raise BadRequest for every parameter that is set but that ``provider`` cannot honour.

    Checked: n>1, seed, logprobs, top_logprobs, logit_bias, presence/frequency penalties,
    parallel_tool_calls=false, strict tools, and any unmodelled field — minus ``allow``.
    """
    allowed = set(allow)
    checks: list[tuple[str, bool, str]] = [
        ("n", req.n is not None and req.n > 1, "only one choice (n=1) can be generated"),
        ("seed", req.seed is not None, "a seed is not supported"),
        ("logprobs", bool(req.logprobs), "log probabilities are not available"),
        ("top_logprobs", req.top_logprobs is not None, "log probabilities are not available"),
        ("logit_bias", bool(req.logit_bias), "logit bias is not supported"),
        ("presence_penalty", bool(req.presence_penalty), "presence penalty is not supported"),
        ("frequency_penalty", bool(req.frequency_penalty), "frequency penalty is not supported"),
        ("parallel_tool_calls", req.parallel_tool_calls is False,
         "parallel tool calls cannot be switched off"),
        ("tools[].function.strict", any(t.strict for t in req.tools),
         "strict (schema-guaranteed) tool arguments are not supported"),
    ]
    for param, is_set, why in checks:
        if is_set and param not in allowed:
            raise refuse(provider, param, why)
    for key in req.extra:
        if key not in allowed:
            raise refuse(provider, key, "this parameter is not supported")


@dataclass(frozen=True)
class Media:
    """Inline media from a content part: its MIME type and its bytes in base64 (as on the wire)."""

    mime: str
    data: str


AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}


def _base64(data: str, provider: str, path: str) -> str:
    try:
        binascii.a2b_base64(data.encode("ascii"), strict_mode=True)
    except (ValueError, UnicodeEncodeError):
        raise refuse(provider, path, "is not valid base64") from None
    return data


def image_media(part: Mapping[str, Any], provider: str, path: str) -> Media:
    """The image of an ``image_url`` part given as a ``data:<mime>;base64,<data>`` URL. A remote
    URL is refused: the gateway never fetches one itself."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else None
    if not isinstance(url, str):
        raise refuse(provider, f"{path}.image_url.url", "is required")
    head, comma, data = url.partition(",")
    if head[:5].lower() != "data:":
        raise refuse(provider, f"{path}.image_url.url", "remote image URLs are not fetched by the gateway; "
                     "send the image as a data: URL")
    mime, _, encoding = head[5:].partition(";")
    if not comma or encoding.lower() != "base64" or not mime.lower().startswith("image/"):
        raise refuse(provider, f"{path}.image_url.url", "must be data:image/<type>;base64,<data>")
    return Media(mime.lower(), _base64(data, provider, f"{path}.image_url.url"))


def audio_media(part: Mapping[str, Any], provider: str, path: str) -> Media:
    """The audio of an ``input_audio`` part (``{data: base64, format: wav|mp3}``)."""
    audio = part.get("input_audio")
    data = audio.get("data") if isinstance(audio, Mapping) else None
    kind = audio.get("format") if isinstance(audio, Mapping) else None
    if not isinstance(data, str) or kind not in AUDIO_MIME:
        raise refuse(provider, f"{path}.input_audio", "must be {data: <base64>, format: wav|mp3}")
    return Media(AUDIO_MIME[kind], _base64(data, provider, f"{path}.input_audio.data"))


def call_id(seed: str) -> str:
    """A stable OpenAI-style tool call id for a provider that gives none."""
    return f"call_{zlib.crc32(seed.encode()):08x}"


def completion_id(seed: str) -> str:
    return f"chatcmpl-{zlib.crc32(seed.encode()):08x}"


def tool_call_json(call_id_: str, name: str, arguments: Any, signature: str | None = None) -> dict[str, Any]:
    """An OpenAI tool call; ``signature`` (Gemini's thoughtSignature) goes where Google's
    OpenAI-compatible API puts it, ``extra_content.google.thought_signature``."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))
    out: dict[str, Any] = {"id": call_id_, "type": "function", "function": {"name": name, "arguments": text}}
    if signature is not None:
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


def tool_names_by_id(req: ChatRequest) -> dict[str, str]:
    """Which function each earlier tool call id called (tool results name only the id)."""
    return {c.id: c.name for m in req.messages for c in m.tool_calls}


def arguments_of(call: ToolCall, provider: str) -> Any:
    try:
        return call.arguments_object()
    except BadRequest as exc:
        raise refuse(provider, f"tool call {call.id}", "arguments are not valid JSON") from exc


@dataclass(frozen=True)
class Usage:
    """Token counts; ``completion`` includes ``reasoning`` (thinking) tokens, as OpenAI counts them."""

    prompt: int
    completion: int
    total: int | None = None
    reasoning: int = 0

    def to_json(self) -> dict[str, Any]:
        total = self.total if self.total is not None else self.prompt + self.completion
        out: dict[str, Any] = {"prompt_tokens": self.prompt, "completion_tokens": self.completion,
                               "total_tokens": total}
        if self.reasoning:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning}
        return out


def message_json(text: str | None, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls
                               else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def completion_json(id_: str, model: str, created: int, choices: list[dict[str, Any]],
                    usage: Usage | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": id_, "object": "chat.completion", "created": created,
                           "model": model, "choices": choices}
    if usage is not None:
        out["usage"] = usage.to_json()
    return out


@dataclass(frozen=True)
class ChunkMaker:
    """Builds the ``chat.completion.chunk`` objects of one streamed answer."""

    id: str
    model: str
    created: int

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model}

    def delta(self, delta: Mapping[str, Any], finish: str | None = None,
              index: int = 0) -> dict[str, Any]:
        return self._base() | {"choices": [{"index": index, "delta": dict(delta),
                                            "finish_reason": finish}]}

    def usage(self, usage: Usage) -> dict[str, Any]:
        return self._base() | {"choices": [], "usage": usage.to_json()}
