"""OpenAI chat completions ⇄ Vertex AI ``generateContent``. Pure: dicts in, dicts out.

The request side gives the REST body (``contents``, ``systemInstruction``, ``generationConfig``,
``tools``, ``toolConfig``) in its camelCase wire form; the response side takes a
``GenerateContentResponse`` in the same form (whole, or stream chunk by chunk).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airoute.providers.errors import Unavailable
from airoute.providers.request import ChatRequest, ForcedTool, Message
from airoute.providers.request_codec import as_chat_request
from airoute.providers.translate.common import (
    ChunkMaker,
    Usage,
    arguments_of,
    call_id,
    completion_json,
    message_json,
    refuse,
    refuse_unsupported,
    tool_call_json,
    tool_names_by_id,
)

PROVIDER = "vertex-ai"
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
          "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
          "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
          "IMAGE_SAFETY": "content_filter"}


def _text_parts(message: Message, path: str) -> list[dict[str, Any]]:
    if message.non_text_parts:
        kind = message.non_text_parts[0].get("type")
        raise refuse(PROVIDER, f"{path}.content", f"{kind} content parts are not supported")
    return [{"text": message.text}] if message.text else []


def _content(message: Message, path: str, names: Mapping[str, str]) -> tuple[str, list[Any]]:
    if message.role == "tool":
        name = names.get(message.tool_call_id or "")
        if name is None:
            raise refuse(PROVIDER, f"{path}.tool_call_id", "does not match an earlier tool call")
        return "user", [{"functionResponse": {"name": name,
                                              "response": {"content": message.text}}}]
    parts = _text_parts(message, path)
    if message.role == "assistant":
        parts += [{"functionCall": {"name": c.name, "args": arguments_of(c, PROVIDER)}}
                  for c in message.tool_calls]
        return "model", parts
    return "user", parts


def _contents(req: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system parts, contents) with consecutive same-role turns merged."""
    names = tool_names_by_id(req)
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for index, message in enumerate(req.messages):
        path = f"messages[{index}]"
        if message.role in ("system", "developer"):
            system += _text_parts(message, path)
            continue
        role, parts = _content(message, path, names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise refuse(PROVIDER, "messages", "at least one user or assistant message is needed")
    return system, contents


def _generation_config(req: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    pairs = (("temperature", req.temperature), ("topP", req.top_p),
             ("maxOutputTokens", req.token_limit), ("candidateCount", req.n), ("seed", req.seed),
             ("presencePenalty", req.presence_penalty),
             ("frequencyPenalty", req.frequency_penalty))
    for key, value in pairs:
        if value is not None:
            config[key] = value
    if req.stop:
        config["stopSequences"] = list(req.stop)
    fmt = req.response_format
    if fmt is not None and fmt.type != "text":
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.schema is not None:
            config["responseJsonSchema"] = dict(fmt.schema)
    return config


def _tool_config(req: ChatRequest) -> dict[str, Any] | None:
    choice = req.tool_choice
    if choice is None:
        return None
    if isinstance(choice, ForcedTool):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name]}}
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
    return {"functionCallingConfig": {"mode": mode}}


def to_generate_content(request: ChatRequest | Mapping[str, Any]) -> dict[str, Any]:
    """The ``generateContent`` request body for an OpenAI request."""
    req = as_chat_request(request)
    refuse_unsupported(req, PROVIDER, allow=("n", "seed", "presence_penalty",
                                             "frequency_penalty"))
    system, contents = _contents(req)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config = _generation_config(req)
    if config:
        out["generationConfig"] = config
    if req.tools:
        out["tools"] = [{"functionDeclarations": [
            {"name": t.name} | ({"description": t.description} if t.description else {})
            | ({"parametersJsonSchema": dict(t.parameters)} if t.parameters else {})
            for t in req.tools]}]
    tool_config = _tool_config(req) if req.tools else None
    if tool_config is not None:
        out["toolConfig"] = tool_config
    return out


def _usage(meta: Any) -> Usage | None:
    if not isinstance(meta, Mapping):
        return None
    return Usage(int(meta.get("promptTokenCount", 0)), int(meta.get("candidatesTokenCount", 0)),
                 meta.get("totalTokenCount"))


def _parts_out(parts: list[Any], seed: str) -> tuple[str, list[dict[str, Any]]]:
    texts = [p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]
    calls = []
    for index, part in enumerate(parts):
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            args = call.get("args") or {}
            id_ = call.get("id") or call_id(f"{seed}/{index}/{call.get('name')}/{args}")
            calls.append(tool_call_json(id_, str(call.get("name")), args))
    return "".join(texts), calls


def _finish(reason: Any, has_calls: bool) -> str:
    if has_calls and reason in (None, "STOP"):
        return "tool_calls"
    return FINISH.get(str(reason), "stop")


def from_generate_content(response: Mapping[str, Any], model: str, id_: str, created: int,
                          ) -> dict[str, Any]:
    """A ``GenerateContentResponse`` as a ``chat.completion``."""
    choices = []
    for position, candidate in enumerate(response.get("candidates") or []):
        index = int(candidate.get("index", position))
        parts = (candidate.get("content") or {}).get("parts") or []
        text, calls = _parts_out(parts, f"{id_}/{index}")
        choices.append({"index": index, "message": message_json(text, calls), "logprobs": None,
                        "finish_reason": _finish(candidate.get("finishReason"), bool(calls))})
    if not choices:  # the prompt itself was blocked
        choices.append({"index": 0, "message": message_json("", []), "logprobs": None,
                        "finish_reason": "content_filter"})
    return completion_json(id_, model, created, choices, _usage(response.get("usageMetadata")))


class GenerateContentStreamTranslator:
    """``streamGenerateContent`` chunks → ``chat.completion.chunk`` objects (first candidate)."""

    def __init__(self, model: str, id_: str, created: int, include_usage: bool) -> None:
        self.chunks = ChunkMaker(id_, model, created)
        self.include_usage = include_usage
        self._started = False
        self._calls = 0
        self.finished = False

    def feed(self, response: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self._started:
            self._started = True
            out.append(self.chunks.delta({"role": "assistant", "content": ""}))
        candidates = response.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        parts = (candidate.get("content") or {}).get("parts") or []
        text, calls = _parts_out(parts, f"{self.chunks.id}/{self._calls}")
        if text:
            out.append(self.chunks.delta({"content": text}))
        for call in calls:
            out.append(self.chunks.delta({"tool_calls": [{"index": self._calls} | call]}))
            self._calls += 1
        reason = candidate.get("finishReason")
        if reason is None and not candidates and response.get("promptFeedback"):
            reason = "SAFETY"
        if reason is not None:
            self.finished = True
            out.append(self.chunks.delta({}, _finish(reason, self._calls > 0)))
        usage = _usage(response.get("usageMetadata"))
        if reason is not None and usage is not None and self.include_usage:
            out.append(self.chunks.usage(usage))
        return out

    def close(self) -> None:
        if not self.finished:
            raise Unavailable("the stream ended before a finish reason", provider=PROVIDER)
