"""One adapter per AI provider behind one Protocol (:class:`ChatProvider`): Azure OpenAI
(``azure-ai-inference``), Bedrock (``boto3`` Converse), Vertex AI (``google-genai``) and
OpenAI-compatible servers (byte pass-through, :class:`PassThroughProvider`).

Importing this package imports no provider SDK: each is imported when its adapter is built.
"""

from airoute.providers.base import ChatProvider, PassThroughProvider, RawResponse, SecretLookup
from airoute.providers.errors import (
    AuthFailed,
    BadRequest,
    ProviderConfigError,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
    scrub,
)
from airoute.providers.factory import make_provider, service_url
from airoute.providers.request import (
    ChatRequest,
    ForcedTool,
    Message,
    ResponseFormat,
    Tool,
    ToolCall,
)

__all__ = [
    "AuthFailed", "BadRequest", "ChatProvider", "ChatRequest", "ForcedTool", "Message",
    "PassThroughProvider", "ProviderConfigError", "ProviderError", "RawResponse",
    "ResponseFormat", "SecretLookup", "Throttled", "Timeout", "Tool", "ToolCall", "Unavailable",
    "make_provider", "scrub", "service_url",
]
