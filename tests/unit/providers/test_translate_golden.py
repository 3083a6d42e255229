"""Translation against golden JSON files: ``golden/<provider>/<case>.json`` holds an input, the
exact output expected and, optionally, ``options`` (keyword arguments of the translation).
``AIROUTE_UPDATE_GOLDEN=1 pytest …`` rewrites the outputs (review the diff before committing)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airoute.providers.embeddings import parse_embeddings
from airoute.providers.translate import (
    openai_to_bedrock,
    openai_to_bedrock_embeddings,
    openai_to_vertex,
    openai_to_vertex_embeddings,
)

GOLDEN = Path(__file__).parent / "golden"
MODEL, ID, CREATED = "test-model", "chatcmpl-test", 1_700_000_000


def _bedrock_stream(events: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    translator = openai_to_bedrock.ConverseStreamTranslator(MODEL, ID, CREATED, True, **options)
    chunks = [chunk for event in events for chunk in translator.feed(event)]
    translator.close()
    return chunks


def _vertex_stream(responses: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    translator = openai_to_vertex.GenerateContentStreamTranslator(MODEL, ID, CREATED, True, **options)
    chunks = [chunk for response in responses for chunk in translator.feed(response)]
    translator.close()
    return chunks


TRANSLATE: dict[tuple[str, str], Callable[..., Any]] = {
    ("bedrock", "request"): openai_to_bedrock.to_converse,
    ("bedrock", "response"): lambda r, **o: openai_to_bedrock.from_converse(r, MODEL, ID, CREATED, **o),
    ("bedrock", "stream"): _bedrock_stream,
    ("vertex", "request"): openai_to_vertex.to_generate_content,
    ("vertex", "response"): lambda r, **o: openai_to_vertex.from_generate_content(r, MODEL, ID, CREATED, **o),
    ("vertex", "stream"): _vertex_stream,
    ("bedrock-embeddings", "request"): lambda r, model, dimensions: openai_to_bedrock_embeddings.invoke_bodies(
        parse_embeddings(r), model, dimensions),
    ("bedrock-embeddings", "response"): lambda answers, model: openai_to_bedrock_embeddings.vectors_of(model, answers),
    ("vertex-embeddings", "request"): lambda r, model, dimensions: openai_to_vertex_embeddings.embed_requests(
        parse_embeddings(r), model, dimensions),
    ("vertex-embeddings", "response"): lambda answers, method: openai_to_vertex_embeddings.vectors_of(method, answers),
}
CASES = sorted(GOLDEN.glob("*/*.json"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text())
    direction = path.stem.split("_", 1)[0]
    translate = TRANSLATE[(path.parent.name, direction)]
    actual = json.loads(json.dumps(translate(case["input"], **case.get("options", {}))))
    if os.environ.get("AIROUTE_UPDATE_GOLDEN"):
        case["output"] = actual
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")
    assert actual == case["output"]


def test_every_pair_has_golden_cases() -> None:
    covered = {(p.parent.name, p.stem.split("_", 1)[0]) for p in CASES}
    assert covered == set(TRANSLATE)
