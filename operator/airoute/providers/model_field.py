"""Rewriting the ``model`` of an OpenAI request body without decoding the rest of it."""

from __future__ import annotations

import json
import re

_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')


def rewrite_model(body: bytes, model: str) -> bytes:
    """``body`` with its top-level ``model`` set to ``model``.

    Fast path: when ``"model"`` occurs exactly once and holds a string, only those bytes are
    replaced. Otherwise (a nested ``"model"`` key, an escaped key) the body is decoded and encoded.
    """
    encoded = json.dumps(model).encode()
    if body.count(b'"model"') == 1:
        match = _MODEL.search(body)
        if match is not None:
            return body[: match.start()] + b'"model":' + encoded + body[match.end():]
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the request body is not a JSON object")
    data["model"] = model
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
