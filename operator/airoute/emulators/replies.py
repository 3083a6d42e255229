"""Deterministic answers: every emulator replies with text that echoes the request.

``[<provider>:<model>] reply to: <last user message, truncated>`` (with `` [N image(s)]`` when the
last user message carried images) — or a call of the first offered tool, or ``… tool result:
<the tool's output>`` after a tool round trip. With a JSON schema for the answer, the answer is a
JSON value that follows it (:func:`sample`).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ECHO_CHARS = 60
BLOCK_PROMPT = "[[block-prompt]]"
"""In the last user message: the provider's safety system refuses the prompt (Azure: a 400
``content_filter``; Vertex: ``promptFeedback.blockReason``)."""
BLOCK_ANSWER = "[[block-answer]]"
"""In the last user message: the answer is stopped by the safety system (finish reason
``content_filter`` / ``SAFETY`` / ``content_filtered``)."""
THINK = "[[think]]"
"""In the last user message: Gemini answers with a thought part first (as with
``thinkingConfig.includeThoughts``)."""
TOO_LONG = "[[too-long]]"
"""In the last user message: the prompt is over the model's context window (Azure
``context_length_exceeded``, Bedrock ``ValidationException``, Vertex ``INVALID_ARGUMENT``)."""
Finish = Literal["stop", "length", "tool_calls", "content_filter"]
_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """A provider-neutral view of one chat request, as far as the reply depends on it."""

    model: str
    last_user: str = ""
    tool_result: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_mode: str = "auto"  # auto | none | required | <a tool name>
    prompt_words: int = 0
    max_tokens: int | None = None
    json_mode: bool = False
    json_schema: Mapping[str, Any] | None = None
    images: int = 0
    parallel: bool = True
    """Several tools may be called in one reply (OpenAI's ``parallel_tool_calls`` not false)."""
    thoughts: bool = False
    """Thought parts are asked for (Gemini)."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Reply:
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    finish: Finish
    prompt_tokens: int
    completion_tokens: int

    @property
    def tool_call(self) -> ToolCall | None:
        """The first tool call, if any."""
        return self.tool_calls[0] if self.tool_calls else None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def pieces(self) -> list[str]:
        """The text cut into stream deltas (one word each, spaces kept)."""
        return _PIECE.findall(self.text or "")


def truncate(text: str, limit: int = ECHO_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def word_count(text: str) -> int:
    return len(text.split())


MAX_PARALLEL_CALLS = 3


def make_reply(provider: str, turn: Turn) -> Reply:
    """The reply: a call of the chosen tool — of each offered tool (up to
    :data:`MAX_PARALLEL_CALLS`), in parallel, when several are offered in ``auto``/``required``
    mode and parallel calls are allowed — or text."""
    prompt_tokens = max(1, turn.prompt_words)
    tools = _chosen_tools(turn)
    if tools:
        calls = tuple(ToolCall(_call_id(turn, t.name), t.name, _arguments(t, turn.last_user)) for t in tools)
        used = sum(word_count(c.arguments_json) for c in calls)
        return Reply(None, calls, "tool_calls", prompt_tokens, max(1, used))
    if turn.tool_result is not None:
        text = f"[{provider}:{turn.model}] tool result: {truncate(turn.tool_result)}"
    else:
        text = f"[{provider}:{turn.model}] reply to: {truncate(turn.last_user)}"
        if turn.images:
            text += f" [{turn.images} image{'s' if turn.images > 1 else ''}]"
    if turn.json_schema is not None:
        text = json.dumps(sample(turn.json_schema, text), ensure_ascii=False)
    elif turn.json_mode:
        text = json.dumps({"reply": text}, ensure_ascii=False)
    finish: Finish = "stop"
    words = text.split(" ")
    if turn.max_tokens is not None and turn.max_tokens < len(words):
        text, finish = " ".join(words[: turn.max_tokens]), "length"
    return Reply(text, (), finish, prompt_tokens, max(1, word_count(text)))


def _chosen_tools(turn: Turn) -> tuple[ToolSpec, ...]:
    if not turn.tools or turn.tool_mode == "none" or turn.tool_result is not None:
        return ()
    if turn.tool_mode not in ("auto", "required"):
        return (next((t for t in turn.tools if t.name == turn.tool_mode), turn.tools[0]),)
    return turn.tools[:MAX_PARALLEL_CALLS] if turn.parallel else turn.tools[:1]


def _arguments(tool: ToolSpec, text: str) -> dict[str, Any]:
    props = tool.parameters.get("properties")
    if not isinstance(props, Mapping):
        return {}
    required = tool.parameters.get("required")
    names = [n for n in required if n in props] if isinstance(required, list) else list(props)[:1]
    samples: dict[str, Any] = {"string": truncate(text), "integer": 1, "number": 1.0, "boolean": True}
    args: dict[str, Any] = {}
    for name in names:
        spec = props[name]
        kind = spec.get("type", "string") if isinstance(spec, Mapping) else "string"
        if isinstance(spec, Mapping) and isinstance(spec.get("enum"), list) and spec["enum"]:
            args[name] = spec["enum"][0]
        elif isinstance(kind, str) and kind in samples:
            args[name] = samples[kind]
    return args


def sample(schema: Any, text: str, depth: int = 0) -> Any:
    """A value that follows a JSON schema (types, required properties, enums, arrays), strings
    filled with ``text``."""
    if not isinstance(schema, Mapping) or depth > 8:
        return text
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if kind == "object" or (kind is None and isinstance(schema.get("properties"), Mapping)):
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        return {name: sample(spec, text, depth + 1) for name, spec in props.items()}
    if kind == "array":
        return [sample(schema.get("items"), text, depth + 1)]
    return {"integer": 1, "number": 1.0, "boolean": True, "null": None}.get(str(kind), text)


def _call_id(turn: Turn, name: str) -> str:
    return f"call_{zlib.crc32(f'{turn.model}/{name}/{turn.last_user}'.encode()):08x}"
