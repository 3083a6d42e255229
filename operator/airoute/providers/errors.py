"""What can go wrong when calling a provider, in the terms the gateway acts on.

``Unavailable``, ``Throttled`` and ``Timeout`` are worth retrying on another backend;
``BadRequest`` is the client's fault and never retried; ``AuthFailed`` means this backend's
credentials are wrong: the next backend is tried, and the failures count towards ejecting this
one (the failover policy, :mod:`airoute.gateway.failover.policy`, decides).

Every message is scrubbed of secrets first and shortened after (a secret cut in half by the
shortening would escape the scrubbing otherwise): ``message`` (at most :data:`MAX_MESSAGE`
characters) is what a client may read, ``detail`` (at most :data:`MAX_DETAIL`) is for the log.
The provider's own error ``code`` and ``param`` (Azure's ``content_filter``,
``context_length_exceeded``, Bedrock's ``ThrottlingException``, Vertex's ``RESOURCE_EXHAUSTED``)
are kept as fields, and so is what a 429 said about when to come back
(:attr:`Throttled.retry_after`, :attr:`Throttled.resets`); ``in_band`` marks an error reported
inside a stream that had begun with a 200.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
MAX_MESSAGE = 400
"""Longest message a client reads (scrubbed, then shortened)."""
MAX_DETAIL = 2000
"""Longest detail the log keeps (scrubbed, then shortened)."""
_MIN_SECRET = 4
# (pattern, keeps its first group): the first group is a label such as "api-key=" left readable.
_PATTERNS: list[tuple[re.Pattern[str], bool]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
                re.S), False),
    (re.compile(r"(?i)(\bbearer\s+)[^\s,;\"']+"), True),
    (re.compile(r"(?i)((?:api[-_]?key|access[-_]?token|secret(?:[-_]?access[-_]?key)?|password|"
                r"token|sig|signature|credential|x-goog-api-key)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s,;\"'&]+"), True),
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), False),
    (re.compile(r"\b(?:sk|xai)-[A-Za-z0-9_-]{16,}"), False),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), False),
    (re.compile(r"\bya29\.[0-9A-Za-z_.-]+"), False),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), False),
    # Anything long and key-like: 32+ characters of base64/hex with both letters and digits.
    (re.compile(r"(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*[0-9])(?=[A-Za-z0-9+/]*[A-Za-z])"
                r"[A-Za-z0-9+/]{32,}={0,2}"), False),
]


def scrub(text: str, secrets: Iterable[str | bytes | None] = ()) -> str:
    """``text`` with every known secret value, and anything that looks like a key, replaced."""
    for secret in sorted({_text(s) for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    for pattern, keeps_label in _PATTERNS:
        replacement = (r"\1" + REDACTED) if keeps_label else REDACTED
        text = pattern.sub(replacement, text)
    return text


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (call after :func:`scrub`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return (value or "").strip()


class ProviderError(Exception):
    """A provider call failed. ``provider`` names the backend; ``status`` the upstream HTTP
    status when there was one; ``code``/``param`` the provider's own error code and the request
    field it blames; ``in_band`` that the error came inside a stream begun with a 200. Neither
    ``message`` nor ``detail`` ever carries a credential."""

    kind = "error"

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 secrets: Iterable[str | bytes | None] = (), code: str | None = None,
                 param: str | None = None, in_band: bool = False, detail: str | None = None) -> None:
        clean = scrub(message, secrets)
        self.message = shorten(clean, MAX_MESSAGE)
        self.detail = shorten(scrub(detail, secrets) if detail is not None else clean, MAX_DETAIL)
        self.provider = provider
        self.status = status
        self.code = shorten(scrub(code), 64) if code else None
        self.param = shorten(scrub(param), 128) if param else None
        self.in_band = in_band
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{where}{self.message}{status}"


class Unavailable(ProviderError):
    """The provider could not serve the request (5xx, refused, reset, stream cut)."""

    kind = "unavailable"


class Throttled(ProviderError):
    """The provider rate-limited the request (429). ``retry_after``: seconds it asked to wait
    (``Retry-After`` / ``retry-after-ms``), if it said; ``resets``: seconds until its limits
    reset, by limit (``requests``, ``tokens``: ``x-ratelimit-reset-*``)."""

    kind = "throttled"

    def __init__(self, message: str, *, retry_after: float | None = None, provider: str = "",
                 status: int | None = 429, secrets: Iterable[str | bytes | None] = (),
                 code: str | None = None, param: str | None = None, in_band: bool = False,
                 resets: Mapping[str, float] | None = None, detail: str | None = None) -> None:
        super().__init__(message, provider=provider, status=status, secrets=secrets, code=code,
                         param=param, in_band=in_band, detail=detail)
        self.retry_after = retry_after
        self.resets: dict[str, float] = dict(resets or {})


class Timeout(ProviderError):
    """No answer (or no next chunk) within the time allowed."""

    kind = "timeout"


class BadRequest(ProviderError):
    """The request cannot be served as asked (invalid, or a parameter this provider cannot
    honour). Never retried: another backend would refuse it too, or answer differently."""

    kind = "bad_request"


class AuthFailed(ProviderError):
    """The backend's credentials were refused (401/403): eject the backend and alert."""

    kind = "auth_failed"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` (seconds form) or ``retry-after-ms`` value."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _lowered(headers: Any) -> dict[str, str]:
    items = getattr(headers, "items", None)
    if items is None:
        return {}
    return {str(key).lower(): str(value) for key, value in items()}


def retry_after_from(headers: Any) -> float | None:
    """The delay a 429 asked for, from any headers object with ``items()`` (any key case)."""
    lowered = _lowered(headers)
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001),
                        ("retry-after", 1.0)):
        seconds = parse_retry_after(lowered.get(name))
        if seconds is not None:
            return seconds * scale
    return None


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str) -> float | None:
    """Seconds of an ``x-ratelimit-reset-*`` value: ``"1s"``, ``"6m0s"``, ``"250ms"`` or a bare
    number of seconds; None when it is neither."""
    value = value.strip()
    plain = parse_retry_after(value)
    if plain is not None:
        return plain
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def resets_from(headers: Any) -> dict[str, float]:
    """``x-ratelimit-reset-requests`` / ``-tokens`` (OpenAI, Azure OpenAI) as seconds, by limit."""
    out: dict[str, float] = {}
    for name, value in _lowered(headers).items():
        if name.startswith("x-ratelimit-reset-") and (seconds := parse_reset(value)) is not None:
            out[name.removeprefix("x-ratelimit-reset-")] = seconds
    return out


def error_for_status(status: int, message: str, *, provider: str = "",
                     retry_after: float | None = None,
                     secrets: Iterable[str | bytes | None] = (), code: str | None = None,
                     param: str | None = None, in_band: bool = False,
                     resets: Mapping[str, float] | None = None) -> ProviderError:
    """The error class for an upstream HTTP status."""
    if status == 429:
        return Throttled(message, retry_after=retry_after, provider=provider, secrets=secrets,
                         code=code, param=param, in_band=in_band, resets=resets)
    cls: type[ProviderError]
    if status in (401, 403):
        cls = AuthFailed
    elif status in (408, 504):
        cls = Timeout
    elif status in (400, 413, 415, 422):
        cls = BadRequest
    elif status == 404 or status >= 500:
        # 404: this backend's deployment/model is missing — another backend may still serve.
        cls = Unavailable
    else:
        cls = ProviderError
    return cls(message, provider=provider, status=status, secrets=secrets, code=code, param=param,
               in_band=in_band)


_CONNECTION_FAILURES = {
    "resolve": "cannot resolve the backend's host name",
    "connect": "cannot connect to the backend",
    "tls": "the backend's TLS certificate could not be verified (is caBundle right?)",
    "reset": "the connection to the backend broke off",
    "protocol": "the backend's answer is not valid HTTP",
}


def connection_failure(kind: str, detail: str, *, provider: str = "",
                       secrets: Iterable[str | bytes | None] = ()) -> ProviderError:
    """The :class:`Unavailable` of a failed upstream connection. A client reads only what kind
    of failure it was (an error that said "refused" here and "timed out" there would make the
    gateway a port scanner); the log keeps ``detail``. The gateway's own refusals (a target its
    policy forbids, an answer above the size limit) say why: that is the route author's to fix."""
    message = _CONNECTION_FAILURES.get(kind, detail)
    return Unavailable(message, provider=provider, secrets=secrets, detail=detail)


class ProviderConfigError(ValueError):
    """A backend cannot be built from its block: unknown kind, missing Secret key, missing SDK.
    The message names the Secret and key, never a value."""
