"""A parsed OpenAI chat-completions request: the one shape every translating caller translates from.

:mod:`~airoute.providers.request_codec` reads it from JSON (``parse_request``: a wrong field is a
:class:`BadRequest` naming its path) and writes it back (``request_to_openai``). Top-level fields
it does not model are kept in ``extra``: translating adapters refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from airoute.providers.errors import BadRequest

Role = Literal["system", "developer", "user", "assistant", "tool"]
ToolChoiceMode = Literal["auto", "none", "required"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the assistant made; ``arguments`` is the JSON text, as in OpenAI.
    ``signature``: Gemini's ``thoughtSignature`` of the call, carried the way Google's
    OpenAI-compatible API carries it (``extra_content.google.thought_signature``)."""

    id: str
    name: str
    arguments: str
    signature: str | None = None

    def arguments_object(self) -> Any:
        """The arguments parsed; ``{}`` when empty. Raises BadRequest when not JSON."""
        if not self.arguments.strip():
            return {}
        try:
            return json.loads(self.arguments)
        except ValueError as exc:
            raise BadRequest(f"tool call {self.id}: arguments are not valid JSON") from exc


@dataclass(frozen=True)
class Message:
    role: Role
    content: str | tuple[Mapping[str, Any], ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The text of the content; text (and refusal) parts joined by newlines."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part_text(p) for p in self.content if p.get("type") in TEXT_PARTS)

    @property
    def non_text_parts(self) -> tuple[Mapping[str, Any], ...]:
        if isinstance(self.content, tuple):
            return tuple(p for p in self.content if p.get("type") not in TEXT_PARTS)
        return ()

    @property
    def parts(self) -> tuple[Mapping[str, Any], ...]:
        """The content as parts (a string is one text part)."""
        if isinstance(self.content, tuple):
            return self.content
        return ({"type": "text", "text": self.content},) if self.content else ()


TEXT_PARTS = ("text", "refusal")
"""Content parts that are text (a refusal is the assistant's own text)."""


def part_text(part: Mapping[str, Any]) -> str:
    """The text of a text or refusal part."""
    return str(part.get("text" if part.get("type") == "text" else "refusal", ""))


@dataclass(frozen=True)
class Tool:
    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class ForcedTool:
    """``tool_choice: {"type": "function", "function": {"name": …}}``."""

    name: str


@dataclass(frozen=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    n: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: Mapping[str, float] | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoiceMode | ForcedTool | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def plain(cls, model: str, messages: tuple[Message, ...], stream: bool = False) -> ChatRequest:
        """The request with every option at its default: equal to ``ChatRequest(model, messages,
        stream)`` at a fifth of its cost (a frozen dataclass's ``__init__`` sets its 22 fields one
        by one through ``object.__setattr__``; most requests set none of the options)."""
        request = object.__new__(cls)
        fields = request.__dict__
        fields.update(_PLAIN_OPTIONS)
        fields["model"], fields["messages"], fields["stream"], fields["extra"] = model, messages, stream, {}
        return request

    @property
    def token_limit(self) -> int | None:
        """``max_completion_tokens``, else ``max_tokens``."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else (
            self.max_tokens)


_PLAIN_OPTIONS: dict[str, Any] = {f.name: f.default for f in fields(ChatRequest) if f.default is not MISSING}
"""Every option's default, for :meth:`ChatRequest.plain`."""
