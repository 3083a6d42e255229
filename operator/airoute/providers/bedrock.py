"""Amazon Bedrock's Converse and ConverseStream over the gateway's own pool, SigV4-signed.

``POST /model/{modelId}/converse`` (``/converse-stream``) on ``bedrock-runtime.{region}.amazonaws.com``
or the block's ``endpointURL``; the body is ``translate.openai_to_bedrock.to_converse`` serialized
as botocore serializes it (``json.dumps``, blobs in base64), so it equals what boto3 sends for the
same arguments (``tests/integration/providers/test_bedrock_wire.py``). Credentials and the
signature come from :mod:`~airoute.providers.aws_auth` (botocore's chain; botocore judges the
signature). Errors: the ``x-amzn-ErrorType`` code and the body's ``message``; Bedrock sends no
``Retry-After``. ConverseStream frames are decoded as they arrive
(:mod:`~airoute.providers.eventstream`); an ``exception`` frame inside the stream raises the
error of its type (``in_band``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airoute.api.providers import Bedrock
from airoute.providers.aws_auth import Keys, Signer
from airoute.providers.capabilities import system_prompts
from airoute.providers.errors import (
    AuthFailed,
    BadRequest,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
    error_for_status,
)
from airoute.providers.eventstream import EventStreamDecoder, EventStreamError
from airoute.providers.fastjson import loads
from airoute.providers.http_pool import Pools
from airoute.providers.request import ChatRequest
from airoute.providers.tokens import Refreshing
from airoute.providers.translate.common import completion_id
from airoute.providers.translate.openai_to_bedrock import ConverseStreamTranslator, from_converse, to_converse
from airoute.providers.translating import StreamDecoder, TranslatingCaller, address

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
EVENTSTREAM = "application/vnd.amazon.eventstream"


def _blob(value: Any) -> str:
    """How botocore writes a blob member into a JSON body."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_BOTOCORE_JSON = json.JSONEncoder(default=_blob)
"""``json.dumps(body, default=_blob)`` as one reused encoder (what botocore's serializer writes)."""


def converse_body(request: ChatRequest, with_system: bool = True) -> bytes:
    """The Converse body as boto3 would send it for ``converse(modelId=…, **to_converse(request))``
    (``with_system``: False for a model without a system prompt, see :func:`to_converse`)."""
    return _BOTOCORE_JSON.encode(to_converse(request, system_prompts=with_system)).encode()


def bedrock_error(code: str, message: str, status: int | None, provider: str, *, in_band: bool = False,
                  secrets: tuple[str, ...] = ()) -> ProviderError:
    """The ProviderError of a Bedrock error code (``ThrottlingException``, or ``throttlingException``
    as stream exceptions spell it)."""
    code = code[:1].upper() + code[1:]
    text = f"{code}: {message}" if code else message
    cls = CODES.get(code)
    if cls is None:
        return error_for_status(status or 500, text, provider=provider, code=code or None, in_band=in_band,
                                secrets=secrets)
    return cls(text, provider=provider, status=status, code=code, in_band=in_band, secrets=secrets)


def _error_message(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace").strip() or "no body"
    if isinstance(parsed, dict):
        message = parsed.get("message") or parsed.get("Message")
        if isinstance(message, str):
            return message
    return "no message"


class _ConverseStreamDecoder:
    """Event-stream bytes → ConverseStream events → ``chat.completion.chunk`` objects."""

    def __init__(self, translator: ConverseStreamTranslator, provider: str, secrets: tuple[str, ...]) -> None:
        self._frames = EventStreamDecoder()
        self._translator = translator
        self._provider = provider
        self._secrets = secrets

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        try:
            messages = self._frames.feed(data)
        except EventStreamError as exc:
            raise Unavailable(f"malformed event stream: {exc}", provider=self._provider) from None
        out: list[dict[str, Any]] = []
        for message in messages:
            headers = message.headers
            kind = headers.get(":message-type")
            if kind == "event":
                try:
                    payload = loads(message.payload) if message.payload else {}
                except ValueError:
                    raise Unavailable("malformed event in the stream", provider=self._provider) from None
                out += self._translator.feed({headers.get(":event-type", ""): payload})
            elif kind == "exception":
                raise bedrock_error(headers.get(":exception-type", ""), _error_message(message.payload), None,
                                    self._provider, in_band=True, secrets=self._secrets)
            elif kind == "error":
                raise bedrock_error(headers.get(":error-code", ""), headers.get(":error-message", "stream error"),
                                    None, self._provider, in_band=True, secrets=self._secrets)
        return out

    def close(self) -> None:
        if self._frames.pending:
            raise Unavailable("the stream ended inside an event", provider=self._provider)
        try:
            self._translator.close()
        except Unavailable as exc:
            raise Unavailable(exc.message, provider=self._provider) from None


class BedrockCaller(TranslatingCaller):
    """One Bedrock model (or inference profile) in one region."""

    def __init__(self, name: str, block: Bedrock, keys: Refreshing[Keys], pools: Pools,
                 secrets: tuple[str, ...] = (), credential: str = "") -> None:
        where = address(block.endpoint_url, f"bedrock-runtime.{block.region}.amazonaws.com", credential)
        super().__init__(name, where, pools, secrets)
        self.block = block
        self._system_prompts = system_prompts(block)
        self._keys = keys
        self._signer = Signer(block.region, where.host)
        self._model_path = f"{where.prefix}/model/{quote(block.model_id, safe='')}"

    def wire(self, request: ChatRequest, stream: bool) -> tuple[str, bytes]:
        return (self._model_path + ("/converse-stream" if stream else "/converse"),
                converse_body(request, self._system_prompts))

    async def auth(self, path: str, body: bytes) -> str:
        return self._signer.headers(await self._keys.get(), path, body)

    def _id(self, headers: Mapping[str, str]) -> str:
        return completion_id(headers.get("x-amzn-requestid") or str(time.time_ns()))

    def answer(self, data: bytes, request: ChatRequest) -> dict[str, Any]:
        try:
            response = loads(data)
        except (ValueError, RecursionError):
            response = None
        if not isinstance(response, dict) or not isinstance((response.get("output") or {}).get("message"), Mapping):
            raise Unavailable("malformed answer: no output.message in the Converse response", provider=self.name)
        return from_converse(response, self.block.model_id, completion_id(str(time.time_ns())), int(time.time()))

    def decoder(self, request: ChatRequest, headers: Mapping[str, str]) -> StreamDecoder:
        content_type = headers.get("content-type", "none")
        if not content_type.startswith(EVENTSTREAM):
            raise Unavailable(f"the answer is not an event stream (content-type {content_type[:64]})",
                              provider=self.name)
        translator = ConverseStreamTranslator(self.block.model_id, self._id(headers), int(time.time()),
                                              request.include_usage)
        return _ConverseStreamDecoder(translator, self.name, self._secrets)

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        code = headers.get("x-amzn-errortype", "").split(":", 1)[0]
        return bedrock_error(code, _error_message(body), status, self.name, secrets=self._secrets)

    async def aclose(self) -> None:
        await super().aclose()
        await self._keys.aclose()
