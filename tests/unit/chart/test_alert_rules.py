"""The alert rules (policies/alerts/airoute.rules.yaml) with the real promtool, and the metric
names they, the dashboard and docs/operations/metrics.md use, checked against the code."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from airoute.controller.metrics import ControllerMetrics
from airoute.gateway.metrics import GatewayMetrics
from tests.support.helm import CHART
from tests.support.paths import REPO_ROOT
from tests.support.prom_server import require_promtool

RULES = REPO_ROOT / "policies" / "alerts" / "airoute.rules.yaml"
RULE_TESTS = Path(__file__).parent / "promtool" / "airoute.rules.test.yaml"
RUNBOOKS = REPO_ROOT / "docs" / "operations" / "runbooks.md"
METRICS_DOC = REPO_ROOT / "docs" / "operations" / "metrics.md"
ALERTS_DOC = REPO_ROOT / "docs" / "operations" / "alerts.md"
SCRAPE_INTERVAL_SECONDS = 30  # the chart's ServiceMonitor/PodMonitor default


def _alerts() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


@pytest.mark.prometheus
def test_promtool_check_rules() -> None:
    done = subprocess.run(
        [require_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in done.stdout


@pytest.mark.prometheus
def test_promtool_test_rules() -> None:
    done = subprocess.run(
        [require_promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    evaluated = [c for t in cases for c in t["alert_rule_test"]]
    for alert in _alerts():
        name = alert["alert"]
        assert any(c["alertname"] == name and c["exp_alerts"] for c in evaluated), f"{name}: no case where it fires"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in evaluated), (
            f"{name}: no case where it stays quiet"
        )


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_links_its_runbook_section_and_is_documented() -> None:
    anchors = _anchors(RUNBOOKS.read_text())
    alerts_doc = ALERTS_DOC.read_text()
    for alert in _alerts():
        url = alert["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base.endswith("docs/operations/runbooks.md"), url
        assert anchor == alert["alert"].lower() and anchor in anchors, f"{alert['alert']}: no section #{anchor}"
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        assert alert["alert"] in alerts_doc, f"{alert['alert']} is missing from docs/operations/alerts.md"


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_rate_windows_are_at_least_four_scrape_intervals() -> None:
    exprs = [a["expr"] for a in _alerts()]
    exprs += [t["expr"] for p in _dashboard()["panels"] for t in p.get("targets", [])]
    windows = [w for e in exprs for w in re.findall(r"\[(\d+[smh])\]", e)]
    assert windows, "no range selector found"
    assert all(_seconds(w) >= 4 * SCRAPE_INTERVAL_SECONDS for w in windows), windows


# --------------------------------------------------------------------------- metric names


def _exposed_names() -> set[str]:
    """Every sample name the controller and the gateway expose (histogram and counter suffixes included)."""
    controller = generate_latest(ControllerMetrics().registry).decode()
    gateway = GatewayMetrics().render().decode()
    names = set()
    for text in (controller, gateway):
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                if name.endswith("_created"):
                    continue
                names.add(name)
                if kind == "histogram":
                    names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
                if kind == "counter":
                    names.add(name if name.endswith("_total") else f"{name}_total")
    return names


def _dashboard() -> dict[str, Any]:
    return json.loads((CHART / "files" / "dashboard.json").read_text())  # type: ignore[no-any-return]


def _used(expr: str) -> set[str]:
    return set(re.findall(r"\b(airoute_[a-z_]+)\b", expr))


def test_rules_and_dashboard_use_only_metrics_the_code_exposes() -> None:
    exposed = _exposed_names()
    used = {m for a in _alerts() for m in _used(a["expr"])}
    used |= {m for p in _dashboard()["panels"] for t in p.get("targets", []) for m in _used(t["expr"])}
    assert used - exposed == set(), f"unknown metrics: {sorted(used - exposed)}"


def test_dashboard_covers_what_operators_look_at() -> None:
    panels = " ".join(
        p.get("title", "") + " " + " ".join(t["expr"] for t in p.get("targets", [])) for p in _dashboard()["panels"]
    )
    for needed in (
        "airoute_backend_effective_weight",
        "airoute_request_duration_seconds_bucket",
        'outcome=~"error|timeout|auth_failed"',
        "airoute_rollout_canary_weight",
        "airoute_degraded_responses_total",
        "airoute_shed_requests_total",
    ):
        assert needed in panels, needed


def test_metrics_doc_lists_every_metric() -> None:
    doc = METRICS_DOC.read_text()
    base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in _exposed_names()}
    missing = sorted(n for n in base if f"`{n}`" not in doc and f"`{n}_total`" not in doc)
    assert not missing, f"docs/operations/metrics.md does not list: {missing}"
