"""The governance policy cases (tests/integration/chart/policy-cases) and the parameters they are
judged with, shared by the real API server's test and ``airoute validate --policies``' test.

A case is created in ``policy-test`` unless a ``# namespace:`` line names another; the parameters
are the shipped ConfigMap with :data:`TEST_PARAMS` over it (the shipped values list no vendor host
and no namespace allowed critical or insecure routes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT

CASES_DIR = REPO_ROOT / "tests/integration/chart/policy-cases"
CASES = sorted(CASES_DIR.glob("*.yaml"))
PARAMS_FILE = REPO_ROOT / "policies/admission/governance-params.yaml"
NS = "policy-test"
LAB_NS = "policy-test-lab"
TEST_PARAMS = {"endpointHosts": "api.mistral.example, .corp-proxy.example", "criticalNamespaces": NS,
               "insecureNamespaces": LAB_NS}


def header(path: Path, key: str) -> list[str]:
    prefix = f"# {key}: "
    return [line.removeprefix(prefix) for line in path.read_text().splitlines() if line.startswith(prefix)]


def case_object(path: Path) -> dict[str, Any]:
    """The case's AIRoute, in its namespace."""
    obj: dict[str, Any] = yaml.safe_load(path.read_text())
    obj["metadata"]["namespace"] = (header(path, "namespace") or [NS])[0]
    return obj


def governance_params() -> dict[str, Any]:
    """The governance ConfigMap the cases are judged with."""
    doc: dict[str, Any] = yaml.safe_load(PARAMS_FILE.read_text())
    doc["data"] = {**doc["data"], **TEST_PARAMS}
    return doc
