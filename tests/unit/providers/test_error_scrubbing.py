"""Errors keep the provider's message, lose every credential, and say whether to retry."""

from __future__ import annotations

import pytest

from airoute.providers import (
    AuthFailed,
    BadRequest,
    ProviderError,
    Throttled,
    Timeout,
    Unavailable,
    scrub,
)
from airoute.providers.errors import REDACTED, error_for_status, retry_after_from


@pytest.mark.parametrize(("text", "leaked"), [
    ("Incorrect API key provided: sk-proj-abcdefghijklmnop1234", "sk-proj-abcdefghijklmnop1234"),
    ("Authorization: Bearer eyJhbGciOi.x.y failed", "eyJhbGciOi.x.y"),
    ("header api-key=0123456789abcdef0123456789abcdef was refused", "0123456789abcdef"),
    ("Credential=AKIAIOSFODNN7EXAMPLE/20240101/eu-central-1/bedrock", "AKIAIOSFODNN7EXAMPLE"),
    ("secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("token ya29.a0AfH6SMBx-very-secret-token rejected", "ya29.a0AfH6SMBx"),
    ("key AIzaSyA-1234567890abcdefghijklmnopqrstu leaked", "AIzaSyA-1234567890"),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl here", "eyJpc3MiOiJ4In0"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ("opaque 9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928 value", "9f8e7d6c5b4a3928"),
    ("https://x.blob.core.windows.net/c?sig=abcDEF123%2Bxyz&se=2024", "abcDEF123"),
])
def test_key_like_values_are_redacted(text: str, leaked: str) -> None:
    cleaned = scrub(text)
    assert leaked not in cleaned
    assert REDACTED in cleaned


def test_known_secret_values_are_redacted_even_when_short_and_plain() -> None:
    cleaned = scrub("login as hunter2 failed (password hunter2)", ["hunter2"])
    assert "hunter2" not in cleaned
    assert scrub("tiny value abc", ["abc"]) == "tiny value abc"  # too short to be a secret


def test_ordinary_messages_survive() -> None:
    text = ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-10-21 have exceeded the rate limit; request 3f2a9c4e-1b2d-4e5f-8a9b-0c1d2e3f4a5b")
    assert scrub(text) == text


def test_provider_error_scrubs_its_message() -> None:
    error = Unavailable("upstream said api-key=s3cr3tvalue is wrong for key s3cr3tvalue",
                        provider="azure-eu", status=503, secrets=[b"s3cr3tvalue"])
    assert "s3cr3tvalue" not in str(error)
    assert str(error).startswith("azure-eu: ") and str(error).endswith("(HTTP 503)")


@pytest.mark.parametrize(("status", "cls"), [
    (400, BadRequest), (401, AuthFailed), (403, AuthFailed), (404, Unavailable), (408, Timeout),
    (409, ProviderError), (422, BadRequest), (429, Throttled), (500, Unavailable), (502, Unavailable),
    (503, Unavailable), (504, Timeout),
])
def test_status_classes(status: int, cls: type[ProviderError]) -> None:
    error = error_for_status(status, "m", provider="p", retry_after=1.5)
    assert type(error) is cls
    assert error.status == status
    if isinstance(error, Throttled):
        assert error.retry_after == 1.5


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "7"}, 7.0),
    ({"retry-after-ms": "1500"}, 1.5),
    ({"x-ms-retry-after-ms": "250", "Retry-After": "1"}, 0.25),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
    ({"Retry-After": "-3"}, None),
    ({}, None),
])
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_from(headers) == seconds
