"""The folder route source and its status-file convention."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airoute.gateway.routetable.folder import FolderSource, read_folder, status_file
from airoute.gateway.routetable.snapshot import Snapshot, SnapshotError

from .conftest import route_yaml


def test_routes_secrets_and_status_files(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(route_yaml() + "---\n" + route_yaml("other", model="other"))
    sub = tmp_path / "team-b"
    sub.mkdir()
    (sub / "secrets.yml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: Secret, metadata: {name: s, namespace: team}, data: {api-key: c2VjcmV0}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: ignored}}\n"
    )
    status_file(tmp_path, "team", "chat").write_text("observedGeneration: 1\nweights: {b0: 100, b1: 0}\n")
    (tmp_path / ".hidden.yaml").write_text("not: [valid")
    snap = read_folder(tmp_path)
    by_name = {r["metadata"]["name"]: r for r in snap.routes}
    assert set(by_name) == {"chat", "other"}
    assert by_name["chat"]["status"]["weights"] == {"b0": 100, "b1": 0}
    assert "status" not in by_name["other"]
    assert snap.secrets == {"team/s": {"api-key": b"secret"}}


def test_inline_status_is_used_without_a_status_file(tmp_path: Path) -> None:
    (tmp_path / "chat.yaml").write_text(route_yaml() + "status:\n  weights: {b0: 0, b1: 100}\n")
    assert read_folder(tmp_path).routes[0]["status"]["weights"] == {"b0": 0, "b1": 100}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "kind: [unclosed", "bad.yaml"),
        ("list.yaml", "- 1\n- 2\n", "not a mapping"),
        ("team.chat.status.yaml", "- 1", "must hold a mapping"),
        ("secret.yaml", "kind: Secret\nmetadata: {name: s}\ndata: {k: '%%%'}\n", "not base64"),
    ],
)
def test_a_broken_file_fails_the_whole_read(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / "chat.yaml").write_text(route_yaml())
    (tmp_path / name).write_text(text)
    with pytest.raises(SnapshotError, match=message):
        read_folder(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="does not exist"):
        read_folder(tmp_path / "nope")


def test_source_reports_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(route_yaml())
    source = FolderSource(tmp_path)
    assert isinstance(source.check(), Snapshot)
    assert source.check() is None
    path.write_text(route_yaml(weights=(10, 90)))
    os.utime(path, ns=(1, 1))
    first = source.check()
    assert isinstance(first, Snapshot)
    path.write_text("broken: [")
    assert isinstance(source.check(), str)
    assert source.check() is None  # the same broken files are not re-read until they change
