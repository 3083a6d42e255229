"""One caller per backend kind behind one Protocol (:class:`Caller`), built by one factory
(:func:`make_caller`), over one async HTTP/1.1 pool (:class:`Pools`).

========================  =====================================================================
``caller.py``             the Protocol: OpenAI body bytes in, OpenAI bytes out
``factory.py``            provider block + Secret values → the caller of its kind
``openai_format.py``      inCluster, openAICompatible and Azure OpenAI: bytes relayed over the pool
``translating.py``        the callers of translated APIs over the pool: parse, translate, send, translate back
``bedrock.py``            Bedrock Converse/ConverseStream (``aws_auth.py``: SigV4; ``eventstream.py``: frames)
``vertex_ai.py``          Vertex AI generateContent, streamed as SSE
``http_pool.py``          the keep-alive HTTP/1.1 client, one pool per origin
``tokens.py``             short-lived credentials fetched in a thread, refreshed ahead of expiry
``translate/``            pure request/answer translation, one file per provider pair
``credentials.py``        credentials from Secrets or the workload's identity
``sniff.py``              ``model``/``stream`` of a request and usage of an answer, read by a scan
``request.py``            the parsed request the translating callers translate from
``request_codec.py``      JSON ⇄ :class:`ChatRequest`
``errors.py``             what can go wrong, in the terms the gateway acts on; scrubbing
========================  =====================================================================

Importing this package imports no provider library (botocore, google-auth, azure-identity): each
is imported when the first backend that needs it is built. No provider SDK runs on the request
path; the SDKs judge the wire format in the tests.
"""

from airoute.providers.caller import Caller
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
from airoute.providers.factory import make_caller
from airoute.providers.http_pool import Pools
from airoute.providers.request import ChatRequest, ForcedTool, Message, ResponseFormat, Tool, ToolCall
from airoute.providers.request_codec import parse_request, request_to_openai
from airoute.providers.sniff import Sniffed, SniffError, sniff

__all__ = [
    "AuthFailed", "BadRequest", "Caller", "ChatRequest", "ForcedTool", "Message", "Pools",
    "ProviderConfigError", "ProviderError", "ResponseFormat", "SniffError", "Sniffed", "Throttled",
    "Timeout", "Tool", "ToolCall", "Unavailable", "make_caller", "parse_request", "request_to_openai",
    "scrub", "sniff",
]
