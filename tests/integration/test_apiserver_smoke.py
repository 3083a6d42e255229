"""The test API server itself works: version, namespaces, RBAC, ValidatingAdmissionPolicy."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

pytestmark = pytest.mark.cluster


def test_server_answers_version(apiserver):
    version = json.loads(apiserver.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["major"] == "1"
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    assert apiserver.server.startswith("https://127.0.0.1:")


def test_namespace_can_be_created(apiserver):
    apiserver.kubectl("create", "namespace", "smoke-ns")
    phase = apiserver.kubectl("get", "namespace", "smoke-ns", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Active"


def test_rbac_denies_a_service_account_and_allows_admin(apiserver):
    kubeconfig = apiserver.service_account_kubeconfig("smoke-rbac", "reader")
    assert kubeconfig.exists()

    whoami = apiserver.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=kubeconfig)
    assert whoami.stdout == "system:serviceaccount:smoke-rbac:reader"

    denied = apiserver.kubectl("get", "secrets", "-A", kubeconfig=kubeconfig, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()

    allowed = apiserver.kubectl("get", "secrets", "-A")
    assert allowed.returncode == 0

    with pytest.raises(subprocess.CalledProcessError, match=r"(?i)forbidden"):
        apiserver.kubectl("create", "namespace", "not-allowed", kubeconfig=kubeconfig)


def test_validating_admission_policy_api_exists(apiserver):
    resources = apiserver.kubectl("api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name").stdout
    assert "validatingadmissionpolicies.admissionregistration.k8s.io" in resources.split()
    assert "validatingadmissionpolicybindings.admissionregistration.k8s.io" in resources.split()


def test_validating_admission_policy_is_enforced(apiserver):
    """The admission plugin is on, not just the API: a policy really denies."""
    apiserver.ensure_namespace("smoke-vap")
    apiserver.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "smoke-configmap-needs-owner"},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ]
                },
                "validations": [
                    {"expression": "has(object.data) && 'owner' in object.data", "message": "needs an owner"}
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "smoke-configmap-needs-owner"},
            "spec": {
                "policyName": "smoke-configmap-needs-owner",
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "smoke-vap"}}},
            },
        },
    )
    # The policy is picked up asynchronously (type checking, informer): retry briefly.
    deadline = time.monotonic() + 30
    while True:
        denied = apiserver.kubectl("create", "configmap", "no-owner", "-n", "smoke-vap", check=False)
        if denied.returncode != 0 or time.monotonic() > deadline:
            break
        apiserver.kubectl("delete", "configmap", "no-owner", "-n", "smoke-vap")
        time.sleep(0.5)
    assert denied.returncode != 0, "the ValidatingAdmissionPolicy did not deny"
    assert "needs an owner" in denied.stderr
    apiserver.kubectl("create", "configmap", "with-owner", "-n", "smoke-vap", "--from-literal=owner=me")


def test_crds_of_the_repository_are_established(apiserver):
    crds_dir = apiserver.crds_dir
    files = sorted(crds_dir.glob("*.y*ml")) if crds_dir is not None and crds_dir.is_dir() else []
    if not files:
        pytest.skip(f"no CRDs to install in {crds_dir}")
    crds = apiserver.kubectl("get", "crd", "-o", "json")
    established = {
        item["metadata"]["name"]
        for item in json.loads(crds.stdout)["items"]
        for condition in item.get("status", {}).get("conditions", [])
        if condition["type"] == "Established" and condition["status"] == "True"
    }
    assert "airoutes.airoute.dev" in established
    apiserver.kubectl("get", "airoutes", "-A")
