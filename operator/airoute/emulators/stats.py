"""What an emulator received: one counter keyed by (api, path, model, version, streamed, outcome)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

OUTCOMES: tuple[str, ...] = (
    "ok", "error", "throttled", "cut", "reset", "dropped", "refused", "unauthorized", "bad_request",
)


@dataclass(frozen=True)
class RequestRecord:
    """One kind of request; the counter says how many of it arrived."""

    api: str
    path: str
    model: str
    version: str
    streamed: bool
    outcome: str
    status: int


class Stats:
    """Counts requests. ``count(model="x", outcome="ok")`` sums every record matching the filters."""

    def __init__(self) -> None:
        self.counter: Counter[RequestRecord] = Counter()

    def record(self, record: RequestRecord) -> None:
        self.counter[record] += 1

    def count(self, **filters: Any) -> int:
        unknown = set(filters) - set(RequestRecord.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
        return sum(
            n for rec, n in self.counter.items()
            if all(getattr(rec, key) == value for key, value in filters.items())
        )

    @property
    def total(self) -> int:
        return sum(self.counter.values())

    def clear(self) -> None:
        self.counter.clear()

    def snapshot(self) -> dict[str, Any]:
        rows = [asdict(rec) | {"count": n} for rec, n in sorted(
            self.counter.items(), key=lambda item: (item[0].api, item[0].path, item[0].outcome),
        )]
        return {"total": self.total, "requests": rows}
