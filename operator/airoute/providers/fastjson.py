"""JSON on the translating callers' request path: ``orjson`` where it gives what the standard
library gives, the standard library where it does not.

* :func:`loads` parses with ``orjson`` and, when ``orjson`` refuses the text, parses it again
  with :func:`json.loads` — so what is accepted, and the error raised for what is not, are the
  standard library's (``orjson`` refuses some texts that ``json`` takes: ``NaN``, ``1e400``,
  escaped lone surrogates). ``orjson`` reads an integer beyond 64 bits as a float, where ``json``
  keeps it exact: a text with 19 digits in a row or more (an integer that may not fit) goes to
  ``json`` directly. A valid answer is parsed once, at ``orjson``'s speed.
* :func:`dumps` writes compact JSON (no spaces) as UTF-8 bytes. ``orjson`` writes non-ASCII
  characters as themselves where ``json.dumps`` would escape them (both are the same JSON text),
  and spells some floats otherwise (``1e16``, ``5.96e-8`` for ``1e+16``, ``5.96e-08``: the same
  numbers);
  what ``orjson`` cannot write (an integer beyond 64 bits, a key that is not a string) is written
  by ``json.dumps(…, separators=(",", ":"), ensure_ascii=False)``, which gives the same text for
  everything else. A float NaN or infinity, which JSON has no word for, becomes ``null``.

Bodies whose bytes must equal an SDK's (Bedrock's Converse body, written as botocore writes it)
do not use :func:`dumps`. ``tests/unit/providers/test_fastjson.py`` holds both paths to the
standard library's results.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
"""Every digit to ``0``, every other byte to a space: a long run of digits is then a run of ``0``."""
_LONG_NUMBER = b"0" * 19
"""The fewest digits of an integer outside orjson's range (-2**63 … 2**64-1)."""


def loads(data: bytes) -> Any:
    """``json.loads(data)``, at ``orjson``'s speed when ``orjson`` reads the text the same way."""
    if _LONG_NUMBER in data.translate(_DIGITS):
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON of ``value`` as UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a non-string key …
        return _COMPACT.encode(_finite(value)).encode()


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (what ``orjson`` writes for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
