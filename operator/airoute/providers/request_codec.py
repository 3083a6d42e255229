"""OpenAI chat-completions JSON ⇄ :class:`ChatRequest`: validation on the way in, canonical JSON out."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

from airoute.providers.errors import BadRequest
from airoute.providers.request import (
    ChatRequest,
    ForcedTool,
    Message,
    ResponseFormat,
    Role,
    Tool,
    ToolCall,
    ToolChoiceMode,
)

ROLES = ("system", "developer", "user", "assistant", "tool")
PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MODELED = frozenset({
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "stop", "n", "seed", "presence_penalty", "frequency_penalty",
    "logprobs", "top_logprobs", "logit_bias", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "user",
})
DEPRECATED = {"functions": "tools", "function_call": "tool_choice"}


def _bad(path: str, problem: str) -> BadRequest:
    return BadRequest(f"{path}: {problem}", status=400)


def _number(body: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(key, f"must be a number between {low:g} and {high:g}")
    return float(value)


def _integer(body: Mapping[str, Any], key: str, low: int, high: int = 2**31) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, f"must be an integer from {low}" + (f" to {high}" if high < 2**31 else ""))
    return int(value)


def _boolean(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise _bad(key, "must be true or false")
    return value


def _string(value: Any, path: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(path, "must be a string")
    return value


def _content(value: Any, path: str) -> str | tuple[Mapping[str, Any], ...] | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise _bad(path, "must be a string or an array of content parts")
    for index, part in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(part, Mapping) or part.get("type") not in PART_TYPES:
            raise _bad(f"{where}.type", f"must be one of {', '.join(PART_TYPES)}")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise _bad(f"{where}.text", "must be a string")
    return tuple(value)


def _tool_calls(value: Any, path: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(path, "must be an array")
    calls = []
    for index, call in enumerate(value):
        where = f"{path}[{index}]"
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or call.get("type", "function") != "function":
            raise _bad(where, "must be {type: function, id, function: {name, arguments}}")
        calls.append(ToolCall(
            id=cast(str, _string(call.get("id"), f"{where}.id")),
            name=cast(str, _string(fn.get("name"), f"{where}.function.name")),
            arguments=cast(str, _string(fn.get("arguments", ""), f"{where}.function.arguments")),
            signature=_signature(call.get("extra_content"), f"{where}.extra_content"),
        ))
    return tuple(calls)


def _signature(extra: Any, path: str) -> str | None:
    """``extra_content.google.thought_signature`` of a tool call (Google's OpenAI-compatible form)."""
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return _string(signature, f"{path}.google.thought_signature", optional=True)


_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})


def _message(value: Any, index: int) -> Message:
    if type(value) is dict and value.keys() <= _PLAIN_MESSAGE_KEYS:  # the commonest shape, checked at once
        role, content = value.get("role"), value.get("content")
        if type(content) is str and role in _PLAIN_ROLES:
            return Message(role, content)
    path = f"messages[{index}]"
    if not isinstance(value, Mapping):
        raise _bad(path, "must be an object")
    role = value.get("role")
    if role == "function":
        raise _bad(f"{path}.role", "'function' is deprecated; use 'tool' with tool_call_id")
    if role not in ROLES:
        raise _bad(f"{path}.role", f"must be one of {', '.join(ROLES)}")
    content = _content(value.get("content"), f"{path}.content")
    tool_calls = _tool_calls(value.get("tool_calls"), f"{path}.tool_calls")
    if tool_calls and role != "assistant":
        raise _bad(f"{path}.tool_calls", "only assistant messages carry tool_calls")
    if content is None and not (role == "assistant" and tool_calls):
        raise _bad(f"{path}.content", "is required")
    tool_call_id = _string(value.get("tool_call_id"), f"{path}.tool_call_id", optional=True)
    if role == "tool" and not tool_call_id:
        raise _bad(f"{path}.tool_call_id", "is required for role tool")
    return Message(cast(Role, role), content, _string(value.get("name"), f"{path}.name", True),
                   tool_calls, tool_call_id)


def _tools(value: Any) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad("tools", "must be an array")
    tools = []
    for index, tool in enumerate(value):
        path = f"tools[{index}]"
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or tool.get("type") != "function":
            raise _bad(path, "must be {type: function, function: {name, parameters}}")
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise _bad(f"{path}.function.name", "must be 1-64 letters, digits, _ or -")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise _bad(f"{path}.function.parameters", "must be a JSON Schema object")
        strict = fn.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _bad(f"{path}.function.strict", "must be true or false")
        tools.append(Tool(name, _string(fn.get("description"), f"{path}.function.description",
                                        True), params, strict))
    return tuple(tools)


def _tool_choice(value: Any, tools: tuple[Tool, ...]) -> ToolChoiceMode | ForcedTool | None:
    if value is None:
        return None
    if value in ("auto", "none", "required"):
        choice: ToolChoiceMode | ForcedTool = cast(ToolChoiceMode, value)
    elif isinstance(value, Mapping) and value.get("type") == "function" and isinstance(
            value.get("function"), Mapping) and isinstance(value["function"].get("name"), str):
        choice = ForcedTool(value["function"]["name"])
        if choice.name not in {t.name for t in tools}:
            raise _bad("tool_choice.function.name", f"{choice.name!r} is not one of the tools")
    else:
        raise _bad("tool_choice", "must be auto, none, required or "
                   "{type: function, function: {name}}")
    if not tools and choice != "none":
        raise _bad("tool_choice", "is only allowed when tools are specified")
    return choice


