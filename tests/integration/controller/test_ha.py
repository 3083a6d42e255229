"""Two controller replicas, proven by what the API server saw (its audit log), not by their logs.

Each replica runs as its own ServiceAccount, so every write in the audit log names who made it.
The higher-priority replica acts; the other stands by and makes no write to any AIRoute or its
status, although the routes change under both. Then the active one is killed (SIGKILL: no
goodbye, its keepalive stays until it expires) and the standby must take over within the
documented time (docs/operations/controller.md, "High availability"): not before the dead
replica's keepalive expires, and at its first cycle once it acts — counted in its cycles, not in
seconds, so a busy machine changes the measurement, not the verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.audit import AuditLog
from tests.support.fakes import wait_for
from tests.support.stack import Process, Stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]

NS = "ha"
LIFETIME, TICK = 10, 1
TAKEOVER_SLACK = 5.0
"""Seconds to list the routes again, decide and write once the dead peer's keepalive expired."""
READS = "airoute_controller_signal_reads_total"
CYCLE_SLACK = 2
"""Reads of the signals a watched version may lead the write by (sampled when it reaches the test)."""
RIGHTS = [  # the chart's controller Role
    {"apiGroups": ["airoute.dev"], "resources": ["airoutes"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["airoute.dev"], "resources": ["airoutes/status"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": ["get", "list", "watch", "patch"]},
]


def replica_kubeconfig(apiserver: Any, name: str) -> Path:
    """A ServiceAccount of its own with the controller's rights, and a kubeconfig for it."""
    kubeconfig: Path = apiserver.service_account_kubeconfig(NS, name)
    apiserver.apply(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name, "namespace": NS},
         "rules": RIGHTS},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name, "namespace": NS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NS}]},
    )  # fmt: skip
    return kubeconfig


@pytest.fixture
def ha(apiserver: Any, tmp_path: Any) -> Iterator[tuple[Stack, dict[str, Path]]]:
    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    stack = Stack(apiserver, NS, tmp_path).start(controller=False)
    apiserver.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "airoute", "namespace": NS}}
    )
    kubeconfigs = {name: replica_kubeconfig(apiserver, name) for name in ("replica-high", "replica-low")}
    try:
        yield stack, kubeconfigs
    finally:
        stack.close()


def replica(stack: Stack, name: str, priority: int, kubeconfig: Path) -> Process:
    extra = ("--priority", str(priority), "--peering-lifetime", str(LIFETIME), "--tick", str(TICK))
    return stack.new_controller(name, *extra, kubeconfig=kubeconfig)


def dead_peer_expiry(apiserver: Any, priority: int) -> float:
    """When the keepalive of the peer with ``priority`` expires, from the KopfPeering object."""
    out = apiserver.kubectl("get", "kopfpeering", "airoute", "-n", NS, "-o", "json").stdout
    peers = json.loads(out).get("status") or {}
    info = next(i for i in peers.values() if isinstance(i, dict) and i.get("priority") == priority)
    seen = dt.datetime.fromisoformat(info["lastseen"])
    seen = seen if seen.tzinfo is not None else seen.replace(tzinfo=dt.UTC)
    return seen.timestamp() + float(info["lifetime"])


def user(name: str) -> str:
    return f"system:serviceaccount:{NS}:{name}"


def test_the_standby_writes_nothing_and_takes_over_in_time(
    apiserver: Any, ha: tuple[Stack, dict[str, Path]]
) -> None:
    stack, kubeconfigs = ha
    audit = AuditLog(apiserver.audit_log)
    high = replica(stack, "replica-high", 20, kubeconfigs["replica-high"]).start()
    low: Process | None = None
    try:
        stack.apply(stack.route("ha-route"))
        wait_for("the high-priority replica to decide", lambda: stack.weights("ha-route"), 60)
        low = replica(stack, "replica-low", 10, kubeconfigs["replica-low"]).start()
        wait_for("the low-priority replica to stand by", lambda: "stands by" in low.output(), 60)

        # The routes change under both replicas: only the acting one may decide.
        changed = stack.route("ha-route")
        changed["spec"]["backends"][2]["weight"] = 0
        stack.apply(changed)
        wait_for("the active replica to decide the change", lambda: stack.weights("ha-route").get("b2") == 0, 30)
        stack.apply(stack.route("standby-sees-this-too"))
        wait_for("the new route's status", lambda: stack.weights("standby-sees-this-too"), 30)

        high.stop(signal.SIGKILL)  # no goodbye: its keepalive stays until it expires
        killed = time.time()
        expires = dead_peer_expiry(apiserver, 20)
        reads = lambda: stack.controller_metric(READS, "replica-low")  # noqa: E731
        with stack.watch("ha-route", sample=reads) as history:
            stack.apply(stack.route("ha-route"))  # b2 back at 20: a decision only an acting replica makes
            wait_for("the standby to take over", lambda: stack.weights("ha-route").get("b2") == 20, LIFETIME + 60)
            wait_for("the watch to see it", lambda: history[-1][0]["status"]["weights"].get("b2") == 20, 30)
        assert low.alive()
    finally:
        high.stop()
        if low is not None:
            low.stop()

    by_high = [w for w in audit.by(user("replica-high")) if w.namespace == NS]
    by_low = wait_for("the standby's writes in the audit log", lambda: [w for w in audit.by(user("replica-low"))
                                                                         if w.namespace == NS and w.status], 10)
    assert any(w.status for w in by_high), "the audit log shows the active replica's status writes"
    everything_by_low = [w for w in audit.by(user("replica-low")) if w.namespace == NS]
    early = [w for w in everything_by_low if w.at < killed]
    assert early == [], "the standby wrote to an AIRoute while the other acted"
    first = min(w.at for w in by_low)
    print(f"takeover: the standby's first status write {first - killed:.1f} s after the kill, "
          f"{first - expires:.1f} s after the dead replica's keepalive expired")  # fmt: skip
    # Kopf's lastseen has whole seconds on some versions: one second of tolerance.
    assert first >= expires - 1.0, "it waited for the dead replica's keepalive to expire, not less"
    # Once it acts, it decides at its first cycle; counted in its own reads of the signals (it
    # reads none while it stands by), not in seconds, so a busy machine does not change the count.
    version = next(n for v, n in history if (v.get("status") or {}).get("weights", {}).get("b2") == 20)
    assert version is not None and version <= 1 + CYCLE_SLACK, f"took {version:g} cycles of the standby"
