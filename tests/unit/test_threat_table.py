"""docs/security.md's threat table names, for every attack, the test that performs it: each named
test must exist (a renamed or deleted test would leave the table claiming a proof that is gone)."""

from __future__ import annotations

import re

from tests.support.paths import REPO_ROOT

DOC = REPO_ROOT / "docs/security.md"
ITEMS = {f"14.{n}" for n in range(1, 11)} | {"workers"}


def _rows() -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in DOC.read_text().splitlines()
            if line.startswith("| 14.") or line.startswith("| workers")]


def test_every_item_of_the_threat_model_has_a_row() -> None:
    assert {row[0].split(" ")[0] for row in _rows()} == ITEMS


def test_every_test_the_table_names_exists() -> None:
    path = ""  # "…::name" is in the file named last
    for row in _rows():
        named = re.findall(r"`([^`]*::[^`]*)`", row[-1])
        assert named, f"{row[0]}: no test named"
        for ref in named:
            file, _, name = ref.partition("::")
            path = file if not file.startswith("…") else path
            name = name.split("[")[0]
            source = (REPO_ROOT / path).read_text()
            assert re.search(rf"def {re.escape(name)}\(", source), f"{row[0]}: {path}::{name} does not exist"
