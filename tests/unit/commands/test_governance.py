"""`airoute validate --policies` gives the verdict of the cluster's admission policies, offline.

The policy cases are the files the chart's tests send to the real API server with the policies
installed (tests/integration/chart/policy-cases: `# error:` is the server's exact message); here
the same files go through the Python rules with the same parameters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airoute.api import parse_route
from airoute.cli import main
from airoute.commands.governance import GovernanceParams, PolicyParamsError, check
from tests.support.policies import CASES, case_object, governance_params

PARAMS = GovernanceParams.from_configmap(governance_params())


def _expected(path: Path) -> list[str]:
    return [line.removeprefix("# error: ") for line in path.read_text().splitlines() if line.startswith("# error: ")]


def test_there_are_cases_of_both_kinds() -> None:
    assert any(p.name.startswith("accepted") for p in CASES) and any(p.name.startswith("rejected") for p in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_same_verdict_and_message_as_the_admission_policies(case: Path) -> None:
    problems = check(parse_route(case_object(case)), PARAMS)
    expected = _expected(case)
    if case.name.startswith("accepted"):
        assert problems == []
    else:
        assert expected, "a rejected case names the server's message"
        assert len(problems) == 1, problems
        assert all(e in problems[0] for e in expected), f"{problems[0]!r} vs the server's {expected!r}"


def test_validate_applies_the_policies_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rejected = []
    for case in (p for p in CASES if p.name.startswith("rejected")):
        placed = tmp_path / case.name  # in the namespace the case is judged in
        placed.write_text(yaml.safe_dump(case_object(case)))
        rejected.append(str(placed))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(governance_params()))
    assert main(["validate", *rejected]) == 0
    assert main(["validate", "--policies", str(params), *rejected]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(rejected) and all(": policy: " in line for line in lines)


def test_bad_parameters_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PolicyParamsError, match="unapprovedMaxPercent"):
        GovernanceParams.from_configmap({"kind": "ConfigMap", "data": {"unapprovedMaxPercent": "ten"}})
    not_a_configmap = tmp_path / "x.yaml"
    not_a_configmap.write_text("kind: Secret\n")
    assert main(["validate", "--policies", str(not_a_configmap), "examples"]) == 2
    assert "expected the governance ConfigMap" in capsys.readouterr().err
