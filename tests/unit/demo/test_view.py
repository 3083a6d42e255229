"""The live view, the ending, the feed and the PNG's bands, one rule at a time."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from airoute.api import AIRouteStatus
from airoute.demo.ending import ending, problems
from airoute.demo.load import Answer, Seen, Tally, judge
from airoute.demo.report import markdown, weight_bands
from airoute.demo.scenario import PHASES, Findings, Mark, Sample
from airoute.demo.terminal import Feed
from airoute.demo.view import FeedLine, Frame, render
from tests.unit.demo.scripted_view import measured

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama")
WHY = "error rate, latency and throttling within thresholds"


def _status(canary: int = 0) -> AIRouteStatus:
    weights = {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    backends = [
        {"name": n, "health": "Healthy", "message": WHY, "errorRate": 0.0, "latencyP95": 0.07} for n in BACKENDS
    ]
    return AIRouteStatus.model_validate(
        {"weights": weights, "backends": backends, "canaryWeights": {"bedrock-eu": canary} if canary else {}}
    )


def _frame(feed: int = 40, canary: int = 0) -> Frame:
    findings = Findings(started=1000.0)
    findings.marks = [Mark(1000.0 + 10 * n, p) for n, p in enumerate(PHASES[:3])]
    findings.outcomes = {p.key: "a long outcome " * 6 for p in PHASES[:2]}
    lines = [FeedLine(1000.0 + n, "BackendEjected", f"decision {n}: " + "words " * 30) for n in range(feed)]
    return Frame(1042.0, findings, _status(canary), Tally(), lines, "support/support-chat")


def _screen(renderable: RenderableType, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True)
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


@pytest.mark.parametrize(("width", "height"), [(80, 24), (100, 30), (160, 48), (60, 16), (40, 10)])
def test_the_view_fits_the_terminal_one_line_per_row(width: int, height: int) -> None:
    lines = _screen(render(_frame(), width, height), width, height)
    assert len(lines) <= height - 1, "the region never reaches the last line, so it never scrolls"
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("airoute demo")
    if height >= 16:
        assert sum(1 for line in lines if line.split()[:2] == ["backend", "weight"]) == 1
        for name in BACKENDS:
            assert sum(1 for line in lines if line.startswith(name + " ")) == 1, "one line per backend"
        assert "decision 39" in "\n".join(lines), "the newest decision is shown"


def test_columns_are_dropped_least_useful_first_and_the_canary_shows_while_it_runs() -> None:
    plain = _screen(render(_frame(), 80, 24), 80, 24)
    narrow = _screen(render(_frame(canary=10), 80, 24), 80, 24)
    wide = _screen(render(_frame(canary=10), 160, 48), 160, 48)
    head = next(line for line in plain if line.startswith("backend")).split()
    assert head == ["backend", "weight", "health", "why", "errors", "p95"], "no canary column without a canary"
    head = next(line for line in narrow if line.startswith("backend")).split()
    assert head == ["backend", "weight", "health", "canary", "why", "errors"], "p95 goes first"
    tiny = _screen(render(_frame(canary=10), 40, 24), 40, 24)
    assert next(line for line in tiny if line.startswith("backend")).split() == ["backend", "weight"]
    head = next(line for line in wide if line.startswith("backend")).split()
    assert head == ["backend", "weight", "health", "canary", "why", "errors", "p95"]
    bedrock = next(line for line in wide if line.startswith("bedrock-eu"))
    assert "▒" in bedrock and "10%" in bedrock, "the canary's share is drawn apart in the bar and named"


def test_phases_show_done_running_and_to_come() -> None:
    lines = _screen(render(_frame(), 160, 48), 160, 48)
    marks = [line[:5] for line in lines[1 : 1 + len(PHASES)]]
    assert marks == ["✓ 1/6", "✓ 2/6", "▶ 3/6", "· 4/6", "· 5/6", "· 6/6"]


def test_a_very_short_terminal_keeps_only_the_running_phase() -> None:
    lines = _screen(render(_frame(), 80, 12), 80, 12)
    assert [line[:5] for line in lines if line[:1] in "✓▶·"] == ["▶ 3/6"]


def test_the_feed_keeps_a_decision_once_and_leaves_rebalancing_to_the_table() -> None:
    feed = Feed()
    for reason, message in (("X", "m"), ("WeightChanged", "w")):
        # what the controller's loop does: the decision's log line, then the decision itself
        decisions = logging.getLogger("airoute.controller.decisions")
        record = decisions.makeRecord(decisions.name, logging.INFO, __file__, 1, "decision %s", (reason,), None,
                                      extra={"decision": {"reason": reason, "message": message}})
        feed.log(record)
        feed.decision(time.time(), reason, message, warning=False)
    feed.log(logging.LogRecord("botocore", logging.WARNING, __file__, 1, "careful\nsecond line", (), None))
    assert [(line.label, line.text) for line in feed.lines] == [
        ("X", "m"),
        ("WARNING", "botocore: careful\nsecond line"),
    ]
    lines = _screen(render(_frame(0).__class__(**{**_frame(0).__dict__, "feed": feed.lines}), 80, 24), 80, 24)
    assert "second line" not in "\n".join(lines), "a multi-line record takes one line of the view"


def test_the_tally_judges_each_answer() -> None:
    tally = Tally()
    tally.add(1.0, judge(Answer(200, False, b"{}"), streamed=False), 0.1)
    tally.add(2.0, judge(Answer(503, False, b"{}"), streamed=False), 0.1)
    tally.add(3.0, judge(Answer(200, True, b"{}"), streamed=False), 0.1)
    tally.add(4.0, Seen(failure="ClientConnectionError"), 0.1)
    assert (tally.ok, tally.failed, tally.degraded, tally.total) == (1, 3, 1, 4)
    assert tally.failures == ["HTTP 503", "degraded answer", "ClientConnectionError"]
    assert tally.failed_between(1.5, 3.5) == 2


WHOLE = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize(("body", "failure"), [
    (WHOLE, None),
    (b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n\n\ndata: {"error": {"message": "the answer was '
     b'interrupted", "code": "stream_interrupted"}}\n\n', "stream ended with an error event"),
    (b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n', "stream ended before data: [DONE]"),
])
def test_a_200_stream_that_ends_in_an_error_or_early_is_a_failure(body: bytes, failure: str | None) -> None:
    assert judge(Answer(200, False, body), streamed=True).failure == failure
    assert judge(Answer(200, False, WHOLE), streamed=False).good  # JSON answers are not read as streams


def _finished(failed: int = 0) -> tuple[Findings, Tally]:
    findings = Findings(started=0.0, ended=60.0)
    findings.marks = [Mark(10.0 * n, p) for n, p in enumerate(PHASES)]
    findings.outcomes = {p.key: f"outcome {p.key}" for p in PHASES}
    measured(findings)
    tally = Tally()
    for n in range(9903):
        tally.add(float(n), Seen(failure="HTTP 502") if n < failed else Seen(), 0.1)
    return findings, tally


def test_the_ending_fits_one_screen_with_the_figures_files_and_next_steps() -> None:
    findings, tally = _finished()
    files = (Path("demo-output/timeline.png"), Path("demo-output/report.md"), Path("/tmp/airoute-demo-abcdefgh"))
    lines = _screen(ending(findings, tally, files, 92.0), 80, 24)
    text = "\n".join(lines)
    assert len(lines) <= 22, text
    assert lines[0] == "✓ airoute demo passed in 1:32"
    for shown in ("in 4.5 s", "0 of 9,903 requests", "6.1 s", "7.8 s", "passed: traffic away after 0.0 s"):
        assert shown in text
    for shown in ("demo-output/timeline.png", "demo-output/report.md", "airoute demo --simulate", "charts/airoute"):
        assert shown in text
    assert problems(findings, tally) == []


def test_the_ending_says_what_did_not_hold() -> None:
    findings, tally = _finished(failed=3)
    findings.canary_weight_after = 10
    files = (None, Path("r.md"), Path("/tmp/f"))
    first = _screen(ending(findings, tally, files, 92.0), 120, 24)[0]
    assert first.startswith("✗ airoute demo failed in 1:32: 3 client request(s) failed; the bad canary kept traffic")


def test_the_canary_is_its_own_band_and_the_bands_add_up_to_the_weights() -> None:
    findings = Findings(started=0.0)
    for n, canary in enumerate((0, 10, 50, 0)):
        weights = {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
        findings.samples.append(Sample(float(n), weights, {}, {"bedrock-eu": canary} if canary else {}, 10.0, 0.0))
    bands = {label: values for label, _, values in weight_bands(findings)}
    assert list(bands) == ["azure-eu", "bedrock-eu", "bedrock-eu canary", "vertex-eu", "local-llama"]
    assert bands["bedrock-eu canary"] == [0.0, 3.0, 15.0, 0.0]
    assert bands["bedrock-eu"] == [30.0, 27.0, 15.0, 30.0]
    assert all(sum(b[i] for b in bands.values()) == 100 for i in range(4))
    findings.samples = findings.samples[:1]
    assert "bedrock-eu canary" not in [label for label, _, _ in weight_bands(findings)], "no canary, no band"


def test_the_report_lists_each_phase_with_what_it_showed() -> None:
    findings, tally = _finished()
    report = markdown(findings, tally, Path("timeline.png"))
    for n, phase in enumerate(PHASES):
        assert f"- {10.0 * n:6.1f} s — {phase.title}: outcome {phase.key}" in report
    assert "| drill result | passed: traffic away after 0.0 s" in report
    assert report.rstrip().endswith("![timeline](timeline.png)")
