"""The README's first command, shortened: the whole scenario plays and its outcomes hold.

Runs ``airoute demo --fast`` as a user would (a subprocess, no TTY): emulators, a real gateway
process, the controller and clients. The outcomes the demo promises are asserted from its report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.sdk]


def _folder(output: str) -> str:
    """The demo's route folder, from its first lines (``… (route folder: /tmp/airoute-demo-…) …``)."""
    flat = output.replace("\n", "")
    start = flat.index("/tmp/airoute-demo-")
    return flat[start : flat.index(")", start)]


def _gateway_processes(folder_hint: str) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "airoute.cli gateway" in line and folder_hint in line]


def test_demo_plays_the_whole_scenario(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "airoute.cli", "demo", "--fast", "--no-live", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (out / "report.md").read_text()
    assert "| client errors during the Azure outage | 0 |" in report
    quota = next(line for line in report.splitlines() if line.startswith("| Azure quota spent"))
    assert quota.endswith(" / 0 |") and "| 0 /" not in quota, quota  # 429s answered, none reached a client
    assert "| canary share after the rollback | 0% |" in report
    assert "| drill: client-visible errors | 0 |" in report
    assert " 0 failed, " in report, "no client request failed at any point"
    assert "CanaryRolledBack" in report and "BackendEjected" in report and "DrillCompleted" in report
    failover = next(line for line in report.splitlines() if line.startswith("| time to failover"))
    assert "—" not in failover
    png = (out / "timeline.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert _gateway_processes(_folder(done.stdout)) == [], "the demo must stop the gateway it started"


def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "airoute.cli", "demo", "--fast", "--no-live", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TERM": "dumb", "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        seen.append(line)
        if "Azure down" in line or "fails hard" in line or time.monotonic() > deadline:
            break
    folder = _folder("".join(seen))
    assert _gateway_processes(folder), f"the gateway should be running mid-scenario: {seen}"
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    time.sleep(0.5)
    assert _gateway_processes(folder) == []


@pytest.mark.parametrize(("columns", "lines"), [(80, 24), (160, 48)])
def test_demo_in_a_terminal_is_one_region_then_one_screen_of_figures(tmp_path: Path, columns: int, lines: int) -> None:
    """The real demo in a pty, read through a terminal emulator, as a person would see it."""
    from tests.support.terminal import live_screens, view_problems, watch

    out = tmp_path / "demo-output"
    argv = [sys.executable, "-m", "airoute.cli", "demo", "--fast"]
    seen = watch(argv, columns, lines, timeout=240, cwd=str(tmp_path))
    final = "\n".join(seen.final)
    assert seen.returncode == 0, seen.text()
    screens = live_screens(seen)
    assert len(screens) > 20, f"the view was redrawn as the story went: {len(screens)} screens"
    for screen in screens:
        assert view_problems(screen) == [], "\n".join(screen)
    assert any(line.split()[:2] == ["backend", "weight"] for screen in screens for line in screen)
    assert not seen.scrolled_off, f"nothing left behind above the screen: {seen.scrolled_off[:10]}"
    story = "\n".join("\n".join(s) for s in screens)
    assert "BackendEjected" in story and "CanaryRolledBack" in story, "decisions are readable as they happen"
    assert "▶ 2/6 Azure OpenAI fails hard" in story

    assert seen.final[0].startswith("✓ airoute demo passed"), final
    for figure in ("failover", "client errors", "recovery", "rollback", "drill", "passed: traffic away"):
        assert figure in final
    assert "demo-output/timeline.png" in final and "demo-output/report.md" in final
    assert "airoute demo --simulate" in final and "charts/airoute/README.md" in final
    assert "| client errors during the Azure outage | 0 |" in (out / "report.md").read_text()
    folder = next(line.split()[2] for line in seen.final if line.startswith("route folder"))
    assert _gateway_processes(folder) == [], "the demo must stop the gateway it started"
