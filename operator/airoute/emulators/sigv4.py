"""AWS Signature Version 4, checked the way AWS does it (header-based signing only)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>[0-9]{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;._-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class SignatureError(Exception):
    """The request is not (correctly) signed; ``code`` is the AWS error code to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_authorization(value: str | None) -> Credential:
    match = AUTHORIZATION.match(value or "")
    if match is None:
        raise SignatureError(
            "IncompleteSignatureException" if value else "MissingAuthenticationTokenException",
            "Authorization header requires a valid AWS4-HMAC-SHA256 signature." if value
            else "Missing Authentication Token",
        )
    return Credential(match["key"], match["date"], match["region"], match["service"],
                      tuple(match["signed"].split(";")), match["signature"])


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_query(query: Mapping[str, str]) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def expected_signature(cred: Credential, secret: str, method: str, raw_path: str,
                       query: Mapping[str, str], headers: Mapping[str, str], body: bytes) -> str:
    """The signature a client holding ``secret`` would have computed for this request."""
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(
        f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in cred.signed_headers
    )
    payload_hash = lowered.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join([
        method, quote(raw_path, safe="/~"), _canonical_query(query), canonical_headers,
        ";".join(cred.signed_headers), payload_hash,
    ])
    scope = f"{cred.date}/{cred.region}/{cred.service}/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", lowered.get("x-amz-date", ""), scope,
        hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    key = _hmac(f"AWS4{secret}".encode(), cred.date)
    for part in (cred.region, cred.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(cred: Credential, secret: str, method: str, raw_path: str, query: Mapping[str, str],
           headers: Mapping[str, str], body: bytes) -> None:
    expected = expected_signature(cred, secret, method, raw_path, query, headers, body)
    if not hmac.compare_digest(expected, cred.signature):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
