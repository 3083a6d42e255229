"""``airoute validate``: offline checks of AIRoute files before they merge (schema and policies)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from airoute.api import InvalidRoute, parse_route
from airoute.api.objects import object_key
from airoute.commands.governance import GovernanceParams, check
from airoute.core.ownership import ownership
from airoute.store import unreadable


@dataclass(frozen=True)
class Finding:
    """One problem: the file, the field path and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


def yaml_files(targets: Iterable[Path]) -> Iterator[Path]:
    for target in targets:
        if target.is_dir():
            yield from sorted(
                p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and ".status." not in p.name
            )
        else:
            yield target


def _documents(path: Path) -> Iterator[tuple[str, object]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:  # not UTF-8, nested too deep, …
        yield str(path), Finding(str(path), "", f"cannot read YAML: {unreadable(exc)}")
        return
    for i, doc in enumerate(d for d in docs if d is not None):
        yield (f"{path}#{i + 1}" if len(docs) > 1 else str(path)), doc


def validate(targets: Iterable[Path], policies: GovernanceParams | None = None) -> tuple[int, list[Finding]]:
    """How many AIRoutes were checked, and every problem found (schema, duplicates, models claimed
    by another route, and the governance policies when their parameters are given)."""
    findings: list[Finding] = []
    claims: list[tuple[str, dict[str, object]]] = []
    names: dict[str, str] = {}
    for path in yaml_files(targets):
        for where, doc in _documents(path):
            if isinstance(doc, Finding):
                findings.append(doc)
                continue
            if not isinstance(doc, dict) or doc.get("kind") != "AIRoute":
                continue
            claims.append((where, doc))
            try:
                route = parse_route(doc)
            except InvalidRoute as exc:
                findings.extend(Finding(where, p.path, p.message) for p in exc.problems)
                continue
            if route.key in names:
                findings.append(Finding(where, "metadata.name", f"{route.key} is also defined in {names[route.key]}"))
            names.setdefault(route.key, where)
            if policies is not None:
                findings.extend(Finding(where, "policy", message) for message in check(route, policies))
    owned = ownership(doc for _, doc in claims)
    for where, doc in claims:
        message = owned.conflict_message(object_key(doc))
        if message is not None:
            findings.append(Finding(where, "spec.model", message))
    return len(claims), findings
