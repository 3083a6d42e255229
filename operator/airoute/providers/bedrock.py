"""Amazon Bedrock through boto3 ``bedrock-runtime`` Converse / ConverseStream, retries off.

boto3 blocks, so calls run in a bounded thread pool and stream events are relayed to the event
loop through a queue. A client is built per whole-second timeout (botocore's connect and read
timeouts are per client), so a thread never outlives the caller's deadline by more than a second.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airoute.api.providers import Bedrock
from airoute.providers.credentials import Credentials
from airoute.providers.errors import (
    AuthFailed,
    BadRequest,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
    error_for_status,
    retry_after_from,
)
from airoute.providers.request import ChatRequest
from airoute.providers.threads import BlockingRunner
from airoute.providers.translate.common import completion_id
from airoute.providers.translate.openai_to_bedrock import (
    ConverseStreamTranslator,
    from_converse,
    to_converse,
)
from airoute.providers.transport import close_quietly, paced, transport_error, within

CODES: dict[str, type[ProviderError]] = {
    "ThrottlingException": Throttled, "ServiceQuotaExceededException": Throttled,
    "TooManyRequestsException": Throttled, "ModelNotReadyException": Unavailable,
    "ValidationException": BadRequest, "AccessDeniedException": AuthFailed,
    "UnrecognizedClientException": AuthFailed, "InvalidSignatureException": AuthFailed,
    "IncompleteSignatureException": AuthFailed, "ExpiredTokenException": AuthFailed,
    "MissingAuthenticationTokenException": AuthFailed, "ModelTimeoutException": Timeout,
    "ServiceUnavailableException": Unavailable, "InternalServerException": Unavailable,
    "ModelStreamErrorException": Unavailable, "ModelErrorException": Unavailable,
    "ResourceNotFoundException": Unavailable,
}


class BedrockProvider:
    """One Bedrock model (or inference profile) in one region."""

    def __init__(self, name: str, block: Bedrock, credentials: Credentials,
                 max_connections: int = 64) -> None:
        self.name = name
        self.block = block
        self._session_kwargs: Mapping[str, str] = credentials.value or {}
        self._secrets = credentials.secrets
        self._max_connections = max_connections
        self._runner = BlockingRunner(max_connections, f"bedrock-{name}")
        self._clients: dict[int, Any] = {}
        self._lock: asyncio.Lock | None = None

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        kwargs = to_converse(req) | {"modelId": self.block.model_id}
        try:
            client = await self._client(timeout)
            response = await within(self._runner.call(client.converse, **kwargs), timeout,
                                    self.name)
        except Exception as exc:
            raise self._error(exc) from exc
        if not isinstance((response.get("output") or {}).get("message"), Mapping):
            # boto3 reads a 200 with a body that is not JSON (an HTML error page …) as an empty answer
            raise Unavailable("malformed answer: no output.message in the Converse response", provider=self.name)
        return from_converse(response, self.block.model_id, _id(response), int(time.time()))

    async def stream(self, req: ChatRequest, timeout: float,
                     ) -> AsyncIterator[dict[str, Any]]:
        kwargs = to_converse(req) | {"modelId": self.block.model_id}
        try:
            client = await self._client(timeout)
            response = await within(self._runner.call(client.converse_stream, **kwargs),
                                    timeout, self.name)
        except Exception as exc:
            raise self._error(exc) from exc
        events = response["stream"]
        translator = ConverseStreamTranslator(self.block.model_id, _id(response),
                                              int(time.time()), req.include_usage)
        relay = self._runner.relay(events, close=events.close)
        try:
            async for event in paced(relay, timeout, self.name):
                for chunk in translator.feed(event):
                    yield chunk
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            await close_quietly(relay)
        translator.close()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        self._runner.shutdown()

    async def _client(self, limit: float) -> Any:
        seconds = min(max(1, math.ceil(limit)), 900)
        client = self._clients.get(seconds)
        if client is not None:
            return client
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if seconds not in self._clients:
                self._clients[seconds] = await self._runner.call(self._make_client, seconds)
        return self._clients[seconds]

    def _make_client(self, seconds: int) -> Any:
        from botocore.config import Config

        config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=seconds, read_timeout=seconds,
                        max_pool_connections=self._max_connections, tcp_keepalive=True,
                        user_agent_extra="airoute")
        with _SESSION_LOCK:  # boto3 sessions are not thread-safe
            return _shared_session().client(
                "bedrock-runtime", region_name=self.block.region,
                endpoint_url=self.block.endpoint_url, config=config, **self._session_kwargs)

    def _error(self, exc: Exception) -> ProviderError:
        from botocore import exceptions as bx

        if isinstance(exc, bx.ClientError):
            return self._client_error(exc)
        if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectTimeoutError)):
            return Timeout(f"no answer in time ({type(exc).__name__})", provider=self.name)
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                            bx.CredentialRetrievalError)):
            return AuthFailed(f"no usable AWS credentials: {exc}", provider=self.name,
                              secrets=self._secrets)
        if isinstance(exc, bx.ParamValidationError):
            return BadRequest(str(exc), provider=self.name, secrets=self._secrets)
        if isinstance(exc, (bx.HTTPClientError, bx.ConnectionError)):
            return Unavailable(f"{type(exc).__name__}: {exc}", provider=self.name,
                               secrets=self._secrets)
        found = transport_error(exc, self.name, self._secrets)
        if found is not None:
            return found
        if type(exc).__module__.startswith(("urllib3", "botocore")):
            return Unavailable(f"{type(exc).__name__}: {exc}", provider=self.name,
                               secrets=self._secrets)
        raise exc

    def _client_error(self, exc: Any) -> ProviderError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        code = code[:1].upper() + code[1:]  # stream exceptions arrive as "throttlingException"
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0) or None
        message = f"{code}: {error.get('Message') or exc}"
        retry_after = retry_after_from(meta.get("HTTPHeaders", {}))
        cls = CODES.get(code)
        if cls is Throttled:
            return Throttled(message, retry_after=retry_after, provider=self.name, status=status,
                             secrets=self._secrets)
        if cls is not None:
            return cls(message, provider=self.name, status=status, secrets=self._secrets)
        return error_for_status(status or 500, message, provider=self.name,
                                retry_after=retry_after, secrets=self._secrets)


_SESSION_LOCK = threading.Lock()
_SESSION: list[Any] = []


def _shared_session() -> Any:
    """One boto3 session per process: its loaded service models make new clients cheap. Keys
    from a Secret are passed per client; without them the session's default chain applies."""
    if not _SESSION:
        import boto3

        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


def _id(response: Mapping[str, Any]) -> str:
    request_id = str((response.get("ResponseMetadata") or {}).get("RequestId", ""))
    return completion_id(request_id or str(time.time_ns()))
