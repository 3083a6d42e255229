"""Test-wide rules: under CI=true, a required integration test may not skip, and Hypothesis is
derandomized (the same examples every run; an example it once found is pinned with ``@example``)."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from hypothesis import settings

# Tests with these markers need a real part (API server, Prometheus, Helm, a provider SDK).
# Locally they skip with a reason when the part is missing; in CI a skip is a failure.
REQUIRED_IN_CI = ("cluster", "prometheus", "helm", "sdk")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

# Loaded before any test module builds its own settings, which inherit from it.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not (IN_CI and report.skipped):
        return
    required = [m for m in REQUIRED_IN_CI if item.get_closest_marker(m)]
    if required and not item.get_closest_marker("xfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: required {'/'.join(required)} test was skipped, which counts as a failure "
            f"(skip reason: {reason})"
        )
