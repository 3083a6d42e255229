"""The five backend kinds, each a caller built by ``make_caller`` against a fresh emulator, and an
attempt made the way the gateway's failover makes it (test helper)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AzureOpenAI, Bedrock, InCluster, OpenAICompatible, VertexAI
from airoute.emulators import (
    AzureOpenAIEmulator,
    BedrockEmulator,
    EmulatorServer,
    OpenAICompatibleEmulator,
    VertexAIEmulator,
)
from airoute.providers import Caller, Pools, Timeout, make_caller, sniff
from airoute.providers.egress import UpstreamPolicy
from tests.support.sse import SSEDecoder

AZURE_KEY = "azure-key-0123456789abcdef01234567"
AWS_KEY_ID = "AKIAEMULATOR00000001"
AWS_SECRET = "emulator/secret/key/0123456789abcdefghij"
OPENAI_KEY = "sk-emulator-0123456789abcdefghijkl"
CLUSTER_TOKEN = "cluster-token-0123456789"
VERTEX_TOKEN = "ya29.emulator-token"

SECRETS: dict[tuple[str, str], bytes] = {
    ("azure", "api-key"): AZURE_KEY.encode(),
    ("aws", "aws_access_key_id"): AWS_KEY_ID.encode(),
    ("aws", "aws_secret_access_key"): AWS_SECRET.encode(),
    ("openai", "api-key"): OPENAI_KEY.encode(),
    ("vllm", "token"): CLUSTER_TOKEN.encode(),
    ("tenant", "org"): b"org-from-secret",
}


KINDS = ("azure", "bedrock", "vertex", "in_cluster", "openai_compatible")


def emulator_pools(*token_uris: str, ambient: tuple[str, ...] = ("support", "ns", "team")) -> Pools:
    """Pools that may reach the emulators on loopback (the gateway refuses loopback targets unless
    ``--allow-internal-upstreams``), with the emulators' token URIs and the tests' namespaces
    allowed ambient identity."""
    return Pools(UpstreamPolicy.for_emulators(token_uris, ambient))


def lookup(name: str, key: str) -> bytes | None:
    return SECRETS.get((name, key))


@dataclass
class Backend:
    """A caller and the emulator behind it; :meth:`complete` and :meth:`stream` are attempts."""

    kind: str
    emulator: EmulatorServer
    caller: Caller
    model: str
    secrets: tuple[str, ...]
    pools: Pools = field(default_factory=emulator_pools)

    def count(self, **filters: Any) -> int:
        return self.emulator.stats.count(**filters)

    async def complete(self, body: dict[str, Any], seconds: float = 5.0) -> dict[str, Any]:
        """One non-streaming attempt with a budget of ``seconds``; the answer parsed."""
        raw = json.dumps(body).encode()
        async with attempt(seconds):
            answer: dict[str, Any] = json.loads(await self.caller.complete(raw, sniff(raw)))
        return answer

    async def stream(self, body: dict[str, Any], seconds: float = 5.0,
                     into: list[dict[str, Any]] | None = None, annotations: bool = False) -> list[dict[str, Any]]:
        """One streaming attempt: the chunks, in order, until ``[DONE]`` (which must come last).
        Azure's annotation-only chunk (``prompt_filter_results``, no choices) is left out unless
        ``annotations``."""
        raw = json.dumps(body | {"stream": True}).encode()
        chunks = [] if into is None else into
        decoder, done = SSEDecoder(), False
        async with attempt(seconds):
            async for piece in self.caller.stream(raw, sniff(raw)):
                for event in decoder.feed(piece):
                    assert not done, "nothing follows data: [DONE]"
                    done = event == "[DONE]"
                    chunk = {} if done else json.loads(event)
                    if chunk and (annotations or chunk.get("object") or "prompt_filter_results" not in chunk):
                        chunks.append(chunk)
        assert done, "a stream that ends without an error ends with data: [DONE]"
        return chunks

    async def aclose(self) -> None:
        await self.caller.aclose()
        await self.pools.aclose()


@contextlib.asynccontextmanager
async def attempt(seconds: float) -> AsyncIterator[None]:
    """The deadline of one attempt, as the gateway's failover sets it: the caller is cancelled
    when it runs out, and that is a :class:`Timeout`."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise Timeout(f"no complete answer within {seconds:g}s") from None


