"""Azure OpenAI through ``azure-ai-inference`` (async ``ChatCompletionsClient``), retries off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from airoute.api.providers import AzureOpenAI
from airoute.providers.credentials import Credentials
from airoute.providers.errors import (
    ProviderError,
    Timeout,
    Unavailable,
    error_for_status,
    retry_after_from,
)
from airoute.providers.request import ChatRequest
from airoute.providers.translate.openai_to_azure import chunk_from_azure, from_azure, to_azure
from airoute.providers.transport import paced, transport_error, within

if TYPE_CHECKING:
    from azure.ai.inference.models import AsyncStreamingChatCompletions, ChatCompletions

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


class AzureOpenAIProvider:
    """One Azure OpenAI deployment."""

    def __init__(self, name: str, block: AzureOpenAI, credentials: Credentials) -> None:
        from azure.ai.inference.aio import ChatCompletionsClient
        from azure.core.credentials import AzureKeyCredential

        self.name = name
        self.block = block
        self._secrets = credentials.secrets
        extra: dict[str, Any] = {}
        if not isinstance(credentials.value, AzureKeyCredential):
            extra["credential_scopes"] = [ENTRA_SCOPE]
        self._client = ChatCompletionsClient(
            endpoint=f"{block.endpoint.rstrip('/')}/openai/deployments/{block.deployment}",
            credential=credentials.value,
            api_version=block.api_version,
            retry_total=0,
            user_agent="airoute",
            **extra,
        )
        self._credential = credentials.value

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        body = to_azure(replace(req, stream=False, include_usage=False))
        try:
            response = await within(self._client.complete(
                body=body, connection_timeout=timeout, read_timeout=timeout), timeout, self.name)
        except Exception as exc:
            raise self._error(exc) from exc
        return from_azure(cast("ChatCompletions", response).as_dict())

    async def stream(self, req: ChatRequest, timeout: float,
                     ) -> AsyncIterator[dict[str, Any]]:
        body = to_azure(replace(req, stream=True))
        try:
            updates = cast("AsyncStreamingChatCompletions", await within(self._client.complete(
                body=body, connection_timeout=timeout, read_timeout=timeout), timeout, self.name))
        except Exception as exc:
            raise self._error(exc) from exc
        finished = False
        try:
            async for update in paced(updates, timeout, self.name):
                chunk = chunk_from_azure(update.as_dict())
                if chunk is None:
                    continue
                finished = finished or any(c.get("finish_reason") for c in chunk["choices"])
                yield chunk
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            await updates.aclose()
        if not finished:
            raise Unavailable("the stream ended before a finish_reason", provider=self.name)

    async def aclose(self) -> None:
        await self._client.close()
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    def _error(self, exc: Exception) -> ProviderError:
        from azure.core.exceptions import (
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
            ServiceResponseTimeoutError,
        )

        found = transport_error(exc, self.name, self._secrets)
        if found is not None:
            return found
        if isinstance(exc, HttpResponseError) and exc.status_code:
            headers = getattr(exc.response, "headers", {})
            return error_for_status(exc.status_code, _message(exc), provider=self.name,
                                    retry_after=retry_after_from(headers), secrets=self._secrets)
        if isinstance(exc, ServiceResponseTimeoutError):
            return Timeout(str(exc), provider=self.name, secrets=self._secrets)
        if isinstance(exc, (ServiceRequestError, ServiceResponseError, HttpResponseError)):
            return Unavailable(f"{type(exc).__name__}: {exc}", provider=self.name,
                               secrets=self._secrets)
        if isinstance(exc, ValueError):  # an answer the SDK could not parse
            return Unavailable(f"malformed answer: {exc}", provider=self.name,
                               secrets=self._secrets)
        raise exc


def _message(exc: Any) -> str:
    """The provider's own message from an Azure error body, else the SDK's."""
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None)
    return str(message or exc.reason or exc.message or "request failed")
