"""The translating callers' JSON: orjson's speed, the standard library's results."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airoute.providers import fastjson

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@given(_VALUES)
@example(2**64)
@example(-(2**63) - 1)
@example({"n": 123456789012345678901234567890, "x": [0.1, -0.0, 1e16]})
@example("\u2028é\ud800")
def test_loads_reads_what_the_standard_library_reads(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":"))):
        data = text.encode("utf-8", "surrogatepass")
        try:
            expected = json.loads(data)
        except ValueError as exc:
            with pytest.raises(type(exc)):
                fastjson.loads(data)
            continue
        found = fastjson.loads(data)
        assert found == expected and _types(found) == _types(expected)


@pytest.mark.parametrize("text", [b"NaN", b"[1e400]", b'"\\ud800"', b"-9223372036854775809",
                                  b"18446744073709551616", b'{"a": 1, "a": 2}', b"\xef\xbb\xbf{}"])
def test_what_orjson_refuses_or_reads_otherwise_is_read_by_the_standard_library(text: bytes) -> None:
    expected = json.loads(text)
    found = fastjson.loads(text)
    assert found == expected or (isinstance(found, float) and math.isnan(found) and math.isnan(expected))
    assert _types(found) == _types(expected)


@pytest.mark.parametrize("text", [b"", b"{", b"[1,]", b'{"a" 1}', b"\xff", b"[" * 5000 + b"]" * 5000])
def test_what_the_standard_library_refuses_raises_its_error(text: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)) as expected:
        json.loads(text)
    with pytest.raises(expected.type):
        fastjson.loads(text)


@given(_VALUES)
@example({"big": 2**70, "small": -(2**70)})
@example({1: "a non-string key"})
@example(5.96e-08)  # found: orjson writes 5.96e-8, the standard library 5.96e-08 (the same number)
@example([1e16, -1e-07, 1.5e300])
def test_dumps_writes_the_compact_json_of_the_standard_library(value: Any) -> None:
    """The same JSON text, except that a float may be spelled otherwise (orjson writes ``1e16`` and
    ``5.96e-8`` where the standard library writes ``1e+16`` and ``5.96e-08``): the same number."""
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    found = fastjson.dumps(value)
    if found != expected.encode():
        assert _has_float(value), f"{found!r} != {expected!r}"
        assert json.loads(found) == json.loads(expected) and _types(json.loads(found)) == _types(json.loads(expected))


def test_dumps_writes_null_for_what_json_has_no_number_for() -> None:
    assert fastjson.dumps({"x": math.nan, "y": [math.inf]}) == b'{"x":null,"y":[null]}'
    assert fastjson.dumps({"x": math.nan, "big": 2**70}) == b'{"x":null,"big":1180591620717411303424}'


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def _types(value: Any) -> Any:
    """The shape of a value with its types, so that 1 and 1.0 (or True and 1) differ."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__
