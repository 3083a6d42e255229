"""The Argo CD health check for AIRoute (the Lua block of docs/gitops.md), run with a real Lua
interpreter (Debian's lua5.4) the way Argo CD runs it: ``obj`` set, the script's ``return`` read.

Argo CD embeds gopher-lua (Lua 5.1); the script uses nothing that differs between 5.1 and 5.4.
Skipped when no Lua interpreter is installed (`apt-get install lua5.4`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

GITOPS = REPO_ROOT / "docs" / "gitops.md"
LUA = shutil.which("lua5.4") or shutil.which("lua5.3") or shutil.which("lua")


def _script() -> str:
    text = GITOPS.read_text()
    match = re.search(r"<!-- argocd-health-lua:.*?-->\n```lua\n(.*?)```", text, re.S)
    assert match, "docs/gitops.md has no marked ```lua block"
    return match.group(1)


def _lua(value: Any) -> str:
    """A Python value as a Lua literal."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    if LUA is None:
        pytest.skip("no Lua interpreter (apt-get install lua5.4)")
    program = (
        f"obj = {_lua(obj)}\n"
        f"local function check()\n{_script()}\nend\n"
        'local hs = check()\nio.write(hs.status, "\\n", hs.message or "")\n'
    )
    done = subprocess.run([LUA, "-"], input=program, capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 0, done.stderr
    status, _, message = done.stdout.partition("\n")
    return status, message


def route(generation: int = 3, observed: int | None = 3, **conditions: tuple[str, str, str]) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "support-chat", "generation": generation}}
    if observed is not None or conditions:
        obj["status"] = {
            "observedGeneration": observed,
            "conditions": [{"type": t, "status": s, "reason": r, "message": m} for t, (s, r, m) in conditions.items()],
        }
    return obj


SERVING = ("True", "Serving", "azure-eu=50 bedrock-eu=50")
QUIET = {
    "Degraded": ("False", "AllBackendsIn", "every weighted backend is serving"),
    "Progressing": ("False", "NoRollout", ""),
    "RolledBack": ("False", "NoRollback", ""),
    "MetricsAvailable": ("True", "MetricsReceived", "health signals were read"),
}


def test_a_new_route_is_progressing_until_the_controller_writes_status() -> None:
    assert health(route(observed=None)) == ("Progressing", "Waiting for the airoute controller to evaluate the route")


def test_a_changed_spec_is_progressing_until_it_is_evaluated() -> None:
    status, message = health(route(generation=4, observed=3, Ready=SERVING, **QUIET))
    assert (status, message) == ("Progressing", "Waiting for the airoute controller to evaluate generation 4")


def test_a_serving_route_is_healthy() -> None:
    assert health(route(Ready=SERVING, **QUIET)) == ("Healthy", "Serving: azure-eu=50 bedrock-eu=50")


def test_every_backend_down_is_degraded() -> None:
    down = ("False", "AllBackendsDown", "every backend is out; traffic is spread by desired weights as a last resort")
    status, message = health(route(Ready=down, **{**QUIET, "Degraded": ("True", "AllBackendsDown", "")}))
    assert status == "Degraded" and message.startswith("AllBackendsDown: every backend is out")


def test_failover_in_progress_is_degraded() -> None:
    out = ("True", "BackendsOut", "azure-eu out: error rate 0.42 above 0.05")
    assert health(route(Ready=SERVING, **{**QUIET, "Degraded": out})) == (
        "Degraded",
        "BackendsOut: azure-eu out: error rate 0.42 above 0.05",
    )


def test_a_rolled_back_canary_is_degraded() -> None:
    rolled = ("True", "CanaryRolledBack", "vertex-eu: 2 failed checks")
    assert health(route(Ready=SERVING, **{**QUIET, "RolledBack": rolled}))[0] == "Degraded"


def test_a_canary_is_progressing_and_a_paused_one_suspended() -> None:
    stepping = ("True", "RolloutProgressing", "vertex-eu: step 2 of 4 (20%)")
    assert health(route(Ready=SERVING, **{**QUIET, "Progressing": stepping}))[0] == "Progressing"
    paused = ("True", "RolloutPaused", "vertex-eu: paused by airoute abort")
    assert health(route(Ready=SERVING, **{**QUIET, "Progressing": paused}))[0] == "Suspended"


def test_missing_health_signals_are_mentioned_but_not_degraded() -> None:
    blind = ("False", "MetricsUnavailable", "prometheus: connection refused")
    status, message = health(route(Ready=SERVING, **{**QUIET, "MetricsAvailable": blind}))
    assert status == "Healthy"
    assert "health signals unavailable: MetricsUnavailable: prometheus: connection refused" in message
