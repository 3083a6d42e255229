"""Errors the gateway answers with, in OpenAI's error JSON shape."""

from __future__ import annotations

import json

from airoute.providers.errors import ProviderError


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}`` as bytes."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


class ClientError(Exception):
    """A request the gateway answers itself, without calling a backend."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or []

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param)


def unauthorized(message: str) -> ClientError:
    return ClientError(401, message, "invalid_request_error", "invalid_api_key",
                       headers=[("www-authenticate", 'Bearer realm="airoute"')])


def not_found(message: str, code: str = "model_not_found", param: str | None = "model") -> ClientError:
    return ClientError(404, message, "invalid_request_error", code, param)


def not_ready(message: str) -> ClientError:
    return ClientError(503, message, "server_error", "not_ready", None, headers=[("retry-after", "1")])


def route_unavailable(model: str, route: str) -> ClientError:
    """The model exists but this gateway cannot serve its route now (not "no such model")."""
    message = (f"the model {model!r} is served by AIRoute {route}, which this gateway cannot serve right now "
               "(its status, condition Served, says why)")
    return ClientError(503, message, "server_error", "route_unavailable", "model")


def bad_request(message: str, param: str | None = None) -> ClientError:
    return ClientError(400, message, "invalid_request_error", "invalid_request", param)


def wrong_api(model: str, serves_embeddings: bool) -> ClientError:
    """A model asked for on the API its route does not serve."""
    if serves_embeddings:
        message = f"the model {model!r} serves embeddings: send it to /v1/embeddings"
    else:
        message = f"the model {model!r} serves chat completions: send it to /v1/chat/completions"
    return ClientError(400, message, "invalid_request_error", "wrong_api", "model")


def shed(tier: str, retry_after: int, why: str = "") -> ClientError:
    because = f" ({why})" if why else ""
    return ClientError(
        429,
        f"the gateway is saturated{because} and sheds {tier} traffic first; retry in {retry_after}s",
        "rate_limit_error",
        "gateway_overloaded",
        headers=[("retry-after", str(retry_after))],
    )


def all_backends_throttled(route: str, failures: list[tuple[str, str]], retry_after: int) -> ClientError:
    detail = "; ".join(f"{name}: {why}" for name, why in failures)
    return ClientError(429, f"every backend of route {route} is rate-limited: {detail}", "rate_limit_error",
                       "backends_throttled", headers=[("retry-after", str(retry_after))])


def tokens_exhausted(model: str, per_minute: int, scope: str, retry_after: int) -> ClientError:
    whose = "your share of " if scope == "client" else ""
    return ClientError(
        429,
        f"{whose}the model {model!r}'s limit of {per_minute} tokens per minute is used up; retry in {retry_after}s",
        "rate_limit_error",
        "tokens_per_minute_exceeded",
        headers=[("retry-after", str(retry_after))],
    )


def all_backends_failed(route: str, failures: list[tuple[str, str]]) -> ClientError:
    detail = "; ".join(f"{name}: {why}" for name, why in failures) or "no backend is usable"
    return ClientError(503, f"every backend of route {route} failed: {detail}", "server_error", "backends_unavailable")


def refused_by_backend(backend: str, error: ProviderError) -> ClientError:
    """A backend refused the request as invalid: the client's answer, with the provider's own
    ``code`` and ``param`` (Azure's ``content_filter``, ``context_length_exceeded``, …)."""
    status = error.status if error.status and 400 <= error.status < 500 and error.status != 429 else 400
    return ClientError(status, f"backend {backend} refused the request: {error.message}",
                       code=error.code or "invalid_request", param=error.param)
