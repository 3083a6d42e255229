"""The permission matrix of the chart's ServiceAccounts: what each may and may not do.

Asked of the real API server by tests/integration/chart/test_rbac.py (`kubectl auth can-i` with
each ServiceAccount's own token); docs/security.md shows the same table (a unit test keeps them
in step).
"""

from __future__ import annotations

SERVED = "airoute-chart-routes"  # the release's first served namespace
HOME = "airoute-chart"  # the release namespace
ELSEWHERE = "default"  # a namespace the release does not serve

# (what, kubectl auth can-i arguments, controller may, gateway may)
MATRIX: list[tuple[str, list[str], bool, bool]] = [
    ("list/watch AIRoutes (served ns)", ["watch", "airoutes.airoute.dev", "-n", SERVED], True, True),
    ("get AIRoutes (served ns)", ["get", "airoutes.airoute.dev", "-n", SERVED], True, True),
    ("patch AIRoutes: metadata (served ns)", ["patch", "airoutes.airoute.dev", "-n", SERVED], True, False),
    (
        "patch AIRoute status (served ns)",
        ["patch", "airoutes.airoute.dev", "--subresource=status", "-n", SERVED],
        True,
        False,
    ),
    ("create Events (served ns)", ["create", "events", "-n", SERVED], True, False),
    ("patch KopfPeerings (served ns)", ["patch", "kopfpeerings.kopf.dev", "-n", SERVED], True, False),
    ("list Namespaces (cluster)", ["list", "namespaces"], False, False),
    (
        "get the AIRoute CRD (cluster)",
        ["get", "customresourcedefinitions.apiextensions.k8s.io/airoutes.airoute.dev"],
        True,
        False,
    ),
    ("list CRDs (cluster)", ["list", "customresourcedefinitions.apiextensions.k8s.io"], False, False),
    ("list Secrets (served ns)", ["list", "secrets", "-n", SERVED], False, True),
    ("get client-key Secret (release ns)", ["get", "secrets/client-keys", "-n", HOME], False, True),
    ("list Secrets (release ns)", ["list", "secrets", "-n", HOME], False, False),
    ("list Secrets (all namespaces)", ["list", "secrets", "--all-namespaces"], False, False),
    ("list Secrets (unserved ns)", ["list", "secrets", "-n", ELSEWHERE], False, False),
    ("list AIRoutes (unserved ns)", ["list", "airoutes.airoute.dev", "-n", ELSEWHERE], False, False),
    ("create AIRoutes", ["create", "airoutes.airoute.dev", "-n", SERVED], False, False),
    ("update AIRoutes (PUT)", ["update", "airoutes.airoute.dev", "-n", SERVED], False, False),
    ("delete AIRoutes", ["delete", "airoutes.airoute.dev", "-n", SERVED], False, False),
    ("delete Secrets", ["delete", "secrets", "-n", SERVED], False, False),
    ("delete Events", ["delete", "events", "-n", SERVED], False, False),
    ("delete KopfPeerings", ["delete", "kopfpeerings.kopf.dev", "-n", SERVED], False, False),
    ("delete Deployments (release ns)", ["delete", "deployments.apps", "-n", HOME], False, False),
    ("delete Pods (release ns)", ["delete", "pods", "-n", HOME], False, False),
    ("delete Namespaces", ["delete", "namespaces"], False, False),
    ("delete CRDs", ["delete", "customresourcedefinitions.apiextensions.k8s.io"], False, False),
    ("create Pods (release ns)", ["create", "pods", "-n", HOME], False, False),
    (
        "create RoleBindings (served ns)",
        ["create", "rolebindings.rbac.authorization.k8s.io", "-n", SERVED],
        False,
        False,
    ),
    (
        "delete ValidatingAdmissionPolicies",
        ["delete", "validatingadmissionpolicies.admissionregistration.k8s.io"],
        False,
        False,
    ),
    ("anything (*/*) cluster-wide", ["*", "*", "--all-namespaces"], False, False),
]


def table(rows: list[tuple[str, bool, bool]]) -> list[str]:
    """The matrix as aligned text lines: what, controller, gateway."""
    width = max(len(what) for what, _, _ in rows)
    lines = [f"  {'':<{width}}  controller  gateway"]
    lines += [f"  {what:<{width}}  {'yes' if c else 'no':<10}  {'yes' if g else 'no'}" for what, c, g in rows]
    return lines


def expected_rows() -> list[tuple[str, bool, bool]]:
    return [(what, controller, gateway) for what, _, controller, gateway in MATRIX]
