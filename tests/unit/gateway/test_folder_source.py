"""The gateway's folder route source: what changed when the files changed (only the changed routes
and Secrets, only the changed files parsed again), the whole read refused when a file does not
read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import airoute.store.folder as store_folder
from airoute.gateway.routetable.folder import FolderSource
from airoute.gateway.routetable.snapshot import Change
from tests.support.routes import airoute, unreachable, yaml_text


def test_source_reports_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(yaml_text([airoute(unreachable())]))
    source = FolderSource(tmp_path)
    first = source.check()
    assert isinstance(first, Change) and first.synced and list(first.routes) == ["team/chat"]
    assert source.check() is None
    path.write_text(yaml_text([airoute(unreachable((10, 90)))]))
    os.utime(path, ns=(1, 1))
    assert isinstance(source.check(), Change)
    (tmp_path / "secret.yaml").write_text(
        "kind: Secret\nmetadata: {name: s, namespace: team, labels: {airoute.dev/credentials: 'true'}}\n"
        "stringData: {k: v}\n")
    assert (change := source.check()) is not None and isinstance(change, Change)
    assert (dict(change.routes), dict(change.secrets)) == ({}, {"team/s": {"k": b"v"}})
    path.write_text("broken: [")
    refused = source.check()
    assert isinstance(refused, str) and "chat.yaml: cannot read YAML" in refused
    assert source.check() is None  # the same broken files are not re-read until they change


def test_one_file_changed_among_many_is_the_only_one_parsed_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        (tmp_path / f"r{i}.yaml").write_text(yaml_text([airoute(unreachable(), f"r{i}")]))
    source = FolderSource(tmp_path)
    assert isinstance(first := source.check(), Change) and len(first.routes) == 20
    parsed: list[str] = []
    real = store_folder.yaml.safe_load_all

    def spied(text: str) -> object:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(store_folder.yaml, "safe_load_all", spied)
    (tmp_path / "r7.yaml").write_text(yaml_text([airoute(unreachable((10, 90)), "r7")]))
    (tmp_path / "r9.yaml").unlink()
    change = source.check()
    assert isinstance(change, Change)
    assert len(parsed) == 1, "only the file that changed is parsed again"
    assert change.routes.keys() == {"team/r7", "team/r9"} and change.routes["team/r9"] is None
