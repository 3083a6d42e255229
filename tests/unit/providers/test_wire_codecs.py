"""The byte-level codecs: AWS event-stream frames (decoded by botocore), the tests' SSE decoder, and
SigV4 (checked against botocore's signer). The ``model`` splice of relayed bodies is in test_sniff."""

from __future__ import annotations

import json
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st
from tests.support.sse import SSEDecoder

from airoute.emulators.eventstream import encode_frame, event_frame, exception_frame
from airoute.emulators.sigv4 import expected_signature, parse_authorization

header_values = st.one_of(
    st.text(max_size=40), st.binary(max_size=40), st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
)


def _decode(data: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) < 256),
                       header_values, max_size=6),
       st.binary(max_size=2000))
def test_event_stream_frames_round_trip_through_botocore(headers: dict[str, Any],
                                                         payload: bytes) -> None:
    (message,) = _decode(encode_frame(headers, payload))
    assert message.payload == payload
    assert message.headers == headers


def test_bedrock_event_and_exception_frames() -> None:
    frames = event_frame("contentBlockDelta", {"delta": {"text": "Hi"}, "contentBlockIndex": 0})
    frames += exception_frame("throttlingException", "slow down")
    event, error = _decode(frames)
    assert event.headers == {":event-type": "contentBlockDelta",
                             ":content-type": "application/json", ":message-type": "event"}
    assert json.loads(event.payload) == {"delta": {"text": "Hi"}, "contentBlockIndex": 0}
    assert error.headers[":exception-type"] == "throttlingException"
    assert json.loads(error.payload) == {"message": "slow down"}


EVENTS = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30),
                  min_size=1, max_size=8)


@given(EVENTS, st.lists(st.integers(1, 50), max_size=20), st.sampled_from(["\n", "\r\n", "\r"]))
def test_sse_decoder_is_indifferent_to_chunking(events: list[str], cuts: list[int],
                                                newline: str) -> None:
    stream = "".join(f"data: {e}{newline}{newline}" for e in events).encode()
    decoder, decoded, position = SSEDecoder(), [], 0
    for cut in cuts:
        decoded += decoder.feed(stream[position:position + cut])
        position += cut
    decoded += decoder.feed(stream[position:]) + decoder.flush()
    assert decoded == events


def test_sse_decoder_fields_comments_and_multiline() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": keep-alive\nevent: chunk\nid: 3\ndata: a\ndata:b\n\ndata: [DONE]")
    assert events == ["a\nb"]
    assert decoder.flush() == ["[DONE]"]


def test_sigv4_matches_botocore() -> None:
    request = AWSRequest(
        method="POST", data=b'{"messages":[]}',
        url="http://127.0.0.1:9/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        headers={"Content-Type": "application/json"})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "secret-key"), "bedrock", "eu-central-1")
    signer.add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items()} | {"Host": "127.0.0.1:9"}
    cred = parse_authorization(headers["Authorization"])
    assert (cred.access_key_id, cred.region, cred.service) == (
        "AKIDEXAMPLE", "eu-central-1", "bedrock")
    path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert expected_signature(cred, "secret-key", "POST", path, {}, headers,
                              b'{"messages":[]}') == cred.signature
    assert expected_signature(cred, "other-key", "POST", path, {}, headers,
                              b'{"messages":[]}') != cred.signature
