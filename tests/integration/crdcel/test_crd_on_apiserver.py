"""The generated CRD on the real kube-apiserver: CEL rules, schema, status subresource, columns.

Each file in ``invalid/`` is an AIRoute the API server must reject; its ``# error:`` lines are
the exact messages the server returns (the Envoy AI Gateway ``tests/crdcel`` pattern). Our own
Python validator must reject the same files, so ``airoute validate`` and the cluster agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airoute.api import InvalidRoute, parse_route
from tests.support.paths import EXAMPLES

pytestmark = pytest.mark.cluster

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def _expected(path: Path) -> list[str]:
    return [line.removeprefix("# error: ") for line in path.read_text().splitlines() if line.startswith("# error: ")]


def test_there_are_enough_cases() -> None:
    assert len(INVALID) >= 15
    assert all(_expected(p) for p in INVALID), "every case names the message it expects"


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_airoute_is_rejected_with_its_message(apiserver: Any, case: Path) -> None:
    done = apiserver.kubectl("apply", "--server-side", "--dry-run=server", "-f", str(case), check=False)
    assert done.returncode != 0, f"{case.name} was accepted"
    for message in _expected(case):
        assert message in done.stderr, f"expected {message!r}\n got {done.stderr!r}"


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_python_validator_rejects_it_too(case: Path) -> None:
    with pytest.raises(InvalidRoute):
        parse_route(yaml.safe_load(case.read_text()), case.name)


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_are_accepted(apiserver: Any, example: Path) -> None:
    namespace = yaml.safe_load(example.read_text())["metadata"]["namespace"]
    apiserver.kubectl("create", "namespace", namespace, check=False)
    apiserver.kubectl("apply", "--server-side", "-f", str(example))
    stored = json.loads(apiserver.kubectl("get", "-f", str(example), "-o", "json").stdout)
    # The server applied the CRD's defaults.
    assert stored["spec"]["health"]["window"]
    assert stored["spec"]["rollout"]["steps"][-1] == 100
    parse_route(stored)  # and what the server stores is valid for the Python models too


def _route(apiserver: Any, name: str) -> dict[str, Any]:
    return json.loads(apiserver.kubectl("get", "airoute", name, "-n", "status-test", "-o", "json").stdout)  # type: ignore[no-any-return]


def test_status_subresource_and_generation(apiserver: Any) -> None:
    apiserver.kubectl("create", "namespace", "status-test", check=False)
    route = yaml.safe_load((EXAMPLES / "marketing-copy.yaml").read_text())
    route["metadata"] = {"name": "gen", "namespace": "status-test"}
    apiserver.apply(route)
    first = _route(apiserver, "gen")
    status = {
        "status": {
            "observedGeneration": 1,
            "weights": {"bedrock-eu": 70, "vertex-eu": 30},
            "weightsSummary": "bedrock-eu=70 vertex-eu=30",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Serving",
                    "message": "",
                    "lastTransitionTime": "2026-11-22T00:00:00Z",
                }
            ],
        }
    }
    apiserver.kubectl(
        "patch", "airoute", "gen", "-n", "status-test", "--subresource=status", "--type=merge", "-p", json.dumps(status)
    )
    after_status = _route(apiserver, "gen")
    assert after_status["metadata"]["generation"] == first["metadata"]["generation"]
    assert after_status["status"]["weights"] == {"bedrock-eu": 70, "vertex-eu": 30}
    # A status written through the main resource is ignored; a spec change bumps generation.
    patch = {"spec": {"tier": "critical"}, "status": {"weightsSummary": "ignored"}}
    apiserver.kubectl("patch", "airoute", "gen", "-n", "status-test", "--type=merge", "-p", json.dumps(patch))
    after_spec = _route(apiserver, "gen")
    assert after_spec["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert after_spec["status"]["weightsSummary"] == "bedrock-eu=70 vertex-eu=30"


def test_printer_columns(apiserver: Any) -> None:
    apiserver.kubectl("create", "namespace", "columns-test", check=False)
    route = yaml.safe_load((EXAMPLES / "marketing-copy.yaml").read_text())
    route["metadata"] = {"name": "cols", "namespace": "columns-test"}
    apiserver.apply(route)
    at = "2026-11-22T10:00:00Z"
    conditions = [
        {"type": "Ready", "status": "True", "reason": "Serving", "message": "served", "lastTransitionTime": at},
        {"type": "Degraded", "status": "True", "reason": "BackendEjected", "message": "out", "lastTransitionTime": at},
    ]
    apiserver.kubectl("patch", "airoute", "cols", "-n", "columns-test", "--subresource=status", "--type=merge",
                      "-p", json.dumps({"status": {"conditions": conditions}}))
    done = apiserver.kubectl("get", "air", "-n", "columns-test")
    header, row = done.stdout.splitlines()[0].split(), done.stdout.splitlines()[1].split()
    assert header == ["NAME", "MODEL", "TIER", "WEIGHTS", "ROLLOUT", "READY", "DEGRADED", "AGE"]
    assert row[:3] == ["cols", "marketing-copy", "standard"]
    assert row[-3:-1] == ["True", "True"], "served, and degraded during a failover (issue 18.9)"
    assert "cols" in apiserver.kubectl("get", "ai", "-A").stdout  # the "ai" category


def test_explain_reads_the_descriptions(apiserver: Any) -> None:
    out = apiserver.kubectl("explain", "airoute.spec.backends").stdout
    assert "exactly one provider block" in out or "Where the traffic goes" in out
    weight = apiserver.kubectl("explain", "airoute.spec.backends.weight").stdout
    assert "standby backend" in weight
    assert "Entra ID" in apiserver.kubectl("explain", "airoute.spec.backends.azureOpenAI.credentialsSecretRef").stdout
