"""The image: the Dockerfile read by BuildKit's own parser, and its lock files against pyproject.toml.

No container engine here: the build stage itself is run by tests/support/dockerfile.py (the
slow test at the end), which is how the lock is proven to install with ``--require-hashes``.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.dockerfile import installed_bytes, parse, run_build_stage
from tests.support.paths import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
BUILD_LOCK = REPO_ROOT / "requirements-build.lock"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
# Packages only the demo or the tests need: never in the image.
PIP_SUBCOMMAND = r"\bpip(?:\s+--python\s+\S+)?\s+(\w+)"
NOT_IN_IMAGE = {"matplotlib", "numpy", "pandas", "google-cloud-aiplatform", "pytest", "hypothesis", "mypy"}


def _pins(path: Path) -> dict[str, tuple[str, list[str], str]]:
    """name -> (version, hashes, via) of a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, list[str], str]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            name = canonicalize_name(match.group(1))
            pins[name] = (match.group(2), [], "")
        elif match := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line):
            pins[name][1].append(match.group(1))
        elif match := re.match(r"^\s+# via (.*)$", line):
            pins[name] = (pins[name][0], pins[name][1], match.group(1))
    return pins


def _direct(path: Path) -> set[str]:
    return {n for n, (_, _, via) in _pins(path).items() if "(pyproject.toml)" in via or via.startswith("-r")}


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [(LOCK, PYPROJECT["project"]["dependencies"]), (BUILD_LOCK, PYPROJECT["build-system"]["requires"])],
    ids=["runtime", "build"],
)
def test_lock_matches_pyproject(lock: Path, requirements: list[str]) -> None:
    pins = _pins(lock)
    wanted = {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}
    assert set(wanted) <= set(pins), f"not in {lock.name}: {set(wanted) - set(pins)}; run `make lock`"
    for name, requirement in wanted.items():
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{lock.name} pins {name}=={pins[name][0]}, outside {requirement}: run `make lock`"
        )
    if lock == LOCK:  # every direct dependency of the lock is one of pyproject's, and back
        assert _direct(lock) == set(wanted), f"{lock.name} was locked from another dependency list: run `make lock`"
    unhashed = [name for name, (_, hashes, _) in pins.items() if not hashes]
    assert not unhashed, f"pinned without a hash: {unhashed}"


def test_runtime_dependencies_leave_the_demo_and_the_tests_out() -> None:
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not runtime & NOT_IN_IMAGE
    assert not set(_pins(LOCK)) & NOT_IN_IMAGE, "a demo- or test-only package is locked into the image"
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(Requirement(r).name == "matplotlib" for r in extras["demo"])
    assert "airoute[demo]" in [r.split("#")[0].strip() for r in extras["dev"]], "the tests render the demo's PNG"


def test_make_targets_install_the_demo_extra_and_regenerate_the_lock() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-e '\.\[[^\]]*demo[^\]]*\]'", makefile), "`make demo` renders the PNG"
    assert re.search(r"^lock:.*\n\t@?bash hack/lock.sh$", makefile, re.M)


# --------------------------------------------------------------------------- the Dockerfile


def test_base_image_is_pinned_by_digest() -> None:
    args, stages = parse()
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", args["PYTHON_IMAGE"])
    assert [s.base for s in stages] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"], "both stages on the pinned base"


def test_dependencies_are_installed_before_the_source_is_copied() -> None:
    _, (build, _) = parse()
    steps = [(c.cmd, " ".join(c.value)) for c in build.instructions]
    copy_lock = next(i for i, (cmd, v) in enumerate(steps) if cmd == "COPY" and "requirements.lock" in v)
    install = next(i for i, (cmd, v) in enumerate(steps) if cmd == "RUN" and "-r requirements.lock" in v)
    copy_source = next(i for i, (cmd, v) in enumerate(steps) if cmd == "COPY" and "operator" in v)
    assert copy_lock < install < copy_source, "a source change must not reinstall the dependencies"
    assert not any(cmd == "COPY" and ("operator" in v or "pyproject" in v) for cmd, v in steps[:install]), steps


