"""OpenAI chat completions ⇄ Vertex AI ``generateContent``. Pure: dicts in, dicts out.

The request side gives the REST body (``contents``, ``systemInstruction``, ``generationConfig``,
``tools``, ``toolConfig``) in its camelCase wire form; the response side takes a
``GenerateContentResponse`` in the same form (whole, or stream chunk by chunk).

* images (``data:`` URLs) and ``input_audio`` parts become ``inlineData`` parts;
* Gemini's ``thoughtSignature`` of a function call travels with the OpenAI tool call the way
  Google's OpenAI-compatible API carries it (``extra_content.google.thought_signature``) and is
  sent back on that call; a model turn whose calls carry none (a history from another backend)
  gets Google's documented ``skip_thought_signature_validator`` on its first call, without which
  Gemini 3 refuses the request;
* thinking tokens (``thoughtsTokenCount``) count in ``completion_tokens``, as OpenAI counts
  reasoning tokens, and are reported in ``completion_tokens_details.reasoning_tokens``;
* a stream with several candidates (``n`` > 1) keeps every one: each chunk's candidates become
  choices by their ``index``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airoute.providers.errors import Unavailable
from airoute.providers.request import TEXT_PARTS, ChatRequest, ForcedTool, Message, part_text
from airoute.providers.request_codec import as_chat_request
from airoute.providers.translate.common import (
    ChunkMaker,
    Media,
    Usage,
    arguments_of,
    audio_media,
    call_id,
    completion_json,
    image_media,
    message_json,
    refuse,
    refuse_unsupported,
    tool_call_json,
    tool_names_by_id,
)

PROVIDER = "vertex-ai"
_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR")
_STOPPED = ("FINISH_REASON_UNSPECIFIED", "STOP", "LANGUAGE", "OTHER", "MALFORMED_FUNCTION_CALL", "IMAGE_OTHER",
            "NO_IMAGE", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", "MISSING_THOUGHT_SIGNATURE",
            "MALFORMED_RESPONSE", "ESCALATION", "PUP_LIMITED_DISABLED", "CONTINUATION")
FINISH = {"MAX_TOKENS": "length"} | dict.fromkeys(_FILTERED, "content_filter") | dict.fromkeys(_STOPPED, "stop")
"""Every ``FinishReason`` google-genai lists → OpenAI's ``finish_reason``: a block by a safety,
recitation or policy filter is ``content_filter``, the token limit ``length``, anything else that
ended the answer (including a malformed or unexpected function call) ``stop``."""
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for a function call's missing thoughtSignature (a history that
Gemini did not write)."""
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")


def _inline(media: Media) -> dict[str, Any]:
    return {"inlineData": {"mimeType": media.mime, "data": media.data}}


