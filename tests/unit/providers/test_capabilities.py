"""The capability declarations: model families found from model IDs, and every declaration true to
the translation — what a kind can never take its translator refuses, what a family takes its
translator expresses; every stop reason the SDKs list has a finish reason."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from airoute.api.providers import AzureOpenAI, Bedrock, InCluster, VertexAI
from airoute.providers import BadRequest
from airoute.providers.capabilities import (
    BEDROCK_FAMILIES,
    BEDROCK_NEVER,
    FEATURES,
    VERTEX_FAMILIES,
    VERTEX_NEVER,
    Feature,
    base_model_id,
    capabilities_of,
    declarations,
    features_in,
    system_prompts,
)
from airoute.providers.needs import needs_of
from airoute.providers.translate import openai_to_bedrock, openai_to_vertex

F = Feature
PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg==")
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def with_part(part: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"}, part]}]}


EXAMPLES: dict[Feature, dict[str, Any]] = {
    F.IMAGE_DATA: with_part({"type": "image_url", "image_url": {"url": PNG}}),
    F.IMAGE_URL: with_part({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}),
    F.AUDIO: with_part({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}),
    F.FILE: with_part({"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}}),
    F.TOOLS: {"tools": [TOOL]},
    F.TOOLS_STREAM: {"tools": [TOOL], "stream": True},
    F.TOOL_CHOICE: {"tools": [TOOL], "tool_choice": "required"},
    F.STRICT_TOOLS: {"tools": [{"type": "function", "function": TOOL["function"] | {"strict": True}}]},
    F.SERIAL_TOOLS: {"tools": [TOOL], "parallel_tool_calls": False},
    F.JSON_MODE: {"response_format": {"type": "json_object"}},
    F.JSON_SCHEMA: {"response_format": {"type": "json_schema",
                                        "json_schema": {"name": "s", "schema": {"type": "object"}}}},
    F.CHOICES: {"n": 2},
    F.SEED: {"seed": 7},
    F.LOGPROBS: {"logprobs": True},
    F.LOGIT_BIAS: {"logit_bias": {"1": 5}},
    F.PENALTIES: {"frequency_penalty": 0.5},
    F.HOT_TEMPERATURE: {"temperature": 1.5},
    F.OPENAI_PARAMS: {"reasoning_effort": "low"},
}
TRANSLATORS = {"bedrock": openai_to_bedrock.to_converse, "vertexAI": openai_to_vertex.to_generate_content}
NEVER = {"bedrock": BEDROCK_NEVER, "vertexAI": VERTEX_NEVER}
FAMILIES = {"bedrock": BEDROCK_FAMILIES, "vertexAI": VERTEX_FAMILIES}


def example(feature: Feature) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}]} | EXAMPLES[feature]


def test_every_feature_has_an_example_that_needs_it() -> None:
    assert set(EXAMPLES) == set(FEATURES)
    for feature in FEATURES:
        assert feature in features_in(needs_of(example(feature)).mask), feature


@pytest.mark.parametrize(("model_id", "base"), [
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("us-gov.meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
    ("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ("arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-text-premier-v1:0", "amazon.titan-text-premier-v1:0"),
    ("arn:aws:bedrock:eu-west-1:123456789012:provisioned-model/abc123", "abc123"),
])
def test_bedrock_model_ids_lose_their_arn_and_profile_prefix(model_id: str, base: str) -> None:
    assert base_model_id(model_id) == base


@pytest.mark.parametrize(("model_id", "family"), [
    ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "Anthropic Claude Sonnet 4.5, Haiku 4.5, Opus 4.5 / 4.6"),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "Anthropic Claude 3.5 Haiku"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Anthropic Claude 3, 3.5 Sonnet, 3.7, 4"),
    ("anthropic.claude-sonnet-4-20250514-v1:0", "Anthropic Claude 3, 3.5 Sonnet, 3.7, 4"),
    ("amazon.nova-micro-v1:0", "Amazon Nova Micro"),
    ("us.amazon.nova-lite-v1:0", "Amazon Nova Lite, Pro, Premier"),
    ("meta.llama3-2-90b-instruct-v1:0", "Meta Llama 3.2 11B / 90B, Llama 4"),
    ("meta.llama3-2-3b-instruct-v1:0", "Meta Llama 3.1, 3.2 1B / 3B, 3.3"),
    ("arn:aws:bedrock:eu-west-1:123456789012:provisioned-model/abc123", "other models"),
])
def test_bedrock_families(model_id: str, family: str) -> None:
    block = Bedrock(region="eu-central-1", model_id=model_id)
    assert capabilities_of("bedrock", block).family == family


def test_kinds_without_families() -> None:
    azure = AzureOpenAI(endpoint="https://a.openai.azure.com", deployment="d", region="westeurope")
    assert capabilities_of("azureOpenAI", azure).refuses == 0
    local = InCluster(service={"name": "vllm"}, model="m")
    assert capabilities_of("inCluster", local).refuses == 0
    gemini = VertexAI(project="acme-ai", location="europe-west4", model="gemini-2.5-pro")
    assert capabilities_of("vertexAI", gemini).family == "Gemini"


def test_only_titan_and_early_mistral_have_no_system_prompt() -> None:
    assert not system_prompts(Bedrock(region="eu-central-1", model_id="amazon.titan-text-express-v1"))
    assert not system_prompts(Bedrock(region="eu-central-1", model_id="mistral.mixtral-8x7b-instruct-v0:1"))
    assert system_prompts(Bedrock(region="eu-central-1", model_id="mistral.mistral-large-2407-v1:0"))


def test_a_feature_is_either_taken_or_refused_never_both() -> None:
    for declaration in declarations():
        assert declaration.takes & declaration.refuses == 0, declaration


@pytest.mark.parametrize("kind", ["bedrock", "vertexAI"])
def test_what_a_kind_can_never_take_its_translator_refuses(kind: str) -> None:
    for feature in NEVER[kind]:
        with pytest.raises(BadRequest):
            TRANSLATORS[kind](example(feature))


@pytest.mark.parametrize("kind", ["bedrock", "vertexAI"])
def test_what_a_family_takes_its_translator_expresses(kind: str) -> None:
    taken = {feature for family in FAMILIES[kind] for feature in family.takes}
    for feature in taken:
        assert TRANSLATORS[kind](example(feature))["contents" if kind == "vertexAI" else "messages"], feature


def _botocore_stop_reasons() -> set[str]:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return set(model.shape_for("StopReason").enum)


def test_every_bedrock_stop_reason_has_a_finish_reason() -> None:
    assert set(openai_to_bedrock.FINISH) == _botocore_stop_reasons()
    assert openai_to_bedrock.FINISH["model_context_window_exceeded"] == "length"


def test_every_gemini_finish_reason_has_a_finish_reason() -> None:
    from google.genai import types

    assert set(openai_to_vertex.FINISH) == {reason.value for reason in types.FinishReason}
    assert set(openai_to_vertex.FINISH.values()) <= {"stop", "length", "content_filter"}


def test_the_provider_pages_carry_the_current_matrix() -> None:
    from tests.support.paths import REPO_ROOT

    from airoute.providers.capability_matrix import stale_pages

    assert stale_pages(REPO_ROOT / "docs" / "providers") == [], "run make crd (it regenerates the matrices)"
