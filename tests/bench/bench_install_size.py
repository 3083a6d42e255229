"""Installed size of airoute's runtime dependencies, and of the image's Python environment.

Two figures, each installed from scratch into a folder under /tmp (removed afterwards):

* ``runtime_set_mb``: ``pip install .`` into a fresh virtual environment, resolved from
  pyproject.toml as a user gets it (the runtime dependencies only; no dev, no demo extra).
* ``image_env_mb``: the Dockerfile's build stage run on this machine (tests/support/dockerfile.py:
  the same instructions, the locked files installed with ``--require-hashes``, the wheel built,
  ``compileall``): the size of what the runtime stage copies to ``/opt/airoute``. The base image's
  own layers are not included (no container engine or registry access here).

Sizes are the sum of the regular files' sizes (what a layer's tar carries), in MB (10^6 bytes).
Fails when either is above the target (200 MB, issue 15 item 6) or an install fails. Needs PyPI
(or pip's cache). Last line: one JSON object.

    .venv/bin/python tests/bench/bench_install_size.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.dockerfile import installed_bytes, run_build_stage
from tests.support.paths import REPO_ROOT

TARGET_MB = 200.0


def site_packages(prefix: Path) -> Path:
    (found,) = prefix.glob("lib/python3*/site-packages")
    return found


def runtime_set(scratch: Path) -> tuple[float, int]:
    """MB installed by ``pip install .`` into a fresh venv, and the number of distributions."""
    env = scratch / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet",
         "--disable-pip-version-check", str(REPO_ROOT)],
        check=True, timeout=900,
    )  # fmt: skip
    packages = site_packages(env)
    dists = len(list(packages.glob("*.dist-info")))
    return installed_bytes(packages) / 1e6, dists


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="airoute-bench-size-") as tmp:
        scratch = Path(tmp)
        started = time.monotonic()
        runtime_mb, dists = runtime_set(scratch / "runtime")
        print(f"runtime set (pip install . into a fresh venv): {runtime_mb:.1f} MB in {dists} distributions")
        image = run_build_stage(scratch / "image")
        image_mb = installed_bytes(image.prefix) / 1e6
        pip_in_image = any(site_packages(image.prefix).glob("pip"))
        print(f"image environment (/opt/airoute as the Dockerfile lays it out): {image_mb:.1f} MB, pip: {pip_in_image}")
        elapsed = time.monotonic() - started
    failures = [f"{name} {mb:.1f} MB > {TARGET_MB:.0f} MB" for name, mb in
                (("runtime set", runtime_mb), ("image environment", image_mb)) if mb > TARGET_MB]  # fmt: skip
    if pip_in_image:
        failures.append("pip is installed in the image's environment")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(json.dumps({
        "bench": "install_size", "runtime_set_mb": round(runtime_mb, 1), "runtime_distributions": dists,
        "image_env_mb": round(image_mb, 1), "target_mb": TARGET_MB, "pip_in_image": pip_in_image,
        "seconds": round(elapsed, 1), "errors": len(failures),
    }))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
