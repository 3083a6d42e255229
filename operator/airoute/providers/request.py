"""A parsed OpenAI chat-completions request: the one shape every SDK adapter translates from.

:mod:`~airoute.providers.request_codec` reads it from JSON (``parse_request``: a wrong field is a
:class:`BadRequest` naming its path) and writes it back (``request_to_openai``). Top-level fields
it does not model are kept in ``extra``: translating adapters refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airoute.providers.errors import BadRequest

Role = Literal["system", "developer", "user", "assistant", "tool"]
ToolChoiceMode = Literal["auto", "none", "required"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the assistant made; ``arguments`` is the JSON text, as in OpenAI."""

    id: str
    name: str
    arguments: str

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
        """The text of the content; text parts joined by newlines."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")

    @property
    def non_text_parts(self) -> tuple[Mapping[str, Any], ...]:
        if isinstance(self.content, tuple):
            return tuple(p for p in self.content if p.get("type") != "text")
        return ()


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

    @property
    def token_limit(self) -> int | None:
        """``max_completion_tokens``, else ``max_tokens``."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else (
            self.max_tokens)
