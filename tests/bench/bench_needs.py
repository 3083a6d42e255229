"""Side-by-side micro-benchmark: what reading a request's needs costs the gateway, next to the
sniff every request already pays and to parsing the body. Plain text bodies of 0.2, 2, 20 and
200 KB (the byte scan, no parse) and a body with an image (parsed). Prints microseconds per call;
the last line is one JSON object with the figures.

    .venv/bin/python tests/bench/bench_needs.py [--repeat 5]

Figures are per call on this machine: compare the columns of one run, not runs across machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

from airoute.providers.needs import needs_of, read_needs
from airoute.providers.sniff import sniff

SYSTEM = {"role": "system", "content": "You are the support assistant of ACME. Answer briefly."}


def plain(size: int) -> bytes:
    text = ("Where is my parcel? It was due on Monday: order A-1. " * (size // 54 + 1))[:size]
    return json.dumps({"model": "support-chat", "messages": [SYSTEM, {"role": "user", "content": text}],
                       "max_tokens": 256, "temperature": 0.3, "stream": True,
                       "stream_options": {"include_usage": True}}).encode()


def with_image() -> bytes:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 20_000}}
    return json.dumps({"model": "support-chat", "messages": [
        SYSTEM, {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]}).encode()


def per_call(fn: Callable[[], Any], repeat: int) -> float:
    number = 2000
    return round(min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds, the best is kept (default 5)")
    args = parser.parse_args()
    bodies = {f"plain_{size // 1000 or 0.2}k": plain(size) for size in (200, 2_000, 20_000, 200_000)}
    bodies["image_20k"] = with_image()
    figures: dict[str, dict[str, float]] = {}
    for name, body in bodies.items():
        assert read_needs(body).mask == needs_of(json.loads(body)).mask
        row = figures[name] = {
            "bytes": len(body),
            "read_needs_us": per_call(lambda body=body: read_needs(body), args.repeat),
            "sniff_us": per_call(lambda body=body: sniff(body), args.repeat),
            "parse_and_walk_us": per_call(lambda body=body: needs_of(json.loads(body)), args.repeat),
        }
        print(f"{name:10} {row['bytes']:>7} B   read_needs {row['read_needs_us']:>8} µs   sniff "
              f"{row['sniff_us']:>8} µs   json.loads+walk {row['parse_and_walk_us']:>8} µs", file=sys.stderr)
    print(json.dumps({"benchmark": "needs", "per_call_us": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