def _media_part(part: Mapping[str, Any], path: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "image_url":
        media = image_media(part, PROVIDER, path)
        if media.mime not in IMAGE_TYPES:
            raise refuse(PROVIDER, f"{path}.image_url.url", f"{media.mime} images are not supported "
                         f"({', '.join(IMAGE_TYPES)})")
        return _inline(media)
    if kind == "input_audio":
        return _inline(audio_media(part, PROVIDER, path))
    raise refuse(PROVIDER, f"{path}.type", f"{kind} content parts are not supported")


def _text_parts(message: Message, path: str, media: bool = False) -> list[dict[str, Any]]:
    """Text (and, with ``media``, image and audio) parts in the order of the content parts."""
    if isinstance(message.content, str):  # one text part, or none when empty
        return [{"text": message.content}] if message.content else []
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(message.parts):
        where = f"{path}.content[{index}]"
        if part.get("type") in TEXT_PARTS:
            text = part_text(part)
            if text:
                parts.append({"text": text})
        elif media:
            parts.append(_media_part(part, where))
        else:
            raise refuse(PROVIDER, f"{where}.type", f"{part.get('type')} content parts are not supported "
                         "in this message")
    return parts


def _function_calls(message: Message) -> list[dict[str, Any]]:
    parts = []
    signed = any(c.signature for c in message.tool_calls)
    for position, call in enumerate(message.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": arguments_of(call, PROVIDER)}}
        signature = call.signature or (SKIP_SIGNATURE if position == 0 and not signed else None)
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _content(message: Message, path: str, names: Mapping[str, str]) -> tuple[str, list[Any]]:
    if message.role == "tool":
        name = names.get(message.tool_call_id or "")
        if name is None:
            raise refuse(PROVIDER, f"{path}.tool_call_id", "does not match an earlier tool call")
        return "user", [{"functionResponse": {"name": name,
                                              "response": {"content": message.text}}}]
    if message.role == "assistant":
        return "model", _text_parts(message, path) + _function_calls(message)
    return "user", _text_parts(message, path, media=True)


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
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    return Usage(int(meta.get("promptTokenCount", 0)), int(meta.get("candidatesTokenCount", 0)) + thoughts,
                 meta.get("totalTokenCount"), thoughts)


def _parts_out(parts: list[Any], seed: str) -> tuple[str, list[dict[str, Any]]]:
    texts = [p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]
    calls = []
    for index, part in enumerate(parts):
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            args = call.get("args") or {}
            id_ = call.get("id") or call_id(f"{seed}/{index}/{call.get('name')}/{args}")
            signature = part.get("thoughtSignature")
            calls.append(tool_call_json(id_, str(call.get("name")), args,
                                        signature if isinstance(signature, str) else None))
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


class _Choice:
    """What the stream said so far about one candidate."""

    __slots__ = ("calls", "finished")

    def __init__(self) -> None:
        self.calls = 0
        self.finished = False


class GenerateContentStreamTranslator:
    """``streamGenerateContent`` chunks → ``chat.completion.chunk`` objects, every candidate a
    choice by its ``index``; ``choices``: how many were asked for (``n``), each must finish. The
    usage chunk (when ``include_usage``) follows once every choice has finished."""

    def __init__(self, model: str, id_: str, created: int, include_usage: bool, choices: int = 1) -> None:
        self.chunks = ChunkMaker(id_, model, created)
        self.include_usage = include_usage
        self.expected = choices
        self._choices: dict[int, _Choice] = {}
        self._usage_sent = False

    @property
    def finished(self) -> bool:
        states = self._choices.values()
        return len(self._choices) >= self.expected and all(c.finished for c in states)

    def feed(self, response: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        candidates = response.get("candidates") or []
        if not candidates and response.get("promptFeedback"):  # the prompt was blocked
            candidates = [{"index": i, "finishReason": "SAFETY"} for i in range(self.expected)]
        for position, candidate in enumerate(candidates):
            out += self._candidate(int(candidate.get("index", position)), candidate)
        usage = _usage(response.get("usageMetadata"))
        if usage is not None and self.include_usage and not self._usage_sent and self.finished:
            self._usage_sent = True
            out.append(self.chunks.usage(usage))
        return out

    def _candidate(self, index: int, candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
            out.append(self.chunks.delta({"role": "assistant", "content": ""}, index=index))
        parts = (candidate.get("content") or {}).get("parts") or []
        text, calls = _parts_out(parts, f"{self.chunks.id}/{index}/{state.calls}")
        if text:
            out.append(self.chunks.delta({"content": text}, index=index))
        for call in calls:
            out.append(self.chunks.delta({"tool_calls": [{"index": state.calls} | call]}, index=index))
            state.calls += 1
        reason = candidate.get("finishReason")
        if reason is not None and not state.finished:
            state.finished = True
            out.append(self.chunks.delta({}, _finish(reason, state.calls > 0), index=index))
        return out

    def close(self) -> None:
        if not self.finished:
            raise Unavailable("the stream ended before every choice had a finish reason", provider=PROVIDER)