def _static_google_credentials() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token=VERTEX_TOKEN)  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def backend_of(kind: str, model: str | None = None) -> AsyncIterator[Backend]:
    """:func:`build_backend`, closed (caller, pools, emulator) when the block ends."""
    built = await build_backend(kind, model)
    try:
        yield built
    finally:
        await built.aclose()
        await built.emulator.stop()


async def call_once(kind: str, block: Any, request: dict[str, Any], **options: Any) -> bytes:
    """One request through a fresh caller of ``block`` (model ``support-chat``): the whole answer,
    or every piece of a stream joined."""
    pools = emulator_pools()
    caller = make_caller(f"{kind}-backend", kind, block, lookup, "support", pools=pools, **options)
    raw = json.dumps({"model": "support-chat", **request}).encode()
    try:
        if request.get("stream"):
            return b"".join([piece async for piece in caller.stream(raw, sniff(raw))])
        return await caller.complete(raw, sniff(raw))
    finally:
        await caller.aclose()
        await pools.aclose()


async def build_backend(kind: str, model: str | None = None) -> Backend:
    """Start the emulator of ``kind`` and build its caller; ``model`` replaces the Bedrock or
    Vertex AI model."""
    pools = emulator_pools()

    def make(backend: str, provider_kind: str, block: Any, **options: Any) -> Caller:
        return make_caller(backend, provider_kind, block, lookup, "support", pools=pools, **options)

    if kind == "azure":
        emulator: EmulatorServer = AzureOpenAIEmulator(api_key=AZURE_KEY)
        url = await emulator.start()
        block: Any = AzureOpenAI(endpoint=url, deployment="gpt-4o", region="westeurope",
                                 insecure=True, credentials_secret_ref={"name": "azure"})
        caller = make("azure-eu", "azureOpenAI", block)
        return Backend(kind, emulator, caller, "gpt-4o", (AZURE_KEY,), pools)
    if kind == "bedrock":
        emulator = BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                                   region="eu-central-1")
        url = await emulator.start()
        model = model or "anthropic.claude-3-5-sonnet-20240620-v1:0"
        block = Bedrock(region="eu-central-1", model_id=model, endpoint_url=url, insecure=True,
                        credentials_secret_ref={"name": "aws"})
        caller = make("bedrock-eu", "bedrock", block)
        return Backend(kind, emulator, caller, model, (AWS_KEY_ID, AWS_SECRET), pools)
    if kind == "vertex":
        emulator = VertexAIEmulator(access_token=VERTEX_TOKEN)
        url = await emulator.start()
        model = model or "gemini-1.5-pro-002"
        block = VertexAI(project="acme-prod", location="europe-west4", model=model, endpoint_url=url, insecure=True)
        caller = make("vertex-eu", "vertexAI", block, google_credentials=_static_google_credentials())
        return Backend(kind, emulator, caller, model, (VERTEX_TOKEN,), pools)
    if kind == "in_cluster":
        emulator = OpenAICompatibleEmulator(api_key=CLUSTER_TOKEN, provider_name="vllm")
        url = await emulator.start()
        block = InCluster(service={"name": "vllm-llama", "namespace": "models", "port": 8000},
                          model="meta-llama/Llama-3.1-8B-Instruct",
                          credentials_secret_ref={"name": "vllm"})
        address = url.removeprefix("http://")
        caller = make("local-llama", "inCluster", block, service_hosts={"vllm-llama.models": address})
        return Backend(kind, emulator, caller, block.model, (CLUSTER_TOKEN,), pools)
    assert kind == "openai_compatible"
    emulator = OpenAICompatibleEmulator(api_key=OPENAI_KEY)
    url = await emulator.start()
    block = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini", insecure=True,
                             credentials_secret_ref={"name": "openai"}, organization="org-acme",
                             headers=[{"name": "X-Tenant", "valueFrom": {"name": "tenant",
                                                                           "key": "org"}}])
    caller = make("openai", "openAICompatible", block)
    return Backend(kind, emulator, caller, "gpt-4o-mini", (OPENAI_KEY,), pools)
