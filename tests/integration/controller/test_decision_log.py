"""Every decision in the controller's log with the same reason and message as its Event, the
backend's weight before and after, and no secret (issue 18.8). Real API server, gateway,
Prometheus and ``airoute controller`` process; a drill run through the CLI."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.stack import Stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]

PROMETHEUS_TOKEN = "prom-token-5ecret-9f3a7c"
WEBHOOK_SECRET = "hook-5ecret-77c1d0"


@pytest.fixture(scope="module")
def stack(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    logs = tmp_path_factory.mktemp("decisions-logs")
    secrets = tmp_path_factory.mktemp("decisions-secrets")
    token, hook = Path(secrets / "prometheus-token"), Path(secrets / "webhook-url")
    token.write_text(PROMETHEUS_TOKEN)
    hook.write_text(f"http://127.0.0.1:9/hooks/{WEBHOOK_SECRET}")  # nothing listens: the post fails
    s = Stack(apiserver, "decisions", logs).start(controller=False)
    s.controller = s.new_controller(
        "controller", "--standalone", "--prometheus-token-file", str(token), "--webhook-url-file", str(hook)
    )
    s.controller.start()
    try:
        yield s
    finally:
        s.close()


def _decisions(log: str) -> list[dict[str, str]]:
    """The logfmt fields of every ``decision`` line."""
    out = []
    for line in log.splitlines():
        _, found, rest = line.partition(" decision ")
        if found:
            out.append(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return out


def test_every_event_is_a_structured_log_line_without_secrets(stack: Stack) -> None:
    name = "logged"
    stack.apply(stack.route(name))
    wait_for(f"{name} at its declared weights", lambda: stack.weights(name) == {"b0": 50, "b1": 30, "b2": 20})
    done = subprocess.run(
        [sys.executable, "-m", "airoute.cli", "drill", "start", f"{stack.namespace}/{name}", "b2", "--for", "2s"],
        env=stack.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    wait_for("the drill report", lambda: "DrillCompleted" in {e["reason"] for e in stack.events(name)}, 60)
    events = {(e["reason"], e["message"]) for e in stack.events(name)}
    logged = wait_for(
        "every Event in the log",
        lambda: (d := [x for x in _decisions(stack.controller.output()) if x["route"] == f"{stack.namespace}/{name}"])
        and events <= {(x["reason"], x["message"]) for x in d}
        and d,
        30,
    )
    assert {"DrillStarted", "DrillCompleted"} <= {x["reason"] for x in logged}
    out = [x for x in logged if x.get("backend") == "b2" and x.get("to_weight") == "0"]
    assert out and out[0]["from_weight"] == "20", f"the drill's weight change, from and to: {logged}"
    text = stack.controller.output()
    assert PROMETHEUS_TOKEN not in text and WEBHOOK_SECRET not in text
