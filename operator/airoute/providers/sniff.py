r"""Reading only what the gateway needs from OpenAI bodies, without parsing them: ``model`` and
``stream`` of a chat-completions request, the token counts of an answer.

The fast path finds the two keys with ``bytes.find`` (C speed, no objects for the prompt). In
JSON a ``"`` inside a string is always escaped, so an unescaped ``"model"`` followed by ``:`` is
a key. When exactly one such key exists it is the top-level one in any valid request (the
top-level ``model`` is required). ``stream`` is optional, so a lone nested ``"stream": true``
could pass for it; the only places an OpenAI request carries free-form objects with boolean
values are JSON schemas (tool parameters, ``response_format``), so a body with a
``"properties"`` or ``"schema"`` key and a ``"stream"`` key is parsed in full. A second
``"model"`` key, escapes in the value, or anything unusual also falls back to ``json.loads``,
which is exact.

The model the gateway routes on must be the one the upstream receives (issue 14.8). A lone
``"model"`` key is the top-level one only when the body has a top-level model: the scan takes it
as such when nothing can hold it below the top level, that is when no ``{`` or ``[`` comes
between the body's opening brace and the key, or no ``[`` or ``]`` and no ``}`` but the body's
closing one come after its value (absence is exact even with braces in strings); otherwise the
body is parsed. A key can
spell ``model`` or ``stream`` with JSON escapes (``"\u006dodel"``), which the scan does not see
and the upstream's parser does. Escapes other than ``\uXXXX`` never produce a letter, and the
letters of both keys are ``\u0061``-``\u007a``: a body containing ``\u006`` or ``\u007``
(which no JSON encoder writes, since ASCII letters need no escape) goes to the slow path. There,
a top-level ``model`` or ``stream`` given more than once (after unescaping) is refused: parsers
disagree on which one counts (Python's and Go's take the last, others the first or refuse).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airoute.providers.fastjson import loads

_MODEL = b'"model"'
_STREAM = b'"stream"'
_WS = b" \t\r\n"
_SCHEMA_KEYS = (b'"properties"', b'"schema"')
_ESCAPED_LETTERS = (rb"\u006", rb"\u007")  # escapes of U+0060-U+007F: every letter of "model" and "stream"
_ROUTED_KEYS = ("model", "stream")


class SniffError(ValueError):
    """The body is not a chat-completions request the gateway can route."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the gateway needs from a request body.

    ``span`` is the byte range of the model's string value including its quotes when the fast
    path found it; ``parsed`` is the whole body when the slow path had to parse it."""

    model: str
    stream: bool
    span: tuple[int, int] | None = None
    parsed: dict[str, Any] | None = None


def _keys(body: bytes, key: bytes) -> list[int]:
    """Offsets just after the ``:`` of every unescaped ``key`` used as an object key."""
    return [after for _, after in _key_spans(body, key)]


def _key_spans(body: bytes, key: bytes) -> list[tuple[int, int]]:
    """Where every unescaped ``key`` used as an object key starts, and the offset after its ``:``."""
    found: list[tuple[int, int]] = []
    start = body.find(key)
    while start != -1:
        end = start + len(key)
        if start == 0 or body[start - 1] != 0x5C:  # not preceded by a backslash
            colon = end
            while colon < len(body) and body[colon] in _WS:
                colon += 1
            if colon < len(body) and body[colon] == 0x3A:  # ':'
                found.append((start, colon + 1))
        start = body.find(key, end)
    return found


def _skip_ws(body: bytes, i: int) -> int:
    while i < len(body) and body[i] in _WS:
        i += 1
    return i


def _surely_top_level(body: bytes, key: int, value_end: int) -> bool:
    """True when the key at ``key``, whose value ends at ``value_end``, cannot be below the top
    level: no container opens before it, or none closes after it but the body itself."""
    opening = _skip_ws(body, 0)
    if body[opening : opening + 1] != b"{":
        return False
    if body.find(b"{", opening + 1, key) == -1 and body.find(b"[", opening + 1, key) == -1:
        return True
    closing = len(body.rstrip(_WS)) - 1
    return (body.find(b"[", value_end) == -1 and body.find(b"]", value_end) == -1
            and body.find(b"}", value_end) == closing)


def _fast(body: bytes) -> Sniffed | None:
    if any(marker in body for marker in _ESCAPED_LETTERS):
        return None
    models = _key_spans(body, _MODEL)
    streams = _keys(body, _STREAM)
    if len(models) != 1 or len(streams) > 1:
        return None
    key, after = models[0]
    start = _skip_ws(body, after)
    if start >= len(body) or body[start] != 0x22:  # '"'
        return None
    end = body.find(b'"', start + 1)
    if end == -1:
        return None
    raw = body[start + 1 : end]
    if b"\\" in raw or not raw or not _surely_top_level(body, key, end + 1):
        return None
    stream = False
    if streams:
        if any(key in body for key in _SCHEMA_KEYS):
            return None
        at = _skip_ws(body, streams[0])
        if body.startswith(b"true", at):
            stream = True
        elif not body.startswith(b"false", at) and not body.startswith(b"null", at):
            return None
    try:
        model = raw.decode()
    except UnicodeDecodeError:
        return None
    return Sniffed(model, stream, (start, end + 1))


def _top_level_once(body: bytes) -> None:
    """Refuses a body whose top-level object has ``model`` or ``stream`` more than once. Only
    bodies that could (two plain keys, or escaped letters) pay for the pairs hook."""
    if len(_keys(body, _MODEL)) < 2 and len(_keys(body, _STREAM)) < 2 and not any(
        marker in body for marker in _ESCAPED_LETTERS
    ):
        return
    last: list[tuple[str, Any]] = []

    def pairs(found: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal last
        last = found  # the outermost object closes last
        return dict(found)

    json.loads(body, object_pairs_hook=pairs)
    names = [name for name, _ in last]
    for key in _ROUTED_KEYS:
        if names.count(key) > 1:
            raise SniffError(
                f"the request body has the key {key!r} more than once (counting escaped spellings): "
                "send it once", key
            )


def _object(body: bytes) -> dict[str, Any]:
    """The body parsed; raises :class:`SniffError` when it is not a JSON object."""
    try:
        parsed = loads(body)  # json.loads's result and errors, faster
    except (ValueError, UnicodeDecodeError) as exc:
        raise SniffError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise SniffError("the request body is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise SniffError("the request body must be a JSON object")
    return parsed


def _slow(body: bytes) -> Sniffed:
    parsed = _object(body)
    _top_level_once(body)
    model = parsed.get("model")
    if not isinstance(model, str) or not model:
        raise SniffError("you must provide a model parameter: the name of an AIRoute's spec.model", "model")
    stream = parsed.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise SniffError("stream must be true or false", "stream")
    return Sniffed(model, bool(stream), None, parsed)


def sniff(body: bytes) -> Sniffed:
    """``model`` and ``stream`` of a chat-completions body; raises :class:`SniffError`."""
    if not body:
        raise SniffError("the request body is empty: send a JSON chat-completions request")
    return _fast(body) or _slow(body)


def parsed_body(body: bytes, sniffed: Sniffed) -> dict[str, Any]:
    """The whole body as a dict (parses it unless the slow path already did). A body the fast
    path read has ``model`` and ``stream`` once each at most, as plain keys, and its top-level
    model is a string: what the slow path would check again is known, only the parse is left."""
    if sniffed.parsed is not None:
        return sniffed.parsed
    if sniffed.span is not None:
        return _object(body)
    return _slow(body).parsed or {}


def with_model(body: bytes, sniffed: Sniffed, model: str) -> bytes:
    """The body with its top-level ``model`` replaced (a byte splice on the fast path)."""
    if sniffed.model == model:
        return body
    if sniffed.span is not None:
        start, end = sniffed.span
        return body[:start] + json.dumps(model).encode() + body[end:]
    parsed = dict(parsed_body(body, sniffed))
    parsed["model"] = model
    return json.dumps(parsed, separators=(",", ":")).encode()


def usage_tokens(data: bytes) -> tuple[int, int]:
    """``prompt_tokens`` and ``completion_tokens`` of an answer or of the last chunk of a stream,
    found by a scan for the last occurrence of each key (0 when absent)."""
    return _int_after(data, b'"prompt_tokens":'), _int_after(data, b'"completion_tokens":')


def _int_after(data: bytes, key: bytes) -> int:
    at = data.rfind(key)
    if at == -1:
        return 0
    i = at + len(key)
    while i < len(data) and data[i] == 0x20:
        i += 1
    j = i
    while j < len(data) and 0x30 <= data[j] <= 0x39:
        j += 1
    return int(data[i:j]) if j > i else 0
