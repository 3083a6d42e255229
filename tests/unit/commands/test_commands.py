"""The route commands: validate, inventory, status, drill, promote, abort (over a folder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from airoute.cli import main
from airoute.commands import actions
from airoute.core.clock import from_rfc3339
from airoute.store import status_path
from tests.support.paths import EXAMPLES, REPO_ROOT

BAD = (REPO_ROOT / "tests/integration/crdcel/invalid")


def test_validate_passes_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "examples"]) == 0
    assert f"{len(list(EXAMPLES.glob('*.yaml')))} AIRoute(s) checked: valid" in capsys.readouterr().err


def test_validate_reports_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(BAD)]) == 1
    lines = capsys.readouterr().out.splitlines()
    files = sorted(BAD.glob("*.yaml"))
    assert {line.split(":", 1)[0] for line in lines} == {str(p) for p in files}, "every bad file is reported"
    assert all(line.count(": ") >= 2 for line in lines), "file: field: message"
    assert (
        f"{BAD}/weight-above-100.yaml: spec.backends[0].weight: should be less than or equal to 100 (got 101)" in lines
    )


def test_validate_finds_two_routes_claiming_one_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    other = {**doc, "metadata": {"name": "copy", "namespace": "support"}}
    (tmp_path / "two.yaml").write_text(yaml.safe_dump_all([doc, other]))
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{tmp_path / 'two.yaml'}#1: spec.model: spec.model 'support-chat' belongs to support/copy, which "
                   "claimed it first; this route is not served until it names another model or that route is gone"]
    doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"  # the older one, whatever its name
    (tmp_path / "two.yaml").write_text(yaml.safe_dump_all([other, doc]))
    assert main(["validate", str(tmp_path)]) == 1
    assert "#1: spec.model: spec.model 'support-chat' belongs to support/support-chat since 2026-01-01T00:00:00Z" \
        in capsys.readouterr().out


def test_validate_unreadable_yaml_and_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("spec: [")
    assert main(["validate", str(tmp_path)]) == 1
    assert "cannot read YAML" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "nope")]) == 2


def test_inventory_flags_single_points_of_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy("examples/marketing-copy.yaml", tmp_path)
    lonely = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    lonely["metadata"]["name"] = "lonely"
    lonely["spec"]["model"] = "lonely"
    lonely["spec"]["backends"] = lonely["spec"]["backends"][:1]
    lonely["spec"].pop("degradedResponse")
    (tmp_path / "lonely.yaml").write_text(yaml.safe_dump(lonely))
    assert main(["inventory", "--routes-dir", str(tmp_path), "-o", "json"]) == 0
    rows = {r["route"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["support/lonely"]["risks"] == ["single-provider", "single-cloud", "no-standby", "no-degraded-answer"]
    assert rows["marketing/marketing-copy"]["risks"] == ["no-standby"]
    assert list(rows) == ["support/lonely", "marketing/marketing-copy"], "critical routes first"


def test_inventory_shows_what_each_route_cannot_serve_with_each_backend_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy("examples/marketing-copy.yaml", tmp_path)
    shutil.copy("examples/support-chat.yaml", tmp_path)
    assert main(["inventory", "--routes-dir", str(tmp_path), "-o", "json"]) == 0
    rows = {r["route"]: r for r in json.loads(capsys.readouterr().out)}
    marketing = rows["marketing/marketing-copy"]["cannot_serve"]  # Bedrock Claude + Vertex Gemini
    assert "image-url" in marketing[""] and "n" not in marketing[""]
    assert {"n", "seed", "json-mode"} <= set(marketing["vertex-eu"]) and "image-data" not in marketing["vertex-eu"]
    assert rows["support/support-chat"]["cannot_serve"][""] == []  # Azure and a server in the cluster may take anything
    assert main(["inventory", "--routes-dir", str(tmp_path), "-o", "markdown", "--capabilities"]) == 0
    text = capsys.readouterr().out
    assert "| cannot serve |" in text and "vertex-eu down: also audio, json-mode, json-schema, n, seed" in text


def test_drill_start_and_stop_annotate_the_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy("examples/support-chat.yaml", tmp_path)
    args = ["--routes-dir", str(tmp_path)]
    assert main(["drill", "start", "support-chat", "vertex-eu", "--for", "5m", *args]) == 0
    annotations = yaml.safe_load((tmp_path / "support-chat.yaml").read_text())["metadata"]["annotations"]
    until = from_rfc3339(annotations["drill.airoute.dev/vertex-eu"])
    assert main(["drill", "stop", "support-chat", "vertex-eu", *args]) == 0
    stopped = yaml.safe_load((tmp_path / "support-chat.yaml").read_text())["metadata"]["annotations"]
    assert from_rfc3339(stopped["drill.airoute.dev/vertex-eu"]) < until
    assert main(["drill", "start", "support-chat", "nope", *args]) == 1
    assert "route has no backend 'nope'" in capsys.readouterr().err


def test_promote_names_the_active_canary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy("examples/support-chat.yaml", tmp_path)
    rollout = {
        "backend": "bedrock-eu",
        "kind": "Change",
        "phase": "Progressing",
        "step": 1,
        "canaryWeight": 20,
        "canaryHash": "abc123def456",
        "started": "2026-11-22T00:00:00Z",
        "stepStarted": "2026-11-22T00:05:00Z",
    }
    status_path(tmp_path, "support", "support-chat").write_text(yaml.safe_dump({"rollouts": [rollout]}))
    assert main(["promote", "support/support-chat", "--routes-dir", str(tmp_path)]) == 0
    annotations = yaml.safe_load((tmp_path / "support-chat.yaml").read_text())["metadata"]["annotations"]
    assert annotations["airoute.dev/promote"] == "abc123def456@2026-11-22T00:00:00Z"  # this run of the canary
    assert "will be promoted" in capsys.readouterr().out


def test_status_of_an_unknown_route_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "nope", "--routes-dir", "examples"]) == 1
    assert "no AIRoute named 'nope'" in capsys.readouterr().err


def test_validate_names_each_field_that_could_inject_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(BAD / "header-injection.yaml")]) == 1
    out = capsys.readouterr().out
    for field in ("headers[0].value", "organization", "project"):
        assert f"spec.backends[2].openAICompatible.{field}: must not contain control characters such as CR, LF" in out


def test_inventory_reports_a_route_that_lost_its_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    thief = {**doc, "metadata": {"name": "aaa", "namespace": "attacker", "creationTimestamp": "2026-03-01T00:00:00Z"}}
    (tmp_path / "routes.yaml").write_text(yaml.safe_dump_all([thief, doc]))
    assert main(["inventory", "--routes-dir", str(tmp_path), "-o", "json"]) == 0
    rows = {r["route"]: r for r in json.loads(capsys.readouterr().out)}
    assert "model-conflict" in rows["attacker/aaa"]["risks"]
    assert rows["attacker/aaa"]["model_owner"] == "support/support-chat since 2026-01-01T00:00:00Z"
    assert "model-conflict" not in rows["support/support-chat"]["risks"]
    assert main(["inventory", "--routes-dir", str(tmp_path), "-o", "markdown"]) == 0
    assert "model-conflict (owned by support/support-chat since 2026-01-01T00:00:00Z)" in capsys.readouterr().out


def test_a_running_drill_reports_what_has_not_happened_yet_in_words() -> None:
    """No ``-s`` placeholders (issue 18.9)."""
    running = {"backend": "b", "phase": "Running", "started": "2026-11-22T10:00:00Z", "until": "2026-11-22T10:10:00Z"}
    [line] = actions.drill_report({"status": {"drills": [running]}})
    assert "-s" not in line and "traffic not shifted away yet" in line and "full weight not back yet" in line
    shifted = {**running, "weightShiftedAfter": 2.5, "phase": "Completed", "recoveredAfter": 12.0, "clientErrors": 0}
    [line] = actions.drill_report({"status": {"drills": [shifted]}})
    assert "traffic shifted away after 2.5s; full weight back 12s after the end; 0 client-visible errors" in line
