"""The committed CRD is generated from the models, and is a well-formed structural schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from airoute.api.crd import CRD_FILE, custom_resource_definition
from tests.support.paths import REPO_ROOT

COMMITTED = REPO_ROOT / "crds" / CRD_FILE


def _schema() -> dict[str, Any]:
    crd = custom_resource_definition()
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")


def test_committed_crd_is_current() -> None:
    committed = yaml.safe_load(COMMITTED.read_text())
    assert committed == custom_resource_definition(), "crds/ is stale: run `make crd`"


def test_every_field_has_a_description() -> None:
    missing = [
        p
        for p, n in _walk(_schema())
        if p.count(".") > 1 and not n.get("description") and not (p.endswith("[]") and n.get("type") != "object")
    ]
    assert missing == []


def test_every_list_is_bounded_and_every_spec_string_too() -> None:
    unbounded = [p for p, n in _walk(_schema()) if n.get("type") == "array" and "maxItems" not in n]
    assert unbounded == []
    spec = _schema()["properties"]["spec"]
    loose = [p for p, n in _walk(spec) if n.get("type") == "string" and "maxLength" not in n and "enum" not in n]
    assert loose == [], "CEL cost estimation needs maxLength on every string"


def test_schema_is_structural() -> None:
    for path, node in _walk(_schema()):
        assert "$ref" not in node and "anyOf" not in node, path
        assert node.get("additionalProperties") is not False, path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path


def test_backends_are_a_map_keyed_by_name() -> None:
    backends = _schema()["properties"]["spec"]["properties"]["backends"]
    assert backends["x-kubernetes-list-type"] == "map"
    assert backends["x-kubernetes-list-map-keys"] == ["name"]
    assert backends["maxItems"] == 16


def test_cel_rules_cover_the_documented_invariants() -> None:
    rules = " ".join(r["rule"] for _, n in _walk(_schema()) for r in n.get("x-kubernetes-validations", []))
    assert "has(self.azureOpenAI), has(self.bedrock)" in rules  # exactly one provider block
    assert "self.backends.exists(b, b.weight > 0)" in rules
    assert "self.steps.isSorted()" in rules and "== 100" in rules


def test_names_columns_and_subresources() -> None:
    crd = custom_resource_definition()
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"], names["categories"]) == (
        "AIRoute",
        "airoutes",
        ["air"],
        ["ai"],
    )
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Model", "Tier", "Weights", "Spilled", "Rollout", "Ready", "Degraded", "Age"]


def test_defaults_in_the_crd_match_the_models() -> None:
    spec = _schema()["properties"]["spec"]["properties"]
    assert spec["tier"]["default"] == "standard"
    assert spec["health"]["default"]["window"] == "2m"
    assert spec["health"]["properties"]["window"]["default"] == "2m"
    assert spec["rollout"]["properties"]["steps"]["default"] == [5, 20, 50, 100]


def test_committed_files_are_what_airoute_crd_writes() -> None:
    from airoute.cli import crd_files

    for name, text in crd_files().items():
        assert (REPO_ROOT / "crds" / name).read_text() == text, f"crds/{name} is stale: run `make crd`"


def test_reference_doc_is_current() -> None:
    from airoute.api.reference import reference

    committed = (REPO_ROOT / "docs/reference/airoute.md").read_text()
    assert committed == reference(), "docs/reference/airoute.md is stale: run `make crd`"
    assert "`spec.backends[].weight`" in committed and "exactly one provider block" in committed
