"""The incremental event-stream decoder against botocore's (the judge), fed in every split."""

from __future__ import annotations

import itertools

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airoute.emulators import encode_frame, event_frame, exception_frame
from airoute.providers.eventstream import EventStreamDecoder, EventStreamError

FRAMES = [
    event_frame("messageStart", {"role": "assistant"}),
    event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Grüße "}}),
    encode_frame({":message-type": "event", ":event-type": "x", "flag": True, "n": 7, "big": 2**40,
                  "raw": b"\x00\x01"}, b"{}"),
    exception_frame("throttlingException", "Too many requests, please wait before trying again."),
    event_frame("messageStop", {"stopReason": "end_turn"}),
]
STREAM = b"".join(FRAMES)


def botocore_messages(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [({k: v for k, v in m.headers.items() if isinstance(v, str)}, m.payload) for m in buffer]


@settings(max_examples=80, deadline=None)
@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=12))
@example(cuts=list(range(len(STREAM))))
def test_any_split_decodes_like_botocore(cuts: list[int]) -> None:
    decoder = EventStreamDecoder()
    got = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for start, end in itertools.pairwise(bounds):
        got += [(m.headers, m.payload) for m in decoder.feed(STREAM[start:end])]
    assert got == botocore_messages(STREAM)
    assert decoder.pending == 0


@pytest.mark.parametrize("damage", ["prelude", "message", "length"])
def test_damaged_frames_are_refused(damage: str) -> None:
    frame = bytearray(FRAMES[1])
    if damage == "prelude":
        frame[9] ^= 0xFF
    elif damage == "message":
        frame[-6] ^= 0xFF
    else:
        frame[0:4] = (2**31).to_bytes(4, "big")
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(bytes(frame))
