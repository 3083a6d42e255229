"""Embeddings requests read with clear errors, answers built and measured, and the API refusing a
route whose embedding backends would return vectors that cannot stand in for each other."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from airoute.api import InvalidRoute, parse_route
from airoute.providers import BadRequest
from airoute.providers.embedders import embeddings_path
from airoute.providers.embeddings import embeddings_json, parse_embeddings, vector_sizes


def test_inputs_of_every_shape() -> None:
    assert parse_embeddings({"model": "m", "input": "a"}).texts == ("a",)
    assert parse_embeddings({"model": "m", "input": ["a", "b"]}).texts == ("a", "b")
    ids = parse_embeddings({"model": "m", "input": [[1, 2], [3]]})
    assert ids.texts == ("1 2", "3") and ids.token_ids
    extra = parse_embeddings({"model": "m", "input": "a", "input_type": "search_query", "dimensions": 8,
                              "encoding_format": "base64"})
    assert extra.extra == {"input_type": "search_query"} and extra.dimensions == 8 and extra.encoding_format == "base64"


@pytest.mark.parametrize(("body", "message"), [
    ({"input": "a"}, "model: is required"),
    ({"model": "m"}, "input: must be a string or a non-empty array"),
    ({"model": "m", "input": []}, "input: must be a string or a non-empty array"),
    ({"model": "m", "input": ["a", ""]}, "input[1]: must not be empty"),
    ({"model": "m", "input": ["a", {"text": "b"}]}, "input[1]: must be a string or an array of token ids"),
    ({"model": "m", "input": "a", "dimensions": 0}, "dimensions: must be a positive integer"),
    ({"model": "m", "input": "a", "encoding_format": "int8"}, "encoding_format: must be float or base64"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_embeddings(body)


def test_answers_in_float_and_base64_have_the_same_size() -> None:
    floats = embeddings_json([[0.5, -0.25, 1.0]], "m", 3, "float")
    packed = embeddings_json([[0.5, -0.25, 1.0]], "m", 3, "base64")
    assert vector_sizes(floats) == vector_sizes(packed) == {3}
    assert struct.unpack("<3f", base64.b64decode(packed["data"][0]["embedding"])) == (0.5, -0.25, 1.0)
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert vector_sizes({"data": [{"embedding": "not base64!"}]}) == {-1}


@pytest.mark.parametrize(("chat", "embeddings"), [
    ("/v1/chat/completions", "/v1/embeddings"),
    ("/openai/v1/chat/completions", "/openai/v1/embeddings"),
    ("/openai/deployments/d/chat/completions?api-version=2024-10-21",
     "/openai/deployments/d/embeddings?api-version=2024-10-21"),
])
def test_the_embeddings_path_sits_next_to_chat_completions(chat: str, embeddings: str) -> None:
    assert embeddings_path(chat) == embeddings


def route(*embeddings: dict[str, Any] | None) -> dict[str, Any]:
    backends = []
    for i, declared in enumerate(embeddings):
        backend: dict[str, Any] = {"name": f"b{i}", "weight": 50, "openAICompatible": {
            "baseURL": "https://api.openai.com/v1", "model": "text-embedding-3-small"}}
        if declared is not None:
            backend["embeddings"] = declared
        backends.append(backend)
    return {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute", "metadata": {"name": "r", "namespace": "t"},
            "spec": {"model": "r", "backends": backends}}


SMALL = {"family": "text-embedding-3-small", "dimensions": 1536}


def test_a_route_of_one_embedding_model_is_valid() -> None:
    parsed = parse_route(route(SMALL, SMALL))
    assert parsed.spec.embeddings is not None and parsed.spec.embeddings.dimensions == 1536
    assert parse_route(route(None, None)).spec.embeddings is None


@pytest.mark.parametrize(("declared", "message"), [
    ((SMALL, None),
     "either every backend or none sets embeddings (a route serves chat or embeddings) (without it: b1)"),
    ((SMALL, SMALL | {"family": "text-embedding-3-large"}),
     "backends[1].embeddings: every backend must return the same embeddings family and dimensions"),
    ((SMALL, SMALL | {"dimensions": 512}), "b1 returns text-embedding-3-small with 512 dimensions, b0 "
                                           "text-embedding-3-small with 1536"),
])
def test_a_route_that_mixes_embedding_models_is_refused(declared: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidRoute) as found:
        parse_route(route(*declared))
    assert message in str(found.value)
