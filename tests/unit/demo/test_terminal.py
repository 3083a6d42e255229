"""The live view as a person sees it: the demo's real view and ending, in a pseudo-terminal,
read back through a real terminal emulator (pyte) at the smallest supported size and a large one.

The view is driven by ``scripted_view`` (no servers) while the controller, a library, Python's
warnings and stray prints all write as they do in the real demo; before the fix, each such
write pushed the region down and left a torn fragment of the table behind.
"""

from __future__ import annotations

import sys

import pytest

from tests.support.terminal import live_screens, view_problems, watch


@pytest.mark.parametrize(("columns", "lines"), [(80, 24), (160, 48)])
def test_one_region_redrawn_in_place_then_one_screen_of_ending(columns: int, lines: int) -> None:
    argv = [sys.executable, "-m", "tests.unit.demo.scripted_view"]
    seen = watch(argv, columns, lines, timeout=60, keys=b"\r\rwhere am I\r")  # typing must not move it
    assert seen.returncode == 0, seen.text()
    screens = live_screens(seen)
    # frames drawn back to back under load may reach the emulator as one: count screens loosely
    assert len(screens) >= 5, f"the view was drawn {len(screens)} times: {seen.text()}"
    for screen in screens:
        assert view_problems(screen) == [], "\n".join(screen)
    assert any(line.split()[:2] == ["backend", "weight"] for line in screens[-1]), "one table, with its rows"
    assert not seen.scrolled_off, f"nothing is pushed off the screen: {seen.scrolled_off}"

    feed = "\n".join("\n".join(s) for s in screens)
    for routed in ("BackendEjected", "a library's warning", "a Python warning", "a stray print", "a stray write"):
        assert routed in feed, f"{routed!r} is shown inside the view"
    assert "INFO" not in feed, "a decision is shown once, not also as the controller's log line"
    assert "rebalanced" not in feed, "weight rebalancing stays out of the decisions (the table shows it)"
    assert "▶ " in feed, "the running phase is marked"
    assert "✓ 1/6" in feed, "and each one that ended"

    final = "\n".join(seen.final)
    assert "backend" not in final and "▶" not in final, "the live region is gone; the ending replaced it"
    assert seen.final[0].startswith("✓ airoute demo passed in 0:42")
    for figure in ("failover", "in 4.5 s", "client errors", "0 of 960", "7.8 s", "quota spill", "drill", "passed"):
        assert figure in final
    for where in ("demo-output/timeline.png", "demo-output/report.md", "airoute demo --simulate", "charts/airoute"):
        assert where in final
