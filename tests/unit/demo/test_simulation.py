"""The simulation the README's demo prints tells the story the core decides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airoute.cli import main
from airoute.core.weights import normalized
from airoute.demo.simulation import outage_then_canary, simulate
from tests.support.paths import EXAMPLES


@pytest.mark.parametrize("example", ["support-chat.yaml", "openai-with-fallbacks.yaml", "marketing-copy.yaml"])
def test_outage_then_bad_canary(example: str) -> None:
    obj = yaml.safe_load((EXAMPLES / example).read_text())
    first = obj["spec"]["backends"][0]["name"]
    moments = list(simulate(obj, outage_then_canary(obj)))
    during = [m for m in moments if 120 <= m.at < 180]
    assert during and all(m.weights[first] == 0 for m in during), "the failing backend gets no traffic"
    assert all(sum(m.weights.values()) == 100 for m in moments)
    reasons = [e.reason for m in moments for e in m.events]
    assert "BackendEjected" in reasons and "BackendRecovered" in reasons
    assert reasons.index("CanaryStarted") < reasons.index("CanaryRolledBack")
    last = moments[-1]
    assert last.canary == {}, "after the rollback the canary gets nothing"
    desired = {b["name"]: b["weight"] for b in obj["spec"]["backends"]}
    assert last.weights == normalized(desired), "and every backend is back at its declared weight"


def test_demo_simulate_command_prints_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--simulate"]) == 0
    out = capsys.readouterr().out
    assert "BackendEjected" in out and "CanaryRolledBack" in out


def test_demo_simulate_refuses_an_invalid_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    doc = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    doc["spec"]["tier"] = "gold"
    bad.write_text(yaml.safe_dump(doc))
    assert main(["demo", "--simulate", "--route", str(bad)]) == 2
    assert "spec.tier" in capsys.readouterr().err
