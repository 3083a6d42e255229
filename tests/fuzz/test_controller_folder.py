"""Generated AIRoute files through the controller's folder loop (``airoute controller --routes-dir``).

The loop runs for real over a temporary folder: the files are read back by the store, the
Evaluator asks a small in-test MetricsSource, the core decides, status files are written. Whatever
a file holds, a cycle never raises, the other routes are still evaluated, nothing is written outside
the folder, and an invalid update leaves the last good weights in force with a message naming the field.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from airoute.api import InvalidRoute, parse_route
from airoute.controller.evaluator import Evaluator
from airoute.controller.folder_loop import FolderController
from tests.support.fakes import FakeClock, ScriptedMetrics
from tests.support.paths import EXAMPLES
from tests.support.strategies import fuzz, huge_values, junk, mutated, related, valid_routes

ANCHOR: dict[str, Any] = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
ANCHOR_STATUS = "support.support-chat.status.yaml"
ANCHOR_KEY = "support/support-chat"
ANCHOR_AS_ROUTE: dict[str, Any] = {**ANCHOR, "metadata": {"name": "route", "namespace": "team"}}
T0 = 1_800_000_000.0


IN_FILES = st.one_of(junk, huge_values(scale=0.1))  # YAML in pure Python is slow: smaller giants for files


def dump(obj: Any) -> str:
    """YAML when it can be written as YAML, else JSON (a YAML subset) — the file holds *something*."""
    try:
        return yaml.dump(obj, Dumper=yaml.CSafeDumper, allow_unicode=False)
    except (yaml.YAMLError, ValueError, RecursionError):
        return json.dumps(obj, default=str)


def read_status(folder: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load((folder / name).read_text())
    assert isinstance(data, dict)
    return data


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status.get("conditions", []) if c["type"] == "Ready")


class Loop:
    """One folder, one controller, one clock; ``cycle`` runs ``FolderController.once`` for real."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "routes"
        self.folder.mkdir()
        self.clock = FakeClock(T0)
        self.metrics = ScriptedMetrics()
        self.controller = FolderController(self.folder, Evaluator(self.metrics, self.clock))
        self.write("anchor.yaml", yaml.safe_dump(ANCHOR))
        self.metrics.healthy([ANCHOR])

    def write(self, name: str, content: str | bytes) -> None:
        path = self.folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, errors="surrogatepass")

    def cycle(self, seconds: float = 15.0) -> None:
        self.clock.t += seconds
        outcomes = asyncio.run(self.controller.once())  # must never raise
        assert ANCHOR_KEY in {o.key for o in outcomes}, "the other routes are still evaluated"
        assert read_status(self.folder, ANCHOR_STATUS)["weights"], "and their status is there"
        assert sorted(p.name for p in self.root.iterdir()) == ["routes"], "nothing written outside the folder"


def _problems(obj: Any) -> list[str]:
    try:
        parse_route(obj)
    except InvalidRoute as exc:
        return [p.path for p in exc.problems]
    return []


