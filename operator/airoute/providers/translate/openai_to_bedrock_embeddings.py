"""OpenAI embeddings ⇄ Bedrock InvokeModel of the embedding models: Amazon Titan Text Embeddings
(v1: 1536 dimensions; v2: 256, 512 or 1024, normalized) and Cohere Embed (v3: 1024, 384 for the
light models; v4: 256 to 1536). Pure: dicts in, dicts out.

Titan takes one text per call, Cohere up to 96: :func:`invoke_bodies` gives every body the request
needs, :func:`vectors_of` reads the vectors back from the answers in the same order. Cohere's
``input_type`` is ``search_document`` unless the request says ``input_type`` (Cohere's own name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airoute.providers.capabilities import base_model_id
from airoute.providers.embeddings import EmbeddingsRequest
from airoute.providers.errors import BadRequest, ProviderConfigError, Unavailable

PROVIDER = "bedrock"
COHERE_BATCH = 96
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
SIZES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("amazon.titan-embed-text-v2", (256, 512, 1024)),
    ("amazon.titan-embed-text-v1", (1536,)),
    ("amazon.titan-embed-g1-text", (1536,)),
    ("cohere.embed-english-light-v3", (384,)),
    ("cohere.embed-multilingual-light-v3", (384,)),
    ("cohere.embed-english-v3", (1024,)),
    ("cohere.embed-multilingual-v3", (1024,)),
    ("cohere.embed-v4", (256, 512, 1024, 1536)),
)
"""The vector sizes each embedding model family can return (by base model ID prefix)."""


def sizes(model_id: str) -> tuple[int, ...] | None:
    """The sizes the model can return; None: not an embedding model the gateway can call."""
    base = base_model_id(model_id)
    return next((found for prefix, found in SIZES if base.startswith(prefix)), None)


def check_model(model_id: str, dimensions: int) -> None:
    """Raises ProviderConfigError when the model cannot return ``dimensions``-long vectors."""
    found = sizes(model_id)
    if found is None:
        raise ProviderConfigError(f"modelId {model_id!r} is not an embedding model the gateway calls "
                                  f"({', '.join(p for p, _ in SIZES)})")
    if dimensions not in found:
        raise ProviderConfigError(f"modelId {model_id!r} returns vectors of {', '.join(map(str, found))} "
                                  f"dimensions, not {dimensions}")


def _titan(model: str, text: str, dimensions: int) -> dict[str, Any]:
    if model.startswith("amazon.titan-embed-text-v2"):
        return {"inputText": text, "dimensions": dimensions, "normalize": True}
    return {"inputText": text}


def invoke_bodies(request: EmbeddingsRequest, model_id: str, dimensions: int) -> list[dict[str, Any]]:
    """The InvokeModel bodies for the request's texts, in order."""
    if request.token_ids:
        raise BadRequest("input: token ids cannot be sent to Bedrock; send text", provider=PROVIDER, status=400)
    model = base_model_id(model_id)
    if model.startswith("amazon."):
        return [_titan(model, text, dimensions) for text in request.texts]
    input_type = request.extra.get("input_type", "search_document")
    if input_type not in INPUT_TYPES:
        raise BadRequest(f"input_type: must be one of {', '.join(INPUT_TYPES)}", provider=PROVIDER, status=400)
    bodies = []
    for start in range(0, len(request.texts), COHERE_BATCH):
        body: dict[str, Any] = {"texts": list(request.texts[start:start + COHERE_BATCH]), "input_type": input_type,
                                "embedding_types": ["float"]}
        if model.startswith("cohere.embed-v4"):
            body["output_dimension"] = dimensions
        bodies.append(body)
    return bodies


def _floats(value: Any) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise Unavailable("malformed answer: an embedding is not an array of numbers", provider=PROVIDER)
    return [float(x) for x in value]


def vectors_of(model_id: str, answers: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    """The vectors of the InvokeModel answers, in the order of the texts."""
    if base_model_id(model_id).startswith("amazon."):
        return [_floats(answer.get("embedding")) for answer in answers]
    vectors: list[list[float]] = []
    for answer in answers:
        found = answer.get("embeddings")
        if isinstance(found, Mapping):
            found = found.get("float")
        if not isinstance(found, list):
            raise Unavailable("malformed answer: no embeddings in the Cohere answer", provider=PROVIDER)
        vectors += [_floats(v) for v in found]
    return vectors
