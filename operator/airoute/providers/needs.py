"""What a chat-completions request needs from a backend (:class:`~airoute.providers.capabilities.Feature`
flags), read once per request and cheaply.

The reference is :func:`needs_of`, a walk over the parsed body. :func:`read_needs` gets the same
answer from the bytes of a plain request (text messages, the usual sampling parameters) without
parsing it, in one ``bytes.find`` pass over the body and a few steps per object key:

* in JSON a ``"`` inside a string is always escaped, so every object key ends in ``":`` and every
  ``":`` that is not a key's end follows an escaped quote inside a string. For each ``":`` the
  name back to the previous ``"`` is read: when every one is a key of :data:`PLAIN_KEYS` (keys
  that need nothing, wherever they are) whose opening quote is not escaped, the body has no other
  key. Any other name — an unknown key, or a ``\\":`` inside a string — parses the body (a false
  alarm costs a parse, never a wrong answer);
* ``type`` (a content part) must have the value ``"text"``, and ``temperature`` a plain number
  not above 1; else the body is parsed.

It is exact for valid JSON, with one exception no common serializer produces: a key followed by
whitespace before its colon (``"tools" :``) is not seen, so that request is routed like a plain
one and the backend judges it. A top-level key that OpenAI's API only uses inside messages
(``role``, ``content``, ``text`` …) is taken for a plain one: OpenAI refuses such a body, and so
does every backend. Bodies that are not JSON objects need nothing: every backend refuses them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.providers.capabilities import Feature
from airoute.providers.request_codec import MODELED

PLAIN_KEYS = ("model", "messages", "role", "content", "name", "type", "text", "stream", "stream_options",
              "include_usage", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "user")
_PLAIN = frozenset(k.encode() for k in PLAIN_KEYS)
_NUMBER = re.compile(rb'[ \t\r\n]*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)[ \t\r\n]*[,}]')
_TEXT = re.compile(rb'[ \t\r\n]*"text"')
_PART_FEATURES = {"input_audio": Feature.AUDIO, "file": Feature.FILE}


@dataclass(frozen=True, slots=True)
class Needs:
    """``mask`` of :class:`Feature` flags; ``params``: the names behind ``OPENAI_PARAMS``;
    ``parsed``: the body when reading it had to parse it (callers reuse it)."""

    mask: int = 0
    params: tuple[str, ...] = ()
    parsed: dict[str, Any] | None = field(default=None, compare=False)


NOTHING = Needs()


def read_needs(body: bytes, parsed: dict[str, Any] | None = None) -> Needs:
    """The needs of a request body (``parsed``: the body already parsed, when it was)."""
    if parsed is None:
        if _plain(body):
            return NOTHING
        try:
            loaded = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return NOTHING
        if not isinstance(loaded, dict):
            return NOTHING
        parsed = loaded
    found = needs_of(parsed)
    return Needs(found.mask, found.params, parsed)


def _plain(body: bytes) -> bool:
    """True when every key of ``body`` is a plain one with a value that needs nothing."""
    find, rfind = body.find, body.rfind
    end = find(b'":')
    while end != -1:
        start = rfind(b'"', 0, end)
        name = body[start + 1:end]
        if name not in _PLAIN or body[start - 1] == 0x5C:  # an escaped quote: not a key's start
            return False
        if name == b"type" and not _TEXT.match(body, end + 2):
            return False
        if name == b"temperature":
            number = _NUMBER.match(body, end + 2)
            if number is None or float(number.group(1)) > 1:
                return False
        end = find(b'":', end + 2)
    return True


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _part_needs(part: Any, params: list[str]) -> int:
    if not isinstance(part, Mapping):
        return 0
    kind = part.get("type")
    if kind in (None, "text", "refusal"):
        return 0
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        local = isinstance(url, str) and url[:5].lower() == "data:"
        return (Feature.IMAGE_DATA if local else Feature.IMAGE_URL).mask
    feature = _PART_FEATURES.get(kind) if isinstance(kind, str) else None
    if feature is not None:
        return feature.mask
    params.append(f"content part type {kind}")
    return Feature.OPENAI_PARAMS.mask


def _message_needs(message: Any, params: list[str]) -> int:
    if not isinstance(message, Mapping):
        return 0
    mask = 0
    if message.get("tool_calls") or "tool_call_id" in message:
        mask |= Feature.TOOLS.mask
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            mask |= _part_needs(part, params)
    return mask


def _tool_needs(body: Mapping[str, Any]) -> int:
    tools = body.get("tools")
    mask = 0
    if isinstance(tools, list) and tools:
        mask |= Feature.TOOLS.mask
        if body.get("stream") is True:
            mask |= Feature.TOOLS_STREAM.mask
        if any(isinstance(t, Mapping) and isinstance(t.get("function"), Mapping) and t["function"].get("strict") is True
               for t in tools):
            mask |= Feature.STRICT_TOOLS.mask
    choice = body.get("tool_choice")
    if choice == "required" or isinstance(choice, Mapping):
        mask |= Feature.TOOL_CHOICE.mask
    if body.get("parallel_tool_calls") is False:
        mask |= Feature.SERIAL_TOOLS.mask
    return mask


def _sampling_needs(body: Mapping[str, Any]) -> int:
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    n, temperature = _number(body.get("n")), _number(body.get("temperature"))
    checks = (
        (Feature.JSON_MODE, kind == "json_object"),
        (Feature.JSON_SCHEMA, kind == "json_schema"),
        (Feature.CHOICES, n is not None and n > 1),
        (Feature.SEED, body.get("seed") is not None),
        (Feature.LOGPROBS, body.get("logprobs") is True or body.get("top_logprobs") is not None),
        (Feature.LOGIT_BIAS, bool(body.get("logit_bias"))),
        (Feature.PENALTIES, bool(_number(body.get("presence_penalty")) or _number(body.get("frequency_penalty")))),
        (Feature.HOT_TEMPERATURE, temperature is not None and temperature > 1),
    )
    return sum(feature.mask for feature, needed in checks if needed)


def needs_of(body: Mapping[str, Any]) -> Needs:
    """The needs of a parsed request body (the reference :func:`read_needs` agrees with)."""
    params = sorted(key for key in body if key not in MODELED)
    mask = Feature.OPENAI_PARAMS.mask if params else 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            mask |= _message_needs(message, params)
    mask |= _tool_needs(body) | _sampling_needs(body)
    if params:
        mask |= Feature.OPENAI_PARAMS.mask
    return Needs(mask, tuple(params))
