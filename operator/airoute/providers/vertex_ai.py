"""Vertex AI through the Google Gen AI client (``google.genai``, ``vertexai=True``), retries off.

The translator produces the REST body; its parts map one to one onto the SDK's
``generate_content(model, contents, config)`` (the config holds generation settings, the system
instruction, tools and the tool config), and the SDK's answer is read back in its REST form.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airoute.api.providers import VertexAI
from airoute.providers.credentials import Credentials
from airoute.providers.errors import (
    AuthFailed,
    ProviderError,
    Unavailable,
    error_for_status,
    retry_after_from,
)
from airoute.providers.request import ChatRequest
from airoute.providers.translate.common import completion_id
from airoute.providers.translate.openai_to_vertex import (
    GenerateContentStreamTranslator,
    from_generate_content,
    to_generate_content,
)
from airoute.providers.transport import close_quietly, paced, transport_error, within


class VertexAIProvider:
    """One publisher model in one Vertex AI project and location."""

    def __init__(self, name: str, block: VertexAI, credentials: Credentials) -> None:
        from google import genai
        from google.genai import types

        self.name = name
        self.block = block
        self._secrets = credentials.secrets
        self._types = types
        options = types.HttpOptions(
            base_url=block.endpoint_url, api_version="v1",
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(vertexai=True, project=block.project,
                                    location=block.location, credentials=credentials.value,
                                    http_options=options)

    def _arguments(self, req: ChatRequest, timeout: float | None) -> dict[str, Any]:
        """SDK arguments; ``timeout`` bounds the whole HTTP exchange (None for streams, which
        are bounded chunk by chunk instead)."""
        wire = to_generate_content(req)
        config: dict[str, Any] = dict(wire.get("generationConfig", {}))
        for key in ("systemInstruction", "tools", "toolConfig"):
            if key in wire:
                config[key] = wire[key]
        if timeout is not None:
            config["httpOptions"] = {"timeout": max(1, round(timeout * 1000))}
        config["automaticFunctionCalling"] = {"disable": True}
        return {"model": self.block.model, "contents": wire["contents"],
                "config": self._types.GenerateContentConfig.model_validate(config)}

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        arguments = self._arguments(req, timeout)
        try:
            response = await within(self._client.aio.models.generate_content(**arguments),
                                    timeout, self.name)
        except Exception as exc:
            raise self._error(exc) from exc
        wire = response.model_dump(mode="json", by_alias=True, exclude_none=True)
        if "candidates" not in wire and "promptFeedback" not in wire:  # an empty or foreign body, not a refusal
            raise Unavailable("malformed answer: neither candidates nor promptFeedback", provider=self.name)
        return from_generate_content(wire, self.block.model, _id(wire), int(time.time()))

    async def stream(self, req: ChatRequest, timeout: float,
                     ) -> AsyncIterator[dict[str, Any]]:
        arguments = self._arguments(req, None)
        try:
            responses = await within(
                self._client.aio.models.generate_content_stream(**arguments), timeout, self.name)
        except Exception as exc:
            raise self._error(exc) from exc
        translator: GenerateContentStreamTranslator | None = None
        try:
            async for response in paced(responses, timeout, self.name):
                wire = response.model_dump(mode="json", by_alias=True, exclude_none=True)
                if translator is None:
                    translator = GenerateContentStreamTranslator(
                        self.block.model, _id(wire), int(time.time()), req.include_usage, req.n or 1)
                for chunk in translator.feed(wire):
                    yield chunk
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            await close_quietly(responses)
        if translator is None:
            raise Unavailable("the stream ended before any chunk", provider=self.name)
        translator.close()

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    def _error(self, exc: Exception) -> ProviderError:
        from google.auth import exceptions as auth_errors
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            headers = getattr(getattr(exc, "response", None), "headers", {})
            message = f"{exc.status or exc.code}: {exc.message or exc}"
            return error_for_status(int(exc.code), message, provider=self.name,
                                    retry_after=retry_after_from(headers), secrets=self._secrets)
        if isinstance(exc, (auth_errors.RefreshError, auth_errors.DefaultCredentialsError)):
            return AuthFailed(f"cannot get a Google access token: {exc}", provider=self.name,
                              secrets=self._secrets)
        if isinstance(exc, auth_errors.TransportError):
            return Unavailable(f"token endpoint unreachable: {exc}", provider=self.name,
                               secrets=self._secrets)
        found = transport_error(exc, self.name, self._secrets)
        if found is not None:
            return found
        if isinstance(exc, errors.UnknownApiResponseError):
            return Unavailable(f"malformed answer: {exc}", provider=self.name,
                               secrets=self._secrets)
        if isinstance(exc, ValueError):  # an answer the SDK could not parse (not JSON, wrong shape)
            return Unavailable(f"malformed answer: {type(exc).__name__}", provider=self.name)
        raise exc


def _id(wire: dict[str, Any]) -> str:
    return completion_id(str(wire.get("responseId") or time.time_ns()))
