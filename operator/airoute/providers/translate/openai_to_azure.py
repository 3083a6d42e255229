"""OpenAI chat completions ⇄ Azure OpenAI. Pure: dicts in, dicts out.

Azure OpenAI speaks the OpenAI format; the differences are that the deployment in the URL
picks the model (no ``model`` in the body) and that answers carry content-filter annotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airoute.providers.request import ChatRequest
from airoute.providers.request_codec import as_chat_request, request_to_openai

AZURE_ONLY = ("prompt_filter_results", "content_filter_results")


def to_azure(request: ChatRequest | Mapping[str, Any]) -> dict[str, Any]:
    """The body for ``POST …/openai/deployments/{deployment}/chat/completions``."""
    body = request_to_openai(as_chat_request(request))
    del body["model"]
    return body


def _strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in AZURE_ONLY}
    if isinstance(out.get("choices"), list):
        out["choices"] = [
            {k: v for k, v in c.items() if k not in AZURE_ONLY} if isinstance(c, Mapping) else c
            for c in out["choices"]
        ]
    return out


def from_azure(response: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
    """A ``chat.completion`` without Azure's annotations; ``model`` replaces the reported one."""
    out = _strip(response)
    if model is not None:
        out["model"] = model
    return out


def chunk_from_azure(chunk: Mapping[str, Any], model: str | None = None) -> dict[str, Any] | None:
    """A ``chat.completion.chunk``; ``None`` for Azure's annotation-only chunks."""
    if not chunk.get("choices") and not chunk.get("usage"):
        return None
    return from_azure(chunk, model)
