"""The image and the documents that describe the chart agree with the chart (offline, no Docker)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.integration.chart.can_i_matrix import expected_rows, table
from tests.support.helm import CHART
from tests.support.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


def _values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


def test_the_image_runs_as_the_user_the_chart_expects() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) == 2 and re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    values = _values()
    uid, gid = values["podSecurityContext"]["runAsUser"], values["podSecurityContext"]["runAsGroup"]
    assert re.search(rf"^USER {uid}:{gid}$", text, re.M), "the image's USER must match the chart's runAsUser"
    assert f"--uid {uid}" in text and f"--gid {gid}" in text
    assert re.search(r'^ENTRYPOINT \["airoute"\]$', text, re.M), "the chart's args start with the subcommand"
    port = values["gateway"]["port"]
    assert re.search(rf"^EXPOSE .*\b{port}\b", text, re.M)


def test_security_doc_shows_the_tested_permission_matrix() -> None:
    doc = (REPO_ROOT / "docs" / "security.md").read_text()
    assert "\n".join(table(expected_rows())) in doc, "update the matrix in docs/security.md"
