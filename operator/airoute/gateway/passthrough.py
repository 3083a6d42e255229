"""The fast path for OpenAI-compatible backends (``inCluster``, ``openAICompatible``): the
client's body goes upstream as bytes (only ``model`` is spliced in) over a pooled keep-alive
connection, and the answer comes back as bytes — no JSON parsing on either side.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from airoute.api.providers import InCluster, OpenAICompatible, SecretKeyRef
from airoute.gateway.snapshot import SecretData
from airoute.gateway.sniff import Sniffed, with_model
from airoute.gateway.upstream import Pool, UpstreamError
from airoute.providers.errors import ProviderError, Unavailable, error_for_status, retry_after_from


class BindError(ValueError):
    """A backend cannot be called as configured (a Secret or key is missing, a URL is wrong)."""


def secret_value(
    ref: SecretKeyRef, default_key: str, namespace: str, secrets: Mapping[str, SecretData]
) -> bytes:
    """The value of a Secret key in the route's namespace; raises :class:`BindError`."""
    data = secrets.get(f"{namespace}/{ref.name}")
    key = ref.key or default_key
    if data is None:
        raise BindError(
            f"Secret {namespace}/{ref.name} not found (Secrets are read only from the route's namespace, "
            "and only in the namespaces this gateway serves)"
        )
    if key not in data:
        raise BindError(f"Secret {namespace}/{ref.name} has no key {key!r}")
    return data[key]


@dataclass(frozen=True)
class Endpoint:
    """Where a pass-through backend's chat-completions API is and what to send along."""

    host: str
    port: int
    tls: bool
    path: str
    headers: tuple[tuple[str, str], ...]
    model: str
    ca_bundle: str | None = None

    @property
    def origin(self) -> tuple[str, int, bool, str | None]:
        return self.host, self.port, self.tls, self.ca_bundle

    def head(self) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"host: {self.host}:{self.port}",
                 "content-type: application/json", "accept-encoding: identity", "user-agent: airoute-gateway"]
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _bearer(value: bytes) -> tuple[str, str]:
    return "authorization", f"Bearer {value.decode().strip()}"


def in_cluster_endpoint(
    block: InCluster, namespace: str, secrets: Mapping[str, SecretData], service_hosts: Mapping[str, str]
) -> Endpoint:
    """``<service>.<namespace>.svc:<port><pathPrefix>/chat/completions``; ``service_hosts`` maps
    ``<service>.<namespace>`` to ``host:port`` (running outside a cluster, tests, the demo)."""
    svc_ns = block.service.namespace or namespace
    override = service_hosts.get(f"{block.service.name}.{svc_ns}")
    if override:
        host, _, port = override.rpartition(":")
        address = (host.strip("[]"), int(port))
    else:
        address = (f"{block.service.name}.{svc_ns}.svc", block.service.port)
    headers: list[tuple[str, str]] = []
    if block.credentials_secret_ref is not None:
        headers.append(_bearer(secret_value(block.credentials_secret_ref, "token", namespace, secrets)))
    path = f"{block.path_prefix}/chat/completions"
    return Endpoint(address[0], address[1], block.scheme == "https", path, tuple(headers), block.model)


def open_ai_compatible_endpoint(
    block: OpenAICompatible, namespace: str, secrets: Mapping[str, SecretData]
) -> Endpoint:
    url = urlsplit(block.base_url)
    if not url.hostname:
        raise BindError(f"baseURL {block.base_url!r} has no host")
    tls = url.scheme == "https"
    headers: list[tuple[str, str]] = []
    if block.credentials_secret_ref is not None:
        headers.append(_bearer(secret_value(block.credentials_secret_ref, "api-key", namespace, secrets)))
    if block.organization:
        headers.append(("openai-organization", block.organization))
    if block.project:
        headers.append(("openai-project", block.project))
    for extra in block.headers:
        if extra.value_from is not None:
            value = secret_value(extra.value_from, "api-key", namespace, secrets).decode().strip()
        else:
            value = extra.value or ""
        headers.append((extra.name.lower(), value))
    path = url.path.rstrip("/") + "/chat/completions"
    port = url.port or (443 if tls else 80)
    return Endpoint(url.hostname, port, tls, path, tuple(headers), block.model, block.ca_bundle)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_bundle:
        ctx.load_verify_locations(cadata=ca_bundle)
    return ctx


