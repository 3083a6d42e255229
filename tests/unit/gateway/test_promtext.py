"""The hand-written Prometheus registry renders valid exposition text and merges workers."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from airoute.gateway.metrics import MAX_GAUGES, GatewayMetrics
from airoute.gateway.promtext import merge

LABELS = ("support", "chat", "azure", "stable", "azureOpenAI")


def families(text: bytes) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text.decode()):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return out


def test_render_is_valid_prometheus_text() -> None:
    m = GatewayMetrics()
    m.requests.inc((*LABELS, "success"))
    m.requests.inc((*LABELS, "success"))
    m.duration.observe(LABELS, 0.02)
    m.duration.observe(LABELS, 3.0)
    m.shed.inc(("best-effort",))
    m.table_version.set((), 7)
    parsed = families(m.render())
    requests = parsed["airoute_requests"]
    assert list(requests.values()) == [2.0]
    duration = parsed["airoute_request_duration_seconds"]
    by_le = {dict(k[1]).get("le"): v for k, v in duration.items() if k[0].endswith("_bucket")}
    assert by_le["0.01"] == 0 and by_le["0.025"] == 1 and by_le["5"] == 2 and by_le["+Inf"] == 2
    assert parsed["airoute_gateway_route_table_version"][("airoute_gateway_route_table_version", ())] == 7


def test_label_values_are_escaped() -> None:
    m = GatewayMetrics()
    m.shed.inc(('we"ird\\tier\n',))
    parsed = families(m.render())
    assert list(parsed["airoute_shed_requests"]) == [("airoute_shed_requests_total", (("tier", 'we"ird\\tier\n'),))]


def test_merge_sums_counters_and_histograms_and_takes_max_of_version_gauges() -> None:
    a, b = GatewayMetrics(), GatewayMetrics()
    a.requests.inc((*LABELS, "success"), 3)
    b.requests.inc((*LABELS, "success"), 4)
    a.duration.observe(LABELS, 0.02)
    b.duration.observe(LABELS, 0.02)
    a.table_version.set((), 5)
    b.table_version.set((), 6)
    parsed = families(merge([a.render(), b.render()], MAX_GAUGES))
    assert list(parsed["airoute_requests"].values()) == [7.0]
    counts = {k: v for k, v in parsed["airoute_request_duration_seconds"].items() if k[0].endswith("_count")}
    assert list(counts.values()) == [2.0]
    assert list(parsed["airoute_gateway_route_table_version"].values()) == [6.0]
