"""Embeddings as the providers serve them: OpenAI's ``/embeddings`` (Azure OpenAI and
OpenAI-compatible servers), Bedrock's InvokeModel bodies of Titan Text Embeddings and Cohere Embed,
Vertex AI's ``:predict`` (text-embedding models) and ``:embedContent`` / ``:batchEmbedContents``
(Gemini embedding models). Requests are checked as the services check them; vectors are
deterministic (the same text, model and size give the same unit vector) so tests can compare them.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from airoute.emulators.replies import word_count

NATIVE = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
          "amazon.titan-embed-text-v1": 1536, "amazon.titan-embed-text-v2": 1024,
          "cohere.embed-english-v3": 1024, "cohere.embed-multilingual-v3": 1024, "cohere.embed-v4": 1536,
          "text-embedding-005": 768, "text-embedding-004": 768, "text-multilingual-embedding-002": 768,
          "gemini-embedding-001": 3072, "multilingual-e5-large": 1024, "bge-m3": 1024}
"""Vector sizes when none is asked for (by model-name prefix); other models give 1536."""
FIXED = ("text-embedding-ada-002", "amazon.titan-embed-text-v1", "cohere.embed-english-v3",
         "cohere.embed-multilingual-v3")
"""Models that cannot shorten their vectors."""
TITAN_V2_SIZES = (256, 512, 1024)
COHERE_V4_SIZES = (256, 512, 1024, 1536)
MAX_OPENAI_INPUTS = 2048
MAX_COHERE_TEXTS = 96


class EmbeddingsError(ValueError):
    """A request the service refuses (400); ``param`` names the field where the API does."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def native_size(model: str) -> int:
    base = model.rsplit("/", 1)[-1]
    return next((size for name, size in NATIVE.items() if base.startswith(name)), 1536)


