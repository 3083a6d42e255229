"""The folder convention, read the same way for the controller and the gateway: routes, Secrets,
status files, ``kind: List``, and the problems of files that do not read."""

from __future__ import annotations

from pathlib import Path

import pytest

from airoute.store import FolderRoutes, read_folder, status_path
from tests.support.routes import airoute, unreachable, yaml_text


def test_routes_secrets_and_status_files(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(yaml_text([airoute(unreachable()), airoute(unreachable(), "other")]))
    sub = tmp_path / "team-b"
    sub.mkdir()
    (sub / "secrets.yml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: Secret, data: {api-key: c2VjcmV0},\n"
        "     metadata: {name: s, namespace: team, labels: {airoute.dev/credentials: 'true'}}}\n"
        "  - {apiVersion: v1, kind: Secret, metadata: {name: unlabelled, namespace: team}, data: {k: c2VjcmV0}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: ignored}}\n"
    )
    status_path(tmp_path, "team", "chat").write_text("observedGeneration: 1\nweights: {b0: 100, b1: 0}\n")
    (tmp_path / ".hidden.yaml").write_text("not: [valid")
    found = read_folder(tmp_path)
    assert found.problems == []
    by_name = {r.obj["metadata"]["name"]: r.obj for r in found.routes if r.obj is not None}
    assert set(by_name) == {"chat", "other"}
    assert by_name["chat"]["status"]["weights"] == {"b0": 100, "b1": 0}
    assert "status" not in by_name["other"]
    assert found.secrets == {"team/s": {"api-key": b"secret"}}, "only Secrets labelled as route credentials"


def test_routes_in_a_list_and_without_a_namespace(tmp_path: Path) -> None:
    item = "{apiVersion: airoute.dev/v1alpha1, kind: AIRoute, metadata: {name: a}, spec: {model: a}}"
    (tmp_path / "list.yaml").write_text(f"apiVersion: v1\nkind: List\nitems:\n  - {item}\n")
    route = read_folder(tmp_path).routes[0]
    assert route.key == "default/a" and route.item == 0
    assert route.obj is not None and route.obj["metadata"]["namespace"] == "default"


def test_the_generation_moves_with_the_spec_only(tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(yaml_text([airoute(unreachable())]))
    first = read_folder(tmp_path).routes[0].obj
    path.write_text(yaml_text([airoute(unreachable(), status={"weights": {"b0": 1, "b1": 99}})]))
    same = read_folder(tmp_path).routes[0].obj
    path.write_text(yaml_text([airoute(unreachable((10, 90)))]))
    changed = read_folder(tmp_path).routes[0].obj
    assert first is not None and same is not None and changed is not None
    assert first["metadata"]["generation"] == same["metadata"]["generation"] != changed["metadata"]["generation"]


def test_inline_status_is_used_without_a_status_file(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(yaml_text([airoute(unreachable(), status={"weights": {"b0": 0, "b1": 100}})]))
    route = read_folder(tmp_path).routes[0].obj
    assert route is not None and route["status"]["weights"] == {"b0": 0, "b1": 100}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "kind: [unclosed", "bad.yaml: cannot read YAML"),
        ("list.yaml", "- 1\n- 2\n", "list.yaml: document 1 is not a mapping"),
        ("team.chat.status.yaml", "- 1", "team.chat.status.yaml: the status file must hold a mapping"),
        ("team.chat.status.yaml", "weights: {", "team.chat.status.yaml: cannot read YAML"),
        ("secret.yaml", "kind: Secret\nmetadata: {name: s, labels: {airoute.dev/credentials: 'true'}}\n"
                        "data: {k: '%%%'}\n",
         "Secret s: Secret key 'k' is not base64"),
    ],
)
def test_a_file_that_does_not_read_is_a_problem_naming_it(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / "chat.yaml").write_text(yaml_text([airoute(unreachable())]))
    (tmp_path / name).write_text(text)
    found = read_folder(tmp_path)
    assert len(found.problems) == 1 and message in found.problems[0]
    assert [r.key for r in found.routes] == ["team/chat"], "what reads is still read"


def test_missing_folder(tmp_path: Path) -> None:
    assert "does not exist" in read_folder(tmp_path / "nope").problems[0]


def test_the_controller_sees_problems_as_routes_without_an_object(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(yaml_text([airoute(unreachable())]))
    (tmp_path / "broken.yaml").write_text("kind: [unclosed")
    loaded = FolderRoutes(tmp_path).load()
    assert [r.key for r in loaded if r.obj is not None] == ["team/chat"]
    assert [r.error for r in loaded if r.obj is None] == ["broken.yaml: cannot read YAML: expected ',' or ']', "
                                                          "but got '<stream end>' at line 1, column 16"]


def test_status_is_written_beside_the_routes_and_read_back(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(yaml_text([airoute(unreachable())]))
    routes = FolderRoutes(tmp_path)
    (route,) = routes.load()
    assert routes.write_status(route, {"weights": {"b0": 70, "b1": 30}}) == tmp_path / "team.chat.status.yaml"
    (again,) = routes.load()
    assert again.obj is not None and again.obj["status"] == {"weights": {"b0": 70, "b1": 30}}
