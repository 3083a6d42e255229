"""The gateway's folder route source: a snapshot when the files changed, the whole read refused
when a file does not read."""

from __future__ import annotations

import os
from pathlib import Path

from airoute.gateway.routetable.folder import FolderSource
from airoute.gateway.routetable.snapshot import Snapshot
from tests.support.routes import airoute, unreachable, yaml_text


def test_source_reports_only_changes(tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(yaml_text([airoute(unreachable())]))
    source = FolderSource(tmp_path)
    first = source.check()
    assert isinstance(first, Snapshot) and [r["metadata"]["name"] for r in first.routes] == ["chat"]
    assert source.check() is None
    path.write_text(yaml_text([airoute(unreachable((10, 90)))]))
    os.utime(path, ns=(1, 1))
    assert isinstance(source.check(), Snapshot)
    (tmp_path / "secret.yaml").write_text(
        "kind: Secret\nmetadata: {name: s, namespace: team, labels: {airoute.dev/credentials: 'true'}}\n"
        "stringData: {k: v}\n")
    assert (snap := source.check()) is not None and isinstance(snap, Snapshot)
    assert snap.secrets == {"team/s": {"k": b"v"}}
    path.write_text("broken: [")
    refused = source.check()
    assert isinstance(refused, str) and "chat.yaml: cannot read YAML" in refused
    assert source.check() is None  # the same broken files are not re-read until they change
