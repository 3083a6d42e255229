"""Every health window a valid spec can hold renders to PromQL the real promtool accepts.

One window PromQL rejects (``1.5s``, ``0s``) would fail the batched query of every route, and the
controller would be blind to all of them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from airoute.api import parse_duration
from airoute.signals.catalogue import render_all
from tests.support.prom_server import require_promtool
from tests.support.strategies import durations, fuzz


@pytest.mark.prometheus
def test_every_valid_window_renders_valid_promql(tmp_path: Path) -> None:
    tool = require_promtool()
    windows: set[str] = set()

    @fuzz(5)
    @given(st.lists(durations, min_size=40, max_size=40))
    def collect(batch: list[str]) -> None:
        windows.update(batch)

    collect()
    windows.update(["0s", "0ms", "0.001ms", "1.5s", "90.25s", "1h30m", "8760h", "1ms", "999ms"])
    rules = [{"record": f"w{i}:{name}", "expr": promql}
             for i, window in enumerate(sorted(windows))
             for name, promql in render_all(parse_duration(window)).items()]
    path = tmp_path / "windows.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "windows", "rules": rules}]}))
    done = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
