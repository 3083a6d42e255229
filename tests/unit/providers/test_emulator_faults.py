"""Fault rules: validation, scoping to a model or a model version, seeded randomness, replies."""

from __future__ import annotations

import pytest

from airoute.emulators import FaultController, Faults, Stats
from airoute.emulators.replies import ToolSpec, Turn, make_reply
from airoute.emulators.stats import RequestRecord


@pytest.mark.parametrize(("fields", "message"), [
    ({"error_rate": 1.5}, "error_rate must be between 0 and 1"),
    ({"latency": -1}, "latency must not be negative"),
    ({"error_status": 200}, "error_status must be an HTTP error status"),
    ({"down": "sideways"}, "down must be one of"),
    ({"jitter_dist": "cauchy"}, "jitter_dist must be one of"),
])
def test_invalid_faults(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(**fields)  # type: ignore[arg-type]


def test_unknown_fields_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown fault field\\(s\\): latencyy"):
        Faults.from_dict({"latencyy": 1})


def test_scope_by_model_and_version() -> None:
    controller = FaultController()
    controller.set(Faults(error_rate=1.0, model="gpt-4o-canary", version="v2"),
                   Faults(latency=0.5))
    assert controller.decide("gpt-4o-canary").action == "ok"  # v1 served: the first rule sleeps
    assert controller.decide("gpt-4o-canary").delay == 0.5
    controller.switch_version("v2")
    decision = controller.decide("gpt-4o-canary")
    assert (decision.action, decision.status) == ("error", 500)
    assert controller.decide("gpt-4o").action == "ok"


def test_seeded_decisions_repeat_and_reset_reseeds() -> None:
    def run(controller: FaultController) -> list[str]:
        return [controller.decide("m").action for _ in range(50)]

    first = FaultController(seed=3)
    first.set(error_rate=0.3, throttle_rate=0.2, jitter=0.1, jitter_dist="exponential")
    actions = run(first)
    second = FaultController(seed=3)
    second.set(error_rate=0.3, throttle_rate=0.2, jitter=0.1, jitter_dist="exponential")
    assert run(second) == actions
    assert {"ok", "error", "throttle"} <= set(actions)
    first.reset()
    first.set(error_rate=0.3, throttle_rate=0.2, jitter=0.1, jitter_dist="exponential")
    assert run(first) == actions


def test_admin_document_round_trip() -> None:
    controller = FaultController()
    controller.load({"model_version": "v3", "rules": [{"cut_after": 2, "model": "m"}]})
    assert controller.model_version == "v3"
    assert controller.rules == (Faults(cut_after=2, model="m"),)
    assert controller.snapshot()["rules"][0]["cut_after"] == 2
    with pytest.raises(ValueError, match="rules\\[0\\]: error_rate"):
        controller.load({"rules": [{"error_rate": 2}]})


def test_listeners_hear_every_change() -> None:
    controller = FaultController()
    heard: list[bool] = []
    controller.subscribe(lambda: heard.append(controller.refusing))
    controller.set(down="refuse")
    controller.clear()
    assert heard == [True, False]


def test_stats_filters() -> None:
    stats = Stats()
    stats.record(RequestRecord("chat", "/v1/chat/completions", "a", "v1", False, "ok", 200))
    stats.record(RequestRecord("chat", "/v1/chat/completions", "a", "v1", False, "ok", 200))
    stats.record(RequestRecord("chat", "/v1/chat/completions", "b", "v1", True, "cut", 200))
    assert stats.count(model="a") == 2
    assert stats.count(streamed=True, outcome="cut") == 1
    assert stats.snapshot()["total"] == 3
    with pytest.raises(TypeError, match="unknown filter"):
        stats.count(colour="red")


def test_replies_echo_and_call_tools() -> None:
    reply = make_reply("azure", Turn(model="gpt", last_user="x " * 100, prompt_words=100))
    assert reply.text is not None and reply.text.startswith("[azure:gpt] reply to: x x")
    assert reply.text.endswith("…")
    assert "".join(reply.pieces()) == reply.text
    short = make_reply("azure", Turn(model="gpt", last_user="hello there", max_tokens=2))
    assert (short.text, short.finish) == ("[azure:gpt] reply", "length")
    tool = make_reply("vertex", Turn(model="g", last_user="Rome", tools=(ToolSpec(
        "weather", {"properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                    "required": ["city", "unit"]}),)))
    assert tool.tool_call is not None and tool.finish == "tool_calls"
    assert tool.tool_call.arguments == {"city": "Rome", "unit": "c"}
