"""OpenAI embeddings requests and answers: the one shape the embedding translators start from and
end in, and the check every answer passes before a client sees it — its vectors have the route's
size (vectors of another size are another model's, or a misconfigured backend's).

The request is ``{"model", "input": str | [str] | [int] | [[int]], "dimensions"?, "encoding_format"?:
"float" | "base64", "user"?}``; the answer ``{"object": "list", "data": [{"object": "embedding",
"index", "embedding": [float] | "<base64 of little-endian float32>"}], "model", "usage":
{"prompt_tokens", "total_tokens"}}``. OpenAI's own client asks for base64 unless told otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airoute.providers.errors import BadRequest

Encoding = Literal["float", "base64"]
MODELED = frozenset({"model", "input", "dimensions", "encoding_format", "user"})


def _bad(path: str, problem: str) -> BadRequest:
    return BadRequest(f"{path}: {problem}", status=400)


@dataclass(frozen=True)
class EmbeddingsRequest:
    """``texts``: the inputs as text; ``token_ids``: they were given as token ids (only a backend
    that speaks OpenAI's API takes those); ``extra``: fields not modelled here."""

    model: str
    texts: tuple[str, ...]
    token_ids: bool = False
    dimensions: int | None = None
    encoding_format: Encoding = "float"
    user: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _inputs(value: Any) -> tuple[tuple[str, ...], bool]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _bad("input", "must be a string or a non-empty array")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return (" ".join(map(str, value)),), True
    texts = []
    ids = False
    for index, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise _bad(f"input[{index}]", "must not be empty")
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            texts.append(" ".join(map(str, item)))
            ids = True
        else:
            raise _bad(f"input[{index}]", "must be a string or an array of token ids")
    return tuple(texts), ids


def parse_embeddings(body: Mapping[str, Any] | bytes) -> EmbeddingsRequest:
    """The request; a field that is wrong is a :class:`BadRequest` naming it."""
    if isinstance(body, bytes):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            raise BadRequest("the body is not valid JSON", status=400) from None
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", status=400)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "is required")
    texts, ids = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise _bad("dimensions", "must be a positive integer")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _bad("encoding_format", "must be float or base64")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("user", "must be a string")
    return EmbeddingsRequest(model, texts, ids, dimensions, encoding, user,
                             {k: v for k, v in body.items() if k not in MODELED})


def encode(values: Sequence[float], encoding: Encoding) -> list[float] | str:
    if encoding == "float":
        return list(values)
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def embeddings_json(vectors: Sequence[Sequence[float]], model: str, prompt_tokens: int,
                    encoding: Encoding) -> dict[str, Any]:
    """The OpenAI answer for ``vectors`` (in input order)."""
    data = [{"object": "embedding", "index": i, "embedding": encode(v, encoding)} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def vector_sizes(answer: Mapping[str, Any]) -> set[int]:
    """The sizes of the vectors of an OpenAI answer (float arrays or base64 of float32)."""
    sizes = set()
    for item in answer.get("data") or ():
        embedding = item.get("embedding") if isinstance(item, Mapping) else None
        if isinstance(embedding, list):
            sizes.add(len(embedding))
        elif isinstance(embedding, str):
            try:
                sizes.add(len(base64.b64decode(embedding, validate=True)) // 4)
            except (ValueError, binascii.Error):
                sizes.add(-1)
        else:
            sizes.add(-1)
    return sizes
