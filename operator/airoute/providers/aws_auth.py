"""AWS credentials from botocore's chain, and the Signature Version 4 of one Bedrock request.

Credentials: keys from a Secret (``botocore.credentials.Credentials``), or — without a Secret —
botocore's default chain (IRSA web identity, EKS Pod Identity, container and instance metadata),
resolved and refreshed in a thread: a frozen snapshot is re-read every :data:`SNAPSHOT_SECONDS`
(botocore itself refreshes temporary credentials 15 minutes before they expire), so the event
loop never waits on botocore's network calls once the first snapshot is in.

Signing: :func:`sign` computes exactly what botocore's ``SigV4Auth.add_auth`` computes for a
``POST`` with a JSON body (canonical request with the path encoded twice, as botocore does for
every service but S3; signed headers ``content-type;host;x-amz-date[;x-amz-security-token]``),
with the day's signing key cached. botocore's signer costs 0.17 to 0.38 ms per request (most of it
in building ``AWSRequest`` headers objects and parsing URLs), which is the gateway's whole
latency budget; ``tests/unit/providers/test_aws_auth.py`` checks every signature against
botocore's for the same request and instant, so botocore stays the judge.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airoute.providers.errors import ProviderConfigError
from airoute.providers.tokens import Refreshing

SNAPSHOT_SECONDS = 60.0
SERVICE = "bedrock"


@dataclass(frozen=True)
class Keys:
    """A frozen set of AWS credentials."""

    access_key: str
    secret_key: str
    token: str | None = None


def static_keys(access_key: str, secret_key: str, token: str | None, provider: str) -> Refreshing[Keys]:
    """Keys from a Secret: they never expire (rotation replaces the caller)."""
    for value in (access_key, secret_key, token or ""):
        if any(c in value for c in "\r\n\0"):
            raise ProviderConfigError("an AWS key in the Secret holds a line break or NUL")
    keys = Keys(access_key, secret_key, token)
    return Refreshing(lambda: (keys, math.inf), "AWS credentials", provider=provider)


def default_chain(provider: str, clock: Any = time.time) -> Refreshing[Keys]:
    """botocore's default credential chain, resolved in a thread and re-read every minute."""
    import botocore.session

    found: list[Any] = []

    def fetch() -> tuple[Keys, float]:
        if not found:
            credentials = botocore.session.get_session().get_credentials()
            if credentials is None:
                raise LookupError("botocore's credential chain found no credentials (no IRSA, "
                                  "Pod Identity, container or instance credentials)")
            found.append(credentials)
        frozen = found[0].get_frozen_credentials()
        return Keys(frozen.access_key, frozen.secret_key, frozen.token), clock() + SNAPSHOT_SECONDS

    return Refreshing(fetch, "AWS credentials", provider=provider, margin=SNAPSHOT_SECONDS / 2, clock=clock)


class Signer:
    """SigV4 for one region's Bedrock runtime endpoint (``host`` as sent in the Host header)."""

    def __init__(self, region: str, host: str) -> None:
        self.region = region
        self.host = host
        self._scope_suffix = f"/{region}/{SERVICE}/aws4_request"
        self._key_for: tuple[str, str] = ("", "")
        self._key = b""
        self._paths: dict[str, str] = {}
        self._fixed_for: tuple[int, str | None] = (-1, None)
        self._fixed_parts = ("", "", "", "", "")

    def _canonical_path(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            if len(self._paths) > 64:
                self._paths.clear()
            found = self._paths[path] = quote(path, safe="/~")
        return found

    def _fixed(self, now: float, token: str | None) -> tuple[str, str, str, str, str]:
        """What every request signed within one second with one session token shares: the day,
        the canonical request between the path and the body's hash, the start of the string to
        sign, the header lines before ``authorization``, and its text after the access key."""
        second = int(now)
        if (second, token) != self._fixed_for:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            scope = stamp[:8] + self._scope_suffix
            signed = "content-type;host;x-amz-date"
            canonical_headers = f"content-type:application/json\nhost:{self.host}\nx-amz-date:{stamp}\n"
            lines = f"x-amz-date: {stamp}\r\n"
            if token:
                signed += ";x-amz-security-token"
                canonical_headers += f"x-amz-security-token:{token}\n"
                lines += f"x-amz-security-token: {token}\r\n"
            self._fixed_parts = (stamp[:8], f"\n\n{canonical_headers}\n{signed}\n",
                                 f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n",
                                 lines + "authorization: AWS4-HMAC-SHA256 Credential=",
                                 f"/{scope}, SignedHeaders={signed}, Signature=")
            self._fixed_for = (second, token)
        return self._fixed_parts

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key_for != (secret, day):
            key = hmac.digest(f"AWS4{secret}".encode(), day.encode(), "sha256")
            for part in (self.region, SERVICE, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            self._key, self._key_for = key, (secret, day)
        return self._key

    def headers(self, keys: Keys, path: str, body: bytes, now: float | None = None) -> str:
        """The header lines (``x-amz-date``, ``x-amz-security-token``, ``authorization``) of a
        ``POST path`` with a JSON ``body``, ``\\r\\n``-terminated. ``path`` is as sent (already
        percent-encoded once)."""
        day, headers, sign_start, lines, credential_end = self._fixed(time.time() if now is None else now, keys.token)
        canonical = f"POST\n{self._canonical_path(path)}{headers}{hashlib.sha256(body).hexdigest()}"
        to_sign = sign_start + hashlib.sha256(canonical.encode()).hexdigest()
        signature = hmac.digest(self._signing_key(keys.secret_key, day), to_sign.encode(), "sha256").hex()
        return f"{lines}{keys.access_key}{credential_end}{signature}\r\n"
