"""A minimal Prometheus registry for the hot path: counters, gauges and histograms keyed by
pre-built label tuples, rendered in the text exposition format (version 0.0.4).

``prometheus_client`` costs several microseconds per labelled update (a lock, a dict of child
objects and a ``labels()`` call); here an update is one dict lookup and an add. The event loop
is single-threaded, so no lock is needed. Label values must come from a bounded set.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from typing import TypeVar

Labels = tuple[str, ...]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INF = 'le="+Inf"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(names: Labels, values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Metric:
    kind = "untyped"

    def __init__(self, name: str, help_: str, labels: Labels = ()) -> None:
        self.name = name
        self.help = help_
        self.labels = labels

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, labels: Labels = ()) -> None:
        super().__init__(name, help_, labels)
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels = (), amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount

    def get(self, labels: Labels = ()) -> float:
        return self.values.get(labels, 0.0)

    def samples(self) -> list[str]:
        return [f"{self.name}{_label_text(self.labels, k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, labels: Labels, value: float) -> None:
        self.values[labels] = value


class Histogram(Metric):
    kind = "histogram"

    def __init__(self, name: str, help_: str, labels: Labels, buckets: Iterable[float]) -> None:
        super().__init__(name, help_, labels)
        self.bounds = sorted(buckets)
        self.values: dict[Labels, list[float]] = {}
        """Per label values: the count of each bucket, then min, max, sum and count (min and max
        for OTLP, :mod:`~airoute.gateway.otlp`; Prometheus has no place for them)."""

    def observe(self, labels: Labels, value: float) -> None:
        row = self.values.get(labels)
        if row is None:
            row = self.values[labels] = [0.0] * len(self.bounds) + [math.inf, -math.inf, 0.0, 0.0]
        i = bisect.bisect_left(self.bounds, value)
        if i < len(self.bounds):
            row[i] += 1
        if value < row[-4]:
            row[-4] = value
        if value > row[-3]:
            row[-3] = value
        row[-2] += value
        row[-1] += 1

    def count(self, labels: Labels) -> float:
        row = self.values.get(labels)
        return row[-1] if row else 0.0

    def samples(self) -> list[str]:
        lines: list[str] = []
        for key, row in sorted(self.values.items()):
            cumulative = 0.0
            for bound, n in zip(self.bounds, row, strict=False):
                cumulative += n
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_label_text(self.labels, key, le)} {_number(cumulative)}")
            lines.append(f'{self.name}_bucket{_label_text(self.labels, key, _INF)} {_number(row[-1])}')
            lines.append(f"{self.name}_sum{_label_text(self.labels, key)} {_number(row[-2])}")
            lines.append(f"{self.name}_count{_label_text(self.labels, key)} {_number(row[-1])}")
        return lines


M = TypeVar("M", bound=Metric)


class Registry:
    def __init__(self) -> None:
        self.metrics: list[Metric] = []
        self.collectors: list[Callable[[], None]] = []
        """Called before each render: they set gauges whose value is read, not counted."""

    def add(self, metric: M) -> M:
        self.metrics.append(metric)
        return metric

    def render(self) -> bytes:
        for collect in self.collectors:
            collect()
        lines: list[str] = []
        for metric in self.metrics:
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return ("\n".join(lines) + "\n").encode()


def merge(texts: Iterable[bytes], max_gauges: frozenset[str] = frozenset()) -> bytes:
    """Merges expositions of several worker processes: samples of the same series are summed,
    except gauges named in ``max_gauges``, which take the maximum."""
    order: list[str] = []
    headers: dict[str, list[str]] = {}
    series: dict[str, dict[str, float]] = {}
    for text in texts:
        family = ""
        for line in text.decode().splitlines():
            if line.startswith("# HELP "):
                family = line.split(" ", 3)[2]
                if family not in headers:
                    order.append(family)
                    headers[family] = [line]
                    series[family] = {}
            elif line.startswith("# TYPE "):
                if len(headers[family]) == 1:
                    headers[family].append(line)
            elif line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                slot = series[family]
                number = float(value)
                if family in max_gauges:
                    slot[key] = max(slot.get(key, number), number)
                else:
                    slot[key] = slot.get(key, 0.0) + number
    out: list[str] = []
    for family in order:
        out.extend(headers[family])
        out.extend(f"{k} {_number(v)}" for k, v in series[family].items())
    return ("\n".join(out) + "\n").encode()