@st.composite
def invalid_updates(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A valid route, the same route broken in one place under ``spec``, and where."""
    good = draw(valid_routes(max_backends=4))
    broken, where = draw(mutated(good, under="spec", values=IN_FILES))
    return good, broken, where


def _with_key(route: dict[str, Any], key: str) -> dict[str, Any]:
    broken = copy.deepcopy(route)
    broken["spec"][key] = 1
    return broken


# Found by Hypothesis: a key YAML cannot dump (a lone surrogate) and longer than the 1,024
# characters YAML allows a flow-mapping key, so the file holds JSON that no YAML reader reads.
LONG_UNDUMPABLE_KEY = "\ud800" + "k" * 1100


@pytest.mark.slow
@fuzz(100)
@given(update=invalid_updates())
@example(update=(ANCHOR_AS_ROUTE, _with_key(ANCHOR_AS_ROUTE, LONG_UNDUMPABLE_KEY), "spec"))
def test_an_invalid_update_is_named_and_keeps_the_last_good_weights(
    update: tuple[dict[str, Any], dict[str, Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    good, broken, where = update
    with tempfile.TemporaryDirectory() as tmp:
        loop = Loop(Path(tmp))
        loop.write("route.yaml", yaml.safe_dump(good))
        loop.metrics.healthy([good])
        loop.cycle()
        status_name = f"{good['metadata']['namespace']}.{good['metadata']['name']}.status.yaml"
        before = read_status(loop.folder, status_name)
        assert ready(before)["reason"] != "InvalidSpec"
        loop.write("route.yaml", dump(broken))
        loop.cycle()
        after = read_status(loop.folder, status_name)
        try:
            seen = yaml.safe_load((loop.folder / "route.yaml").read_text())  # what the controller read
        except yaml.YAMLError:  # no YAML reader reads it: the controller says so, the route keeps its status
            assert "route.yaml: cannot read YAML" in caplog.text
            assert after == before, "an unreadable file changes nothing already decided"
            return
        problems = _problems(seen)
        if problems:
            condition = ready(after)
            assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
            assert any(p in condition["message"] for p in problems), (problems, condition["message"])
            if seen == broken:
                named = any(related(p, where) for p in problems) or "duplicate" in condition["message"]
                assert named, f"broke {where}, the status says {condition['message']}"
            assert after["weights"] == before["weights"], "an invalid spec must leave the last good routing in force"
        loop.write("route.yaml", yaml.safe_dump(good))  # fixed again: the route is Ready again
        loop.cycle()
        assert ready(read_status(loop.folder, status_name))["reason"] != "InvalidSpec"


def _deep_yaml(depth: int) -> str:
    return "[" * depth + "]" * depth


garbage_files = st.one_of(
    st.binary(max_size=300),  # not UTF-8, NUL bytes
    st.text(max_size=300),
    st.builds(dump, junk),
    st.builds(dump, IN_FILES),
    st.builds(_deep_yaml, st.integers(400, 1200)),  # deeper than the YAML parser can recurse
    st.sampled_from([
        "kind: [broken", "---\n---\n", "kind: AIRoute\n", "kind: AIRoute\nmetadata: {name: ../../escape}\n",
        "a: &a [x, x]\nb: [*a, *a, *a]\nkind: AIRoute\nspec: *a\n", "!!python/object:os.system {}",
        "kind: AIRoute\napiVersion: airoute.dev/v1alpha1\nmetadata: {name: " + "n" * 253 + "}\n",
    ]),
)


@st.composite
def broken_routes(draw: st.DrawFn) -> str:
    """A route broken anywhere, metadata included (names with ``/``, ``..``, 300 characters …)."""
    obj, _ = draw(valid_routes(max_backends=3).flatmap(lambda r: mutated(r, values=IN_FILES)))
    if draw(st.booleans()):
        obj = copy.deepcopy(obj)
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta["name"] = draw(st.sampled_from(["a/b", "../../../x", "..", "n" * 300, "UPPER", "x.", ""]))
    return dump(obj)


@pytest.mark.slow
@fuzz(100)
@given(st.lists(st.one_of(garbage_files, broken_routes()), min_size=1, max_size=4), st.data())
def test_any_file_content_never_stops_the_loop(files: list[str | bytes], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        loop = Loop(Path(tmp))
        for i, content in enumerate(files):
            loop.write(f"f{i}.yaml", content)
        loop.cycle()
        weights = read_status(loop.folder, ANCHOR_STATUS)["weights"]
        assert sum(weights.values()) == 100
        for i in range(len(files)):  # files change again: still fine
            loop.write(f"f{i}.yaml", data.draw(garbage_files))
        loop.cycle()
        for status in loop.folder.glob("*.status.yaml"):
            written = yaml.safe_load(status.read_text())
            assert isinstance(written, dict) and math.isfinite(sum(written.get("weights", {}).values()))