def test_every_install_is_hashed_or_offline() -> None:
    _, stages = parse()
    for stage in stages:
        for command in (c for c in stage.instructions if c.cmd == "RUN"):
            for part in re.split(r"&&", command.value[0]):
                subcommand = re.search(PIP_SUBCOMMAND, part)
                if subcommand and subcommand.group(1) == "install":
                    assert "--require-hashes" in part or "--no-index" in part, part
                    assert "--no-deps" in part, f"a dependency outside the lock could sneak in: {part}"
                if subcommand and subcommand.group(1) == "wheel":
                    assert "--no-build-isolation" in part, f"build isolation downloads unpinned setuptools: {part}"
            assert not re.search(r"\b(curl|wget|apt-get)\b", command.value[0]), command.original


def test_runtime_stage_removes_pip_and_installs_nothing() -> None:
    _, (_, runtime) = parse()
    runs = [c.value[0] for c in runtime.instructions if c.cmd == "RUN"]
    assert any(re.search(r"pip uninstall --yes .*\bpip\b", r) for r in runs), "pip stays in the runtime stage"
    assert any("ensurepip" in r and "rm -rf" in r for r in runs), "ensurepip could reinstall pip"
    assert not any(m and m.group(1) == "install" for m in (re.search(PIP_SUBCOMMAND, r) for r in runs))
    copies = [c for c in runtime.instructions if c.cmd == "COPY"]
    assert [(c.flags, c.value) for c in copies] == [(("--from=build",), ("/opt/airoute", "/opt/airoute"))]
    build_venv = next(c.value[0] for c in parse()[1][0].instructions if c.cmd == "RUN")
    assert build_venv == "python -m venv --without-pip /opt/airoute", "the copied environment carries no pip"


def test_oci_labels() -> None:
    _, (_, runtime) = parse()
    labels: dict[str, str] = {}
    for command in (c for c in runtime.instructions if c.cmd == "LABEL"):
        labels.update(zip(command.value[::2], (v.strip('"') for v in command.value[1::2]), strict=True))
    required = {"title", "description", "version", "revision", "created", "licenses", "source", "url", "base.name"}
    assert {f"org.opencontainers.image.{k}" for k in required} <= set(labels)
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert labels["org.opencontainers.image.version"] == "${VERSION}"


def test_the_build_context_is_only_what_the_image_needs() -> None:
    text = (REPO_ROOT / ".dockerignore").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*", "ignore everything, then allow what the Dockerfile copies"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for stage in parse()[1]:
        for command in (c for c in stage.instructions if c.cmd == "COPY" and not c.flags):
            copied |= set(command.value[:-1])
    expected = {"requirements.lock", "requirements-build.lock", "pyproject.toml", "README.md", "operator"}
    assert copied == allowed == expected


@pytest.mark.slow
def test_the_build_stage_installs_the_lock_with_hashes(tmp_path: Path) -> None:
    """The Dockerfile's build stage, run here: the lock installs with --require-hashes (pip
    refuses any file whose hash differs and any dependency the lock does not pin), the wheel
    builds offline, and the result runs, without pip or the demo's packages."""
    result = run_build_stage(tmp_path)
    python = result.prefix / "bin" / "python"
    listed = subprocess.run([str(python), "-c", "import importlib.metadata as m; print('\\n'.join("
                             "d.metadata['Name'] for d in m.distributions()))"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    names = {canonicalize_name(n) for n in listed}
    assert names == set(_pins(LOCK)) - _not_for_linux() | {"airoute"}
    assert not names & NOT_IN_IMAGE and "pip" not in names
    help_text = subprocess.run([str(result.prefix / "bin" / "airoute"), "--help"], capture_output=True, text=True,
                               check=True).stdout  # fmt: skip
    assert "gateway" in help_text and "controller" in help_text
    assert installed_bytes(result.prefix) < 200e6, "issue 15 item 6: at most 200 MB"


def _not_for_linux() -> set[str]:
    """Pins whose environment marker excludes CPython 3.11 on Linux (Windows, Emscripten, …)."""
    from packaging.markers import Marker

    out = set()
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==\S+ ; (.*?)(?: \\)?$", line)
        if match and not Marker(match.group(2)).evaluate({"sys_platform": "linux", "platform_system": "Linux"}):
            out.add(canonicalize_name(match.group(1)))
    return out

