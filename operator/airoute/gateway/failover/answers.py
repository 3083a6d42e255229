"""Answers the gateway writes itself: the degraded answer (JSON and SSE) and stream error events."""

from __future__ import annotations

import json
import os
import time


def _id() -> str:
    return "chatcmpl-airoute-" + os.urandom(12).hex()


def degraded_completion(model: str, text: str) -> bytes:
    """A normal ``chat.completion`` whose assistant message is the route's degradedResponse."""
    return json.dumps({
        "id": _id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }).encode()


def degraded_stream(model: str, text: str) -> bytes:
    """The same answer as SSE ``chat.completion.chunk`` events ending in ``[DONE]``."""
    ident, created = _id(), int(time.time())

    def chunk(delta: dict[str, str], finish: str | None) -> bytes:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    return chunk({"role": "assistant", "content": text}, None) + chunk({}, "stop") + b"data: [DONE]\n\n"


def stream_error_event(message: str, code: str = "stream_interrupted") -> bytes:
    """An SSE event in OpenAI's error shape; OpenAI SDKs raise an APIError when they read it."""
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
    return b"\n\ndata: " + json.dumps(body).encode() + b"\n\n"
