"""OpenAI embeddings ⇄ Vertex AI: ``:predict`` for the text-embedding models (``text-embedding-005``,
``text-multilingual-embedding-002`` …), ``:embedContent`` / ``:batchEmbedContents`` for the Gemini
embedding models — the methods and bodies google-genai's ``embed_content`` uses. Pure: dicts in,
dicts out. The route's size goes in ``outputDimensionality``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airoute.providers.embeddings import EmbeddingsRequest
from airoute.providers.errors import BadRequest, ProviderConfigError, Unavailable

PROVIDER = "vertex-ai"
MAX_INSTANCES = 250
SIZES = (("gemini-embedding", 3072), ("text-embedding-00", 768), ("text-multilingual-embedding", 768))
"""The longest vectors each model family returns (shorter ones are asked for)."""


def is_gemini(model: str) -> bool:
    return "gemini" in model


def check_model(model: str, dimensions: int) -> None:
    """Raises ProviderConfigError when the model cannot return ``dimensions``-long vectors."""
    longest = next((size for prefix, size in SIZES if model.startswith(prefix)), None)
    if longest is None:
        raise ProviderConfigError(f"model {model!r} is not an embedding model the gateway calls "
                                  f"({', '.join(p + '*' for p, _ in SIZES)})")
    if dimensions > longest:
        raise ProviderConfigError(f"model {model!r} returns at most {longest} dimensions, not {dimensions}")


def _content(text: str) -> dict[str, Any]:
    return {"parts": [{"text": text}], "role": "user"}


def embed_requests(request: EmbeddingsRequest, model: str, dimensions: int) -> list[tuple[str, dict[str, Any]]]:
    """``(method, body)`` of every call the request needs, in the order of its texts."""
    if request.token_ids:
        raise BadRequest("input: token ids cannot be sent to Vertex AI; send text", provider=PROVIDER, status=400)
    texts = request.texts
    if is_gemini(model):
        config = {"outputDimensionality": dimensions}
        if len(texts) == 1:
            return [("embedContent", {"content": _content(texts[0]), "embedContentConfig": config})]
        return [("batchEmbedContents", {"requests": [{"content": _content(t), "embedContentConfig": config}
                                                     for t in texts[start:start + MAX_INSTANCES]]})
                for start in range(0, len(texts), MAX_INSTANCES)]
    return [("predict", {"instances": [{"content": t} for t in texts[start:start + MAX_INSTANCES]],
                         "parameters": {"outputDimensionality": dimensions}})
            for start in range(0, len(texts), MAX_INSTANCES)]


def _values(embedding: Any) -> list[float]:
    values = embedding.get("values") if isinstance(embedding, Mapping) else None
    if not isinstance(values, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
        raise Unavailable("malformed answer: an embedding has no values", provider=PROVIDER)
    return [float(x) for x in values]


def vectors_of(method: str, answer: Mapping[str, Any]) -> tuple[list[list[float]], int]:
    """The vectors of one answer, and the tokens it reports having read."""
    if method == "embedContent":
        usage = answer.get("usageMetadata")
        tokens = usage.get("promptTokenCount", 0) if isinstance(usage, Mapping) else 0
        return [_values(answer.get("embedding"))], int(tokens)
    if method == "batchEmbedContents":
        found = answer.get("embeddings")
        if not isinstance(found, list):
            raise Unavailable("malformed answer: no embeddings", provider=PROVIDER)
        return [_values(e) for e in found], 0
    predictions = answer.get("predictions")
    if not isinstance(predictions, list):
        raise Unavailable("malformed answer: no predictions", provider=PROVIDER)
    vectors = [_values(p.get("embeddings") if isinstance(p, Mapping) else None) for p in predictions]
    tokens = sum(int(((p.get("embeddings") or {}).get("statistics") or {}).get("token_count", 0))
                 for p in predictions if isinstance(p, Mapping))
    return vectors, tokens