def usage_tokens(data: bytes) -> tuple[int, int]:
    """``prompt_tokens`` and ``completion_tokens`` from a response or chunk, found by a scan."""
    return _int_after(data, b'"prompt_tokens":'), _int_after(data, b'"completion_tokens":')


def _int_after(data: bytes, key: bytes) -> int:
    at = data.rfind(key)
    if at == -1:
        return 0
    i = at + len(key)
    while i < len(data) and data[i] == 0x20:
        i += 1
    j = i
    while j < len(data) and 0x30 <= data[j] <= 0x39:
        j += 1
    return int(data[i:j]) if j > i else 0


_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")


def _looks_like_json_object(data: bytes, headers: Mapping[str, str]) -> bool:
    """A cheap check (no parsing) that a 200 answer is what OpenAI-compatible servers send."""
    body = data.strip()
    return "json" in headers.get("content-type", "") and body[:1] == b"{" and body[-1:] == b"}"


def _message(body: bytes) -> str:
    """The upstream's error message: ``error.message`` of an OpenAI-shaped body, else the text."""
    try:
        parsed = json.loads(body)
        message = parsed["error"]["message"] if isinstance(parsed["error"], dict) else parsed["error"]
        if isinstance(message, str) and message:
            return message[:2000]
    except (ValueError, KeyError, TypeError):
        pass
    text = body[:2000].decode("utf-8", "replace").strip()
    return text or "no body"


class PassThrough:
    """Calls one pass-through backend through a shared connection pool."""

    passthrough = True

    def __init__(self, endpoint: Endpoint, pool: Pool, name: str, secrets: tuple[bytes, ...] = ()) -> None:
        self.endpoint = endpoint
        self.pool = pool
        self.name = name
        self._head = endpoint.head()
        self._secrets = secrets

    def _error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        return error_for_status(status, _message(body), provider=self.name,
                                retry_after=retry_after_from(dict(headers)), secrets=self._secrets)

    def _unavailable(self, exc: UpstreamError) -> ProviderError:
        return Unavailable(str(exc), provider=self.name, secrets=self._secrets)

    def _garbage(self, what: str, headers: Mapping[str, str]) -> ProviderError:
        content_type = headers.get("content-type", "none")
        return Unavailable(f"{what} (content-type {content_type[:64]})", provider=self.name)

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        """The whole answer (JSON bytes) of a non-streaming request; raises ProviderError."""
        try:
            response = await self.pool.request(self._head, with_model(body, sniffed, self.endpoint.model))
            try:
                data = await response.read()
            finally:
                response.release()
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        if response.status != 200:
            raise self._error(response.status, data, response.headers)
        if not _looks_like_json_object(data, response.headers):  # an HTML error page, a cut or empty body …
            raise self._garbage("the answer is not a JSON object", response.headers)
        return data

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        """The answer's SSE bytes as they arrive; raises ProviderError (after the first chunk
        too, when the stream is cut)."""
        try:
            response = await self.pool.request(self._head, with_model(body, sniffed, self.endpoint.model))
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        try:
            if response.status != 200:
                raise self._error(response.status, await response.read(), response.headers)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise self._garbage("the answer is not an event stream", response.headers)
            tail = b""
            async for chunk in response.iter_chunks():
                if not tail and not chunk.lstrip(b"\r\n").startswith(_SSE_FIELDS):
                    raise self._garbage("the answer is not an event stream", response.headers)
                tail = chunk[-64:] if len(chunk) >= 64 else (tail + chunk)[-64:]
                yield chunk
            if b"[DONE]" not in tail:  # ended cleanly but early: the client must not take it for whole
                raise Unavailable("the stream ended before data: [DONE]", provider=self.name)
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        finally:
            response.release()

    async def aclose(self) -> None:
        """Nothing to do: pools are shared and closed by the gateway."""
