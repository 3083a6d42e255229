"""The Dockerfile's build stage, run on this machine without a container engine.

There is no Docker here, so the image's Python environment is laid out by running the build
stage's own instructions: ``ENV`` and ``WORKDIR`` are honoured, ``COPY`` copies from the
repository, and each ``RUN`` is executed by ``sh`` with three paths moved into a scratch folder:
``/opt/airoute`` (the environment the runtime stage copies), ``/src`` and ``/tmp/wheels``. The
base image's ``python`` is played by a throwaway virtual environment of this machine's Python
3.11 (the same minor version as the base image, so the same wheels), so that what the stage
installs into "the system" (the build tools) lands there and not in this machine's Python.

What this proves: the lock files install with ``--require-hashes``, the wheel builds offline
with the locked build tools, ``airoute --help`` runs in the result, and the result's size is
what the image's ``/opt/airoute`` layer holds. What it cannot: the base image's own layers
(never pulled here) and anything the runtime stage does to them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

from tests.support.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


@dataclass
class Stage:
    """One ``FROM`` and its instructions, as BuildKit's own parser (PyPI ``dockerfile``) reads them."""

    base: str
    name: str | None
    instructions: list[dockerfile.Command] = field(default_factory=list)


def parse(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ``ARG`` defaults and the stages of a Dockerfile."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "FROM":
            base, *rest = command.value
            stages.append(Stage(base, rest[1] if len(rest) == 2 and rest[0].upper() == "AS" else None))
        elif command.cmd == "ARG" and not stages:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif stages:
            stages[-1].instructions.append(command)
    return args, stages


@dataclass
class BuildResult:
    prefix: Path  # what the image has at /opt/airoute
    log: str


def _copy(words: list[str], workdir: Path, move: Callable[[str], str]) -> None:
    """``COPY SRC... DEST`` from the repository, with Docker's rules: a folder's contents go into
    DEST; files go into DEST when it ends with ``/`` or there are several, else become DEST."""
    *sources, dest = words
    target = Path(move(dest)) if dest.startswith("/") else workdir / dest
    for source in sources:
        origin = REPO_ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif dest.endswith("/") or len(sources) > 1:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def run_build_stage(scratch: Path, stage_name: str = "build", timeout: float = 900) -> BuildResult:
    """Runs the named stage of the Dockerfile in ``scratch``; returns where /opt/airoute went."""
    _, stages = parse()
    (stage,) = [s for s in stages if s.name == stage_name]
    base = scratch / "base-python"
    venv.EnvBuilder(with_pip=True, clear=True).create(base)
    moved = {
        "/opt/airoute": str(scratch / "opt" / "airoute"),
        "/tmp/wheels": str(scratch / "wheels"),
        "/src": str(scratch / "src"),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{base / 'bin'}:{env.get('PATH', '')}"
    workdir = scratch
    log: list[str] = []

    def move(text: str) -> str:
        for old, new in moved.items():
            text = text.replace(old, new)
        return text

    for step in stage.instructions:
        if step.cmd == "ENV":
            env.update(zip(step.value[::2], step.value[1::2], strict=True))
        elif step.cmd == "WORKDIR":
            workdir = Path(move(step.value[0]))
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.cmd == "COPY":
            _copy(list(step.value), workdir, move)
        elif step.cmd == "RUN":
            command = move(step.value[0])
            done = subprocess.run(["sh", "-ec", command], cwd=workdir, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)  # fmt: skip
            log.append(f"$ {command}\n{done.stdout}{done.stderr}")
            if done.returncode != 0:
                raise RuntimeError(f"RUN failed (exit {done.returncode}):\n{log[-1]}")
        elif step.cmd not in ("ARG", "LABEL", "EXPOSE", "USER", "ENTRYPOINT", "CMD"):
            raise RuntimeError(f"{step.original}: not understood by this build-stage runner")
    return BuildResult(Path(moved["/opt/airoute"]), "\n".join(log))


def installed_bytes(path: Path) -> int:
    """Sum of the sizes of the regular files under ``path`` (what a layer's tar carries)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


if __name__ == "__main__":  # python -m tests.support.dockerfile SCRATCH
    result = run_build_stage(Path(sys.argv[1]))
    print(f"{result.prefix}: {installed_bytes(result.prefix) / 1e6:.1f} MB")
