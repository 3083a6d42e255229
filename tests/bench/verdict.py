"""How a benchmark ends: every problem it found printed, then one JSON line last (its figures and
the problems), and exit 1 when there was any."""

from __future__ import annotations

import json
import sys
from typing import Any


def finish(results: dict[str, Any], problems: list[str]) -> int:
    for problem in problems:
        print(f"WRONG: {problem}", file=sys.stderr)
    results["problems"] = problems
    print(json.dumps(results))
    return 1 if problems else 0
