"""``airoute validate`` on generated files: exit 0 or 1 with findings, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airoute.cli import main
from tests.support.strategies import fuzz, valid_routes

from .test_controller_folder import broken_routes, dump, garbage_files


@pytest.mark.slow
@fuzz(150)
@given(st.lists(st.one_of(garbage_files, broken_routes(), st.builds(dump, valid_routes(max_backends=3))),
                min_size=1, max_size=4))
def test_validate_never_raises(files: list[str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", open(Path(tmp) / "out.txt", "w", errors="strict"))  # noqa: SIM115
        folder = Path(tmp) / "routes"
        folder.mkdir()
        for i, content in enumerate(files):
            path = folder / f"f{i}.yaml"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, errors="surrogatepass")
        try:
            assert main(["validate", str(folder)]) in (0, 1)
        finally:
            sys.stdout.close()


GARBAGE = {
    "binary.yaml": b"\xff\xfe\x00\x01 not utf-8",
    "deep.yaml": "[" * 3000 + "]" * 3000,
    "broken.yaml": "kind: [broken",
    "slash-name.yaml": "apiVersion: airoute.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: ../../x}\nspec: {}\n",
    "huge-duration.yaml": (
        "apiVersion: airoute.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: r}\nspec:\n  model: m\n"
        "  failover: {ejectFor: 99999999999999999999999999999h}\n  backends:\n"
        "  - {name: a, weight: 1, bedrock: {region: eu-central-1, modelId: x}}\n"
    ),
    "unicode.yaml": "kind: AIRoute\nmetadata: {name: \"\\u202e\\ud800\"}\nspec: {model: \"\\U0001F99C\"}\n",
    "list.yaml": "- 1\n- kind: AIRoute\n",
}


def test_validate_command_on_a_folder_of_garbage(tmp_path: Path) -> None:
    for name, content in GARBAGE.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "airoute.cli", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    out = done.stdout
    assert "binary.yaml: cannot read YAML: not UTF-8" in out
    assert "deep.yaml: cannot read YAML: nested too deeply" in out
    assert "huge-duration.yaml: spec.failover.ejectFor: '99999999999999999999999999999h' is too long" in out
    assert "slash-name.yaml: metadata.name: should match pattern" in out
