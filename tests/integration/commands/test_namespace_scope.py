"""The route commands as a team sees them: a ServiceAccount with rights in its own namespace only.

``airoute status|drill|inventory`` read the namespace of ``-n`` or of the kubeconfig's context and
list cluster-wide only with ``-A`` (issue 18.5), like kubectl.
"""

from __future__ import annotations

import json

import pytest

from airoute.cli import main
from tests.support.routes import airoute, openai_backend

pytestmark = pytest.mark.cluster

TEAM, OTHER = "cli-team", "cli-other"


def _team_role() -> list[dict[str, object]]:
    """What a team is given: its own AIRoutes (read, annotate) and Events, nothing cluster-wide."""
    meta = {"name": "airoute-user", "namespace": TEAM}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [
                {"apiGroups": ["airoute.dev"], "resources": ["airoutes"], "verbs": ["get", "list", "watch", "patch"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "airoute-user"},
            "subjects": [{"kind": "ServiceAccount", "name": "dev", "namespace": TEAM}],
        },
    ]


@pytest.fixture(scope="module")
def team_kubeconfig(apiserver):
    for ns in (TEAM, OTHER):
        apiserver.ensure_namespace(ns)
    backend = openai_backend("local", 100, "http://127.0.0.1:9/v1")
    # The same name in both namespaces: the team's own is meant, never an ambiguity.
    apiserver.apply(
        airoute([backend], name="chat", namespace=TEAM, model="cli-team-chat"),
        airoute([backend], name="chat", namespace=OTHER, model="cli-other-chat"),
        *_team_role(),
    )
    return apiserver.service_account_kubeconfig(TEAM, "dev")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_reads_the_kubeconfig_namespace(team_kubeconfig, capsys):
    code, out, err = _run(capsys, "status", "chat", "--kubeconfig", str(team_kubeconfig))
    assert (code, err) == (0, "")
    assert f"{TEAM}/chat" in out and "model=cli-team-chat" in out


def test_inventory_lists_only_the_namespace(team_kubeconfig, capsys):
    code, out, err = _run(capsys, "inventory", "-o", "json", "--kubeconfig", str(team_kubeconfig))
    assert code == 0, err
    assert [r["route"] for r in json.loads(out)] == [f"{TEAM}/chat"]


def test_drill_start_annotates_the_route_in_the_namespace_given(team_kubeconfig, apiserver, capsys):
    code, out, err = _run(
        capsys, "drill", "start", "chat", "local", "--for", "1m", "-n", TEAM, "--kubeconfig", str(team_kubeconfig)
    )
    assert code == 0, err
    assert f"drill of local on {TEAM}/chat started" in out
    annotations = json.loads(apiserver.kubectl("get", "air", "chat", "-n", TEAM, "-o", "json").stdout)["metadata"][
        "annotations"
    ]
    assert "drill.airoute.dev/local" in annotations


def test_all_namespaces_only_when_asked_and_refused_in_one_line(team_kubeconfig, capsys):
    code, out, err = _run(capsys, "inventory", "-A", "--kubeconfig", str(team_kubeconfig))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "forbidden" in err.lower() and "-A" in err


def test_another_namespace_is_refused_not_guessed(team_kubeconfig, capsys):
    code, out, err = _run(capsys, "status", f"{OTHER}/chat", "--kubeconfig", str(team_kubeconfig))
    assert code == 1 and out == ""
    assert "forbidden" in err.lower() and OTHER in err


def test_admin_with_all_namespaces_sees_both_and_is_told_to_choose(apiserver, capsys):
    code, _, err = _run(capsys, "status", "chat", "-A", "--kubeconfig", str(apiserver.kubeconfig))
    assert code == 1
    assert f"{TEAM}/chat" in err and f"{OTHER}/chat" in err and "ambiguous" in err
