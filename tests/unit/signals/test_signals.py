"""The signal math: PromQL catalogue, histogram quantiles, counter windows, status pages."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from airoute.signals.assemble import assemble, histogram_quantile
from airoute.signals.catalogue import CATALOGUE, Query, render_all
from airoute.signals.scrape import Sample, parse_exposition, window_signals

KEY = ("support", "chat", "azure-eu", "stable")


def test_catalogue_is_one_query_per_metric_grouped_by_series() -> None:
    rendered = render_all(120)
    assert set(rendered) == {"requests", "errors", "throttled", "latency_p95", "ttft_p95"}
    for promql in rendered.values():
        assert "[2m]" in promql
        assert "namespace, route, backend, variant" in promql
        assert "$" not in promql


def test_rendering_is_strict() -> None:
    with pytest.raises(KeyError):
        Query("x", "rate(m[$window]) offset $offset").render(window="2m")
    assert len({q.name for q in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [
        ([(0.1, 0), (0.5, 50), (1.0, 100), (float("inf"), 100)], 0.95),  # inside (0.5, 1.0]
        ([(0.1, 100), (float("inf"), 100)], 0.095),
        ([(1.0, 0), (float("inf"), 10)], 1.0),  # everything above the last finite bucket
        ([(1.0, 0), (float("inf"), 0)], None),  # no observations
        ([], None),
    ],
)
def test_histogram_quantile_matches_prometheus(buckets: list[tuple[float, float]], expected: float | None) -> None:
    got = histogram_quantile(0.95, buckets)
    assert got == pytest.approx(expected) if expected is not None else got is None


def _exposition(successes: int, errors: int, latencies: list[float]) -> str:
    registry = CollectorRegistry()
    labels = ["namespace", "route", "backend", "variant", "provider", "outcome"]
    requests = Counter("airoute_requests", "requests", labels, registry=registry)
    duration = Histogram(
        "airoute_request_duration_seconds", "d", labels[:5], registry=registry, buckets=(0.1, 0.5, 1, 5)
    )
    requests.labels(*KEY, "azureOpenAI", "success").inc(successes)
    requests.labels(*KEY, "azureOpenAI", "error").inc(errors)
    requests.labels(*KEY, "azureOpenAI", "shed").inc(7)  # never reached the backend: not counted
    for value in latencies:
        duration.labels(*KEY, "azureOpenAI").observe(value)
    return generate_latest(registry).decode()


def test_window_increase_from_real_exposition() -> None:
    old, new = Sample(at=0.0), Sample(at=60.0)
    parse_exposition(_exposition(100, 0, [0.05] * 10), old)
    parse_exposition(_exposition(150, 50, [0.05] * 10 + [0.7] * 90), new)
    per_metric = window_signals([old, new], {("support", "chat"): 120.0})
    signals = assemble(per_metric)[KEY]
    assert (signals.requests, signals.errors, signals.throttled) == (100.0, 50.0, 0.0)
    assert signals.error_rate == pytest.approx(0.5)
    assert signals.latency_p95 is not None and 0.5 < signals.latency_p95 <= 1.0


def test_counter_reset_counts_from_zero() -> None:
    old, new = Sample(at=0.0), Sample(at=30.0)
    parse_exposition(_exposition(500, 0, []), old)
    parse_exposition(_exposition(20, 5, []), new)  # gateway restarted: counters went down
    signals = assemble(window_signals([old, new], {("support", "chat"): 120.0}))[KEY]
    assert (signals.requests, signals.errors) == (25.0, 5.0)


def test_samples_outside_the_window_are_ignored() -> None:
    ancient, old, new = Sample(at=0.0), Sample(at=100.0), Sample(at=130.0)
    parse_exposition(_exposition(0, 0, []), ancient)
    parse_exposition(_exposition(100, 100, []), old)
    parse_exposition(_exposition(110, 100, []), new)
    signals = assemble(window_signals([ancient, old, new], {("support", "chat"): 60.0}))[KEY]
    assert (signals.requests, signals.errors) == (10.0, 0.0)


def test_two_gateways_are_summed() -> None:
    sample = Sample(at=0.0)
    parse_exposition(_exposition(10, 1, []), sample)
    parse_exposition(_exposition(30, 2, []), sample)
    assert sample.counts[(KEY, "success")] == 40.0
    assert sample.counts[(KEY, "error")] == 3.0


def test_window_signals_accepts_the_scrape_history_deque() -> None:
    from collections import deque

    old, new = Sample(at=0.0), Sample(at=10.0)
    parse_exposition(_exposition(10, 0, []), old)
    parse_exposition(_exposition(20, 0, []), new)
    assert assemble(window_signals(deque([old, new]), {("support", "chat"): 60.0}))[KEY].requests == 10.0


def test_gateway_decided_outcomes_are_not_a_backend() -> None:
    for promql in render_all(60).values():
        assert 'backend!=""' in promql
    sample = Sample(at=0.0)
    labels = 'namespace="support",route="chat",backend="",variant="",provider="",outcome="degraded"'
    text = f"airoute_requests_total{{{labels}}} 5\n"
    parse_exposition(text, sample)
    assert sample.counts == {}, "no backend's health"
    assert sample.client_errors == {("support", "chat"): 5.0}, "but a failure the client saw"


def test_unservable_routes_one_reason_per_route_first_backend_by_name() -> None:
    """Issue 18.3: what the gateways say of routes they cannot serve, per route."""
    from airoute.signals.catalogue import UNSERVABLE, unservable_routes

    assert UNSERVABLE == "max by (namespace, route, backend, reason) (airoute_gateway_route_unservable)"
    rows = [
        {"namespace": "t", "route": "r", "backend": "b2", "reason": "ClientBuildFailed"},
        {"namespace": "t", "route": "r", "backend": "b1", "reason": "SecretNotFound"},
        {"namespace": "t", "route": "s", "backend": "a", "reason": "SecretNotFound"},
    ]
    assert unservable_routes(rows) == {("t", "r"): ("b1", "SecretNotFound"), ("t", "s"): ("a", "SecretNotFound")}


def test_the_scrape_reads_the_unservable_series() -> None:
    text = (
        "# TYPE airoute_gateway_route_unservable gauge\n"
        'airoute_gateway_route_unservable{namespace="t",route="r",backend="b1",reason="SecretNotFound"} 1\n'
    )
    sample = Sample(at=0.0)
    parse_exposition(text, sample)
    assert sample.unservable == [{"namespace": "t", "route": "r", "backend": "b1", "reason": "SecretNotFound"}]


def test_ejected_backends_are_marked_on_their_stable_series_even_without_requests() -> None:
    """Issue 18.1: airoute_gateway_backend_out{state="ejected"} becomes gateway_ejected."""
    from airoute.core.signals import Signals
    from airoute.signals.assemble import with_ejections
    from airoute.signals.catalogue import EJECTED, ejected_backends

    assert EJECTED == 'max by (namespace, route, backend) (airoute_gateway_backend_out{state="ejected"})'
    text = (
        "# TYPE airoute_gateway_backend_out gauge\n"
        'airoute_gateway_backend_out{namespace="t",route="r",backend="a",state="ejected"} 1\n'
        'airoute_gateway_backend_out{namespace="t",route="r",backend="b",state="held_off"} 1\n'
    )
    sample = Sample(at=0.0)
    parse_exposition(text, sample)
    ejected = ejected_backends(sample.ejected)
    assert ejected == [("t", "r", "a")]
    busy = Signals(requests=5, errors=5, throttled=0)
    series = with_ejections({("t", "r", "c", "stable"): busy}, ejected)
    assert series[("t", "r", "a", "stable")].gateway_ejected and series[("t", "r", "a", "stable")].requests == 0
    assert not series[("t", "r", "c", "stable")].gateway_ejected