def vector(text: str, size: int, model: str) -> list[float]:
    """A deterministic unit vector for ``text`` (different models give different vectors)."""
    seed = hashlib.sha256(f"{model}\0{text}".encode()).digest()
    stream = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(math.ceil(size / 16)))
    raw = [int.from_bytes(stream[2 * i:2 * i + 2], "big") / 32767.5 - 1.0 for i in range(size)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def tokens(texts: Sequence[str]) -> int:
    return sum(max(1, word_count(t)) for t in texts)


def _size(model: str, asked: Any, param: str) -> int:
    if asked is None:
        return native_size(model)
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
        raise EmbeddingsError(f"Invalid '{param}': must be a positive integer.", param)
    if model.startswith(FIXED):
        raise EmbeddingsError("This model does not support specifying dimensions.", param)
    if asked > native_size(model):
        raise EmbeddingsError(f"Invalid '{param}': at most {native_size(model)}.", param)
    return int(asked)


# -- OpenAI /embeddings ------------------------------------------------------------------------


def _openai_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_OPENAI_INPUTS:
        raise EmbeddingsError(f"'input' must be a string or an array of 1 to {MAX_OPENAI_INPUTS} items.", "input")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [" ".join(map(str, value))]
    out = []
    for item in value:
        if isinstance(item, str) and item:
            out.append(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            out.append(" ".join(map(str, item)))
        else:
            raise EmbeddingsError("'input' items must be non-empty strings or arrays of token ids.", "input")
    return out


def openai_embeddings(body: Any, model: str) -> dict[str, Any]:
    """The answer of ``POST /embeddings`` (``model``: the one that serves it)."""
    if not isinstance(body, Mapping):
        raise EmbeddingsError("The request body must be a JSON object.")
    texts = _openai_inputs(body.get("input"))
    size = _size(model, body.get("dimensions"), "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise EmbeddingsError("'encoding_format' must be float or base64.", "encoding_format")
    data = []
    for index, text in enumerate(texts):
        values = vector(text, size, model)
        embedding: Any = values
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{size}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    used = tokens(texts)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": used, "total_tokens": used}}


# -- Bedrock InvokeModel -----------------------------------------------------------------------


def is_bedrock_embedder(model: str) -> bool:
    return model.startswith(("amazon.titan-embed-text", "cohere.embed"))


def _titan(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise EmbeddingsError("Malformed input request: #: required key [inputText] not found, please reformat "
                              "your input and try again.")
    v2 = model.startswith("amazon.titan-embed-text-v2")
    allowed = {"inputText"} | ({"dimensions", "normalize", "embeddingTypes"} if v2 else set())
    extra = set(body) - allowed
    if extra:
        raise EmbeddingsError(f"Malformed input request: #: extraneous key [{sorted(extra)[0]}] is not permitted, "
                              "please reformat your input and try again.")
    size = body.get("dimensions", 1024) if v2 else 1536
    if v2 and size not in TITAN_V2_SIZES:
        raise EmbeddingsError(f"Malformed input request: #/dimensions: {size} is not a valid enum value, please "
                              "reformat your input and try again.")
    values = vector(text, size, model)
    return {"embedding": values, "embeddingsByType": {"float": values}, "inputTextTokenCount": tokens([text])}


def _cohere(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or len(texts) > MAX_COHERE_TEXTS or not all(
            isinstance(t, str) for t in texts):
        raise EmbeddingsError(f"Malformed input request: #/texts: expected 1 to {MAX_COHERE_TEXTS} strings.")
    if body.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
        raise EmbeddingsError("Malformed input request: #: required key [input_type] not found or not one of "
                              "search_document, search_query, classification, clustering.")
    v4 = model.startswith("cohere.embed-v4")
    size = native_size(model)
    if v4 and "output_dimension" in body:
        size = body["output_dimension"]
        if size not in COHERE_V4_SIZES:
            raise EmbeddingsError("Malformed input request: #/output_dimension: not one of 256, 512, 1024, 1536.")
    vectors = [vector(t, size, model) for t in texts]
    types = body.get("embedding_types")
    answer: dict[str, Any] = {"id": hashlib.sha256(repr(texts).encode()).hexdigest()[:32], "texts": texts}
    if types is None:
        return answer | {"embeddings": vectors, "response_type": "embeddings_floats"}
    if types != ["float"]:
        raise EmbeddingsError("Malformed input request: #/embedding_types: only [\"float\"] is served here.")
    return answer | {"embeddings": {"float": vectors}, "response_type": "embeddings_by_type"}


def bedrock_invoke(model: str, body: Any) -> tuple[dict[str, Any], int]:
    """The InvokeModel answer of an embedding model, and the input token count (its header)."""
    if not isinstance(body, Mapping):
        raise EmbeddingsError("Malformed input request: the body must be a JSON object.")
    if model.startswith("amazon.titan-embed-text"):
        answer = _titan(model, body)
        return answer, answer["inputTextTokenCount"]
    return _cohere(model, body), tokens(body["texts"]) if isinstance(body.get("texts"), list) else 0


# -- Vertex AI ---------------------------------------------------------------------------------


def _parameter_size(model: str, parameters: Any) -> int:
    asked = parameters.get("outputDimensionality") if isinstance(parameters, Mapping) else None
    return _size(model, asked, "outputDimensionality")


def vertex_predict(model: str, body: Any) -> dict[str, Any]:
    """``:predict`` of a text-embedding model: ``instances[].content`` → ``predictions[].embeddings``."""
    instances = body.get("instances") if isinstance(body, Mapping) else None
    if not isinstance(instances, list) or not instances or len(instances) > 250:
        raise EmbeddingsError("* instances: 1 to 250 instances are required.")
    size = _parameter_size(model, body.get("parameters"))
    predictions = []
    for index, instance in enumerate(instances):
        content = instance.get("content") if isinstance(instance, Mapping) else None
        if not isinstance(content, str) or not content:
            raise EmbeddingsError(f"* instances[{index}].content: a non-empty string is required.")
        predictions.append({"embeddings": {"values": vector(content, size, model), "statistics": {
            "token_count": tokens([content]), "truncated": False}}})
    return {"predictions": predictions, "metadata": {"billableCharacterCount": sum(
        len(i["content"]) for i in instances)}}


def _content_text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, Mapping) else None
    texts = [p["text"] for p in parts or [] if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
    if not texts:
        raise EmbeddingsError(f"* {where}.parts: a text part is required.")
    return " ".join(texts)


def vertex_embed_content(model: str, body: Any) -> dict[str, Any]:
    """``:embedContent`` of a Gemini embedding model (one content)."""
    if not isinstance(body, Mapping):
        raise EmbeddingsError("Invalid JSON payload received.")
    text = _content_text(body.get("content"), "content")
    size = _parameter_size(model, body.get("embedContentConfig"))
    return {"embedding": {"values": vector(text, size, model)},
            "usageMetadata": {"promptTokenCount": tokens([text]), "totalTokenCount": tokens([text])}}


def vertex_batch_embed_contents(model: str, body: Any) -> dict[str, Any]:
    """``:batchEmbedContents`` of a Gemini embedding model."""
    requests = body.get("requests") if isinstance(body, Mapping) else None
    if not isinstance(requests, list) or not requests or len(requests) > 250:
        raise EmbeddingsError("* requests: 1 to 250 requests are required.")
    out = []
    for index, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise EmbeddingsError(f"* requests[{index}]: must be an object.")
        text = _content_text(item.get("content"), f"requests[{index}].content")
        out.append({"values": vector(text, _parameter_size(model, item.get("embedContentConfig")), model)})
    return {"embeddings": out}
