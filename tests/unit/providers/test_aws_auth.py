"""The gateway's SigV4 signature equals botocore's ``SigV4Auth`` (the judge) for the same
request at the same instant: with and without a session token, default and custom ports,
model ids that need percent-encoding, any body."""

from __future__ import annotations

import datetime
import json
import math

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airoute.providers.aws_auth import Keys, Signer, static_keys
from airoute.providers.errors import ProviderConfigError

MODELS = ["anthropic.claude-3-5-sonnet-20240620-v1:0", "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
          "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.meta.llama3-2-3b-instruct-v1:0"]


def botocore_headers(keys: Keys, url: str, body: bytes, region: str, when: datetime.datetime,
                     monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(Credentials(keys.access_key, keys.secret_key, keys.token), "bedrock", region).add_auth(
        request)
    return {k.lower(): v for k, v in request.headers.items()}


def ours(keys: Keys, host: str, path: str, body: bytes, region: str, when: datetime.datetime) -> dict[str, str]:
    lines = Signer(region, host).headers(keys, path, body, when.replace(tzinfo=datetime.UTC).timestamp())
    return dict(line.split(": ", 1) for line in lines.strip().split("\r\n"))


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), token=st.sampled_from([None, "IQoJb3JpZ2luX2VjE//token+with/slashes=="]),
       text=st.text(max_size=200), seconds=st.integers(0, 10**9), port=st.sampled_from([None, 8443, 4566]),
       stream=st.booleans())
@example(model=MODELS[0], token=None, text="", seconds=0, port=None, stream=False)
def test_signature_equals_botocores(model: str, token: str | None, text: str, seconds: int, port: int | None,
                                    stream: bool) -> None:
    from urllib.parse import quote

    with pytest.MonkeyPatch.context() as monkeypatch:
        keys = Keys("AKIAEMULATOR00000001", "emulator/secret/key/0123456789abcdefghij", token)
        when = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=seconds)
        host = "bedrock-runtime.eu-central-1.amazonaws.com" + (f":{port}" if port else "")
        path = f"/model/{quote(model, safe='')}/" + ("converse-stream" if stream else "converse")
        body = json.dumps({"messages": [{"role": "user", "content": [{"text": text}]}]}).encode()
        expected = botocore_headers(keys, f"https://{host}{path}", body, "eu-central-1", when, monkeypatch)
        got = ours(keys, host, path, body, "eu-central-1", when)
    assert got["authorization"] == expected["authorization"]
    assert got["x-amz-date"] == expected["x-amz-date"]
    assert got.get("x-amz-security-token") == expected.get("x-amz-security-token")


def test_the_days_signing_key_is_derived_once() -> None:
    signer = Signer("eu-central-1", "bedrock-runtime.eu-central-1.amazonaws.com")
    keys = Keys("AKIA0000000000000000", "secret")
    signer.headers(keys, "/model/m/converse", b"{}", 1_700_000_000)
    key = signer._key
    signer.headers(keys, "/model/m/converse", b"{}", 1_700_000_100)
    assert signer._key is key
    signer.headers(keys, "/model/m/converse", b"{}", 1_700_000_000 + 86400)
    assert signer._key is not key


async def test_static_keys_never_expire_and_refuse_line_breaks() -> None:
    keys = static_keys("AKIA0000000000000000", "secret", None, "bedrock-eu")
    assert (await keys.get()).access_key == "AKIA0000000000000000"
    assert keys.expires == math.inf
    with pytest.raises(ProviderConfigError, match="line break"):
        static_keys("AKIA0000000000000000", "secret\r\nx-amz-evil: 1", None, "bedrock-eu")


def test_one_signer_signs_as_a_fresh_one_across_seconds_and_session_tokens() -> None:
    """What the signer keeps from one request to the next (per second and session token) never
    leaks into another second's or another token's signature."""
    host = "bedrock-runtime.eu-central-1.amazonaws.com"
    signer = Signer("eu-central-1", host)
    calls = [(token, second) for second in (1_700_000_000, 1_700_000_001, 1_700_000_000 + 86400)
             for token in (None, "token-a", "token-b", None)]
    for token, second in calls + calls[::-1]:
        keys = Keys("AKIA0000000000000000", "secret", token)
        for path in ("/model/m/converse", "/model/m/converse-stream"):
            assert signer.headers(keys, path, b'{"x": 1}', second) == Signer("eu-central-1", host).headers(
                keys, path, b'{"x": 1}', second)
