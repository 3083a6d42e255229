"""The decision log line: logfmt that a parser reads back exactly (issue 18.8)."""

from __future__ import annotations

import logging
import shlex

import pytest

from airoute.controller.decisions import decision_fields, log_decision, logfmt
from airoute.core.events import Event


def test_fields_of_a_backend_decision() -> None:
    event = Event("Warning", "BackendEjected", "azure-eu ejected: error rate 0.42 > 0.05", "azure-eu")
    assert decision_fields("support/chat", event, {"azure-eu": 50}, {"azure-eu": 0}) == {
        "route": "support/chat",
        "backend": "azure-eu",
        "from_weight": 50,
        "to_weight": 0,
        "type": "Warning",
        "reason": "BackendEjected",
        "message": "azure-eu ejected: error rate 0.42 > 0.05",
    }


def test_a_route_decision_has_no_weights() -> None:
    fields = decision_fields("support/chat", Event("Normal", "RouteReady", "ready"), {"a": 1}, {"a": 1})
    assert "backend" not in fields and "from_weight" not in fields


@pytest.mark.parametrize("message", ['say "hi" = 1\\2', "two\nlines", "plain", ""])
def test_logfmt_reads_back(message: str) -> None:
    line = logfmt({"reason": "X", "message": message})
    parsed = dict(pair.split("=", 1) for pair in shlex.split(line))
    assert parsed["message"].replace("\\n", "\n") == message


def test_logged_at_info_with_the_fields_on_the_record(caplog: pytest.LogCaptureFixture) -> None:
    event = Event("Warning", "CanaryRolledBack", "canary of b rolled back: error rate", "b")
    with caplog.at_level(logging.INFO, logger="airoute.controller.decisions"):
        log_decision("ns/r", event, {"b": 30}, {"b": 30})
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        'decision route=ns/r backend=b from_weight=30 to_weight=30 type=Warning reason=CanaryRolledBack '
        'message="canary of b rolled back: error rate"'
    )
    assert record.decision["reason"] == "CanaryRolledBack"  # type: ignore[attr-defined]
