"""A route the gateways cannot serve tells the truth (issue 18.3): the gateway leaves it out and
publishes why, the controller reads that through Prometheus into ``Served`` and ``Ready`` (the
``kubectl get air`` column), and clients get a 503 naming the route. Real API server, gateway
process, Prometheus and ``airoute controller`` process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.routes import secret
from tests.support.stack import Stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    s = Stack(apiserver, "served", tmp_path_factory.mktemp("served-logs")).start()
    try:
        yield s
    finally:
        s.close()


def _chat(stack: Stack, model: str) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(f"{stack.gateway_url}/v1/chat/completions", body,
                                     {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _ready_column(stack: Stack, name: str) -> str:
    out = stack.apiserver.kubectl("get", "air", name, "-n", stack.namespace, "-o",
                                  'jsonpath={.status.conditions[?(@.type=="Ready")].status}').stdout
    return str(out)


def test_a_missing_secret_is_not_served_not_ready_and_answered_503(stack: Stack) -> None:
    name = "needs-creds"
    route = stack.route(name)
    route["spec"]["backends"][0]["openAICompatible"]["credentialsSecretRef"] = {"name": "b0-creds"}
    stack.apply(route)
    served = wait_for("Served=False from the gateways", lambda: (c := stack.condition(name, "Served")).get(
        "status") == "False" and c, 60)
    assert served["reason"] == "SecretNotFound" and "backend b0" in served["message"]
    assert stack.condition(name, "Ready")["reason"] == "SecretNotFound"
    assert _ready_column(stack, name) == "False"
    status, answer = _chat(stack, name)
    assert status == 503 and answer["error"]["code"] == "route_unavailable"
    assert f"AIRoute {stack.namespace}/{name}" in answer["error"]["message"]

    stack.apiserver.apply(secret("b0-creds", {"api-key": "sk-emulated"}, namespace=stack.namespace))
    wait_for("Served=True once the Secret exists", lambda: stack.condition(name, "Served").get("status") == "True",
             60)
    assert _ready_column(stack, name) == "True"
    assert _chat(stack, name)[0] == 200