def _response_format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise _bad("response_format.type", "must be text, json_object or json_schema")
    spec = value.get("json_schema")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise _bad("response_format.json_schema", "must be an object with a name")
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, Mapping):
        raise _bad("response_format.json_schema.schema", "must be a JSON Schema object")
    strict = spec.get("strict")
    return ResponseFormat("json_schema", spec["name"], schema,
                          strict if isinstance(strict, bool) else None,
                          _string(spec.get("description"), "response_format.json_schema."
                                  "description", True))


def _stop(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > 4:
        raise _bad("stop", "must be a string or an array of up to 4 strings")
    return tuple(stops)


def _body(body: Mapping[str, Any] | bytes | str) -> Mapping[str, Any]:
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}", status=400) from exc
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", status=400)
    for old, new in DEPRECATED.items():
        if old in body:
            raise _bad(old, f"is deprecated and not supported; use {new}")
    return body


def parse_request(raw: Mapping[str, Any] | bytes | str) -> ChatRequest:
    body = _body(raw)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "must be a non-empty array")
    stream = bool(_boolean(body, "stream"))
    if body.keys() <= _ESSENTIAL:  # no option to read: each would be its default
        return ChatRequest.plain(model, tuple(_message(m, i) for i, m in enumerate(messages)), stream)
    return _with_options(body, model, messages, stream)


_ESSENTIAL = frozenset({"model", "messages", "stream"})


def _with_options(body: Mapping[str, Any], model: str, messages: list[Any], stream: bool) -> ChatRequest:
    """The request with every option of ``body`` read (in the order their errors are reported)."""
    options = body.get("stream_options")
    if options is not None and (not stream or not isinstance(options, Mapping)):
        raise _bad("stream_options", "is only allowed with stream: true")
    tools = _tools(body.get("tools"))
    logit_bias = body.get("logit_bias")
    if logit_bias is not None and not isinstance(logit_bias, Mapping):
        raise _bad("logit_bias", "must be an object")
    top_logprobs = _integer(body, "top_logprobs", 0, 20)
    logprobs = _boolean(body, "logprobs")
    if top_logprobs is not None and not logprobs:
        raise _bad("top_logprobs", "requires logprobs: true")
    return ChatRequest(
        model=model,
        messages=tuple(_message(m, i) for i, m in enumerate(messages)),
        stream=stream,
        include_usage=bool(isinstance(options, Mapping) and options.get("include_usage")),
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=_integer(body, "max_tokens", 1),
        max_completion_tokens=_integer(body, "max_completion_tokens", 1),
        stop=_stop(body.get("stop")),
        n=_integer(body, "n", 1, 128),
        seed=_integer(body, "seed", -(2**63), 2**63),
        presence_penalty=_number(body, "presence_penalty", -2, 2),
        frequency_penalty=_number(body, "frequency_penalty", -2, 2),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        logit_bias=logit_bias,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=_boolean(body, "parallel_tool_calls"),
        response_format=_response_format(body.get("response_format")),
        user=_string(body.get("user"), "user", optional=True),
        extra={k: v for k, v in body.items() if k not in MODELED},
    )


def _message_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    out["content"] = list(message.content) if isinstance(message.content, tuple) else (
        message.content)
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [_tool_call_json(c) for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "type": "function",
                           "function": {"name": call.name, "arguments": call.arguments}}
    if call.signature is not None:
        out["extra_content"] = {"google": {"thought_signature": call.signature}}
    return out


def _tool_json(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        fn["description"] = tool.description
    if tool.parameters is not None:
        fn["parameters"] = dict(tool.parameters)
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _response_format_json(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"name": fmt.name}
    for key, value in (("description", fmt.description), ("schema", fmt.schema),
                       ("strict", fmt.strict)):
        if value is not None:
            spec[key] = dict(value) if isinstance(value, Mapping) else value
    return {"type": "json_schema", "json_schema": spec}


def request_to_openai(request: ChatRequest, model: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model or request.model,
                           "messages": [_message_json(m) for m in request.messages]}
    if request.stream:
        out["stream"] = True
        if request.include_usage:
            out["stream_options"] = {"include_usage": True}
    scalars = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "seed",
               "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
               "parallel_tool_calls", "user")
    for key in scalars:
        value = getattr(request, key)
        if value is not None:
            out[key] = value
    if request.stop is not None:
        out["stop"] = list(request.stop)
    if request.logit_bias is not None:
        out["logit_bias"] = dict(request.logit_bias)
    if request.tools:
        out["tools"] = [_tool_json(t) for t in request.tools]
    if isinstance(request.tool_choice, ForcedTool):
        out["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice.name}}
    elif request.tool_choice is not None:
        out["tool_choice"] = request.tool_choice
    if request.response_format is not None:
        out["response_format"] = _response_format_json(request.response_format)
    out.update(request.extra)
    return out


def as_chat_request(request: ChatRequest | Mapping[str, Any]) -> ChatRequest:
    """``request`` itself, or the body parsed."""
    return request if isinstance(request, ChatRequest) else parse_request(request)
