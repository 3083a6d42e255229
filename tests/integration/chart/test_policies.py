"""The governance ValidatingAdmissionPolicies of policies/ on the real API server: each accepts a
good AIRoute and rejects a bad one with its message (the files in policy-cases/: `# error:` lines
are the exact text the server must return, `# policy:` the policy that must say it).

The test API server is shared with other tests, so the bindings are applied scoped to one
labelled namespace (and the parameters read from it); everything else is applied as shipped.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.fakes import wait_for
from tests.support.paths import REPO_ROOT
from tests.support.policies import CASES, LAB_NS, NS, TEST_PARAMS, case_object, header

pytestmark = pytest.mark.cluster

HERE = Path(__file__).parent
POLICIES = REPO_ROOT / "policies"
LABEL = "airoute.dev/policy-test"


def _shipped() -> list[dict[str, Any]]:
    files = yaml.safe_load((POLICIES / "kustomization.yaml").read_text())["resources"]
    return [doc for f in files for doc in yaml.safe_load_all((POLICIES / f).read_text()) if doc]


def _scoped(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scoped = []
    for obj in copy.deepcopy(objects):
        if obj["kind"] == "ConfigMap":
            obj["metadata"]["namespace"] = NS
            obj["data"] = {**obj["data"], **TEST_PARAMS}
        if obj["kind"] == "ValidatingAdmissionPolicyBinding":
            obj["metadata"]["name"] += "-test"
            obj["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {LABEL: "true"}}}
            if "paramRef" in obj["spec"]:
                obj["spec"]["paramRef"]["namespace"] = NS
        scoped.append(obj)
    return scoped


def _create(apiserver: Any, obj: dict[str, Any], dry_run: bool = True) -> Any:
    namespace = obj["metadata"].get("namespace", NS)
    args = ["create", "-f", "-", "-n", namespace] + (["--dry-run=server"] if dry_run else [])
    return apiserver.kubectl(*args, input=json.dumps(obj), check=False)


@pytest.fixture(scope="module")
def policies(apiserver: Any) -> Iterator[list[dict[str, Any]]]:
    for ns in (NS, LAB_NS):
        apiserver.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {LABEL: "true"}}})
    applied = _scoped(_shipped())
    apiserver.apply(*applied)
    # Policies take effect asynchronously: wait until a known-bad route is refused by each one.
    for case in (c for c in CASES if c.name.startswith("rejected-")):
        obj = case_object(case)
        wait_for(f"{header(case, 'policy')[0]} to take effect", lambda o=obj: _create(apiserver, o).returncode != 0)
    yield applied
    for obj in reversed(applied):
        kind = obj["kind"].lower()
        ns = ["-n", obj["metadata"]["namespace"]] if "namespace" in obj["metadata"] else []
        apiserver.kubectl("delete", kind, obj["metadata"]["name"], *ns, "--ignore-not-found", check=False)


def test_there_is_a_case_for_every_policy() -> None:
    names = {o["metadata"]["name"] for o in _shipped() if o["kind"] == "ValidatingAdmissionPolicy"}
    covered = {p for c in CASES for p in header(c, "policy")}
    assert names == covered
    assert any(c.name.startswith("accepted-") for c in CASES)


def test_shipped_bindings_cover_every_namespace_but_exempt_ones() -> None:
    for binding in (o for o in _shipped() if o["kind"] == "ValidatingAdmissionPolicyBinding"):
        assert binding["spec"]["validationActions"] == ["Deny"]
        selector = binding["spec"]["matchResources"]["namespaceSelector"]
        assert selector == {
            "matchExpressions": [{"key": "airoute.dev/governance", "operator": "NotIn", "values": ["exempt"]}]
        }
        if "paramRef" in binding["spec"]:
            assert binding["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("accepted-")], ids=lambda p: p.stem)
def test_a_good_route_is_accepted(apiserver: Any, policies: list[dict[str, Any]], case: Path) -> None:
    done = _create(apiserver, case_object(case))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("rejected-")], ids=lambda p: p.stem)
def test_a_bad_route_is_rejected_with_its_message(apiserver: Any, policies: list[dict[str, Any]], case: Path) -> None:
    done = _create(apiserver, case_object(case))
    assert done.returncode != 0, f"{case.name} was accepted"
    (policy,) = header(case, "policy")
    assert f"ValidatingAdmissionPolicy '{policy}'" in done.stderr, done.stderr
    for message in header(case, "error"):
        assert message in done.stderr, f"expected {message!r}\n got {done.stderr!r}"


def test_updates_are_checked_but_metadata_only_changes_are_not(apiserver: Any, policies: list[dict[str, Any]]) -> None:
    """A spec change is validated like a create; a change that leaves the spec alone (the
    controller's annotations, a label) is not, so routes that predate a policy keep working."""
    good = yaml.safe_load((HERE / "policy-cases" / "accepted-standard-single-cloud.yaml").read_text())
    good["metadata"]["name"] = "update-check"
    assert _create(apiserver, good, dry_run=False).returncode == 0
    try:
        to_critical = apiserver.kubectl(
            "patch",
            "airoute",
            "update-check",
            "-n",
            NS,
            "--type=merge",
            "-p",
            '{"spec":{"tier":"critical"}}',
            check=False,
        )
        assert to_critical.returncode != 0
        # Turning it critical breaks two policies (two clouds, a degraded answer); the API server
        # reports whichever it evaluates first.
        assert any(
            message in to_critical.stderr
            for message in (
                "critical AIRoute update-check must span at least two clouds",
                "critical AIRoute update-check must set spec.degradedResponse",
            )
        ), to_critical.stderr

        # Tighten the parameters so that the stored route no longer complies, then touch only metadata.
        apiserver.kubectl("patch", "configmap", "airoute-governance", "-n", NS, "--type=merge",
                          "-p", '{"data":{"allowedRegions":"eu-central-1"}}')  # fmt: skip
        refused = wait_for(
            "the new allowedRegions to be used",
            lambda: (
                "outside the allowed regions (eu-central-1)"
                in _create(apiserver, {**good, "metadata": {"name": "probe"}}).stderr
            ),
        )
        assert refused
        label = apiserver.kubectl("label", "airoute", "update-check", "-n", NS, "team=support", check=False)
        assert label.returncode == 0, label.stderr
        weight = apiserver.kubectl(
            "patch", "airoute", "update-check", "-n", NS, "--type=json",
            "-p", '[{"op":"replace","path":"/spec/backends/0/weight","value":90}]', check=False,
        )  # fmt: skip
        assert weight.returncode != 0 and "backend(s) azure-eu of AIRoute update-check" in weight.stderr
    finally:
        params = next(o for o in policies if o["kind"] == "ConfigMap")
        apiserver.apply(params)
        apiserver.kubectl("delete", "airoute", "update-check", "-n", NS, "--ignore-not-found")
