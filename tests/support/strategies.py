"""Hypothesis strategies for AIRoute objects: valid ones, valid ones with one thing broken, and junk.

* :func:`valid_routes` builds whole AIRoute objects (plain dicts, as read from YAML) that the API
  accepts: every provider kind, optional policies, up to 16 backends.
* :func:`mutated` breaks one place of such an object: a value replaced by junk (wrong type, odd
  unicode, an extreme number, a huge list, nested garbage), a key deleted, or an unknown key added.
  It returns the wire path of the place it broke (``spec.backends[1].weight``), so a test can check
  that the error names it.
* :data:`junk` is anything YAML or JSON can carry, and then some.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

API_VERSION = "airoute.dev/v1alpha1"
SCALE = float(os.environ.get("AIROUTE_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Settings for one fuzz test: ``examples`` inputs (times ``AIROUTE_FUZZ_SCALE``), no deadline."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.function_scoped_fixture],
    )


Path = tuple[str | int, ...]

dns_label = st.from_regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True)
durations = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 900), st.sampled_from(["ms", "s", "m", "h"])) | (
    st.sampled_from(["0s", "0ms", "0.001ms", "1.5s", "90.25s", "1h30m", "8760h"])  # the edges of what is valid
)
model_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,30}", fullmatch=True)
secret_refs = st.fixed_dictionaries({"name": dns_label}, optional={"key": st.sampled_from(["api-key", "token", "k.1"])})

# Strings people should not put in a spec, and that a parser must survive anyway.
ODD_STRINGS = [
    "", " ", "\x00", "\ud800", "\udfff", "\u202e\u0631\u0627\u0644\u0645", "e\u0301", "\ufeffbom", "\u200b",
    "🦜" * 40, "\u210c\U0001d522\U0001d529\U0001d529\U0001d52c", "../../etc/passwd", "ns/name", "${jndi:ldap://x}",
    "%s%n%x", "'; DROP TABLE",
    "\r\n\r\nHTTP/1.1 200 OK", "<script>", "1e309", "-0", "NaN", "null", "true", "99999999999999999999999999999h",
    "9" * 400 + "h", "1.5.5s", "0s", "-1s",
]
LONG = "a" * 70_000
EXTREME_NUMBERS = [
    0, -1, 1, 100, 101, 2**31, 2**63, -(2**63), 10**100, -(10**100), 0.5, -0.0, 1e-320, 1e308, float("inf"),
    float("-inf"), float("nan"), True, False,
]

odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.just(LONG),
    st.text(st.characters(codec=None, categories=["Cs", "Co", "Cn", "Zs", "Zl", "Mn", "Cf", "So"]), max_size=40),
    st.text(max_size=40),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EXTREME_NUMBERS), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), odd_text,
)
junk: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(odd_text, st.sampled_from(["name", "weight", "spec", "azureOpenAI"])), inner,
                        max_size=6),
    ),
    max_leaves=24,
)


def _deep(depth: int) -> Any:
    node: Any = "bottom"
    for i in range(depth):
        node = {"n": node} if i % 2 else [node]
    return node


def huge_values(scale: float = 1.0) -> st.SearchStrategy[Any]:
    """Values far over every limit; ``scale`` shrinks them where they must also go through YAML files."""

    def upto(n: int) -> int:
        return max(1, int(n * scale))

    return st.one_of(
        st.builds(lambda n: [{"name": "x", "weight": 1}] * n, st.integers(17, upto(5000))),  # far over maxItems
        st.builds(lambda n: list(range(n)), st.integers(100, upto(20_000))),
        st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.integers(100, upto(5000))),
        st.builds(_deep, st.integers(20, upto(400))),  # nested garbage, deep but within what YAML and JSON read
        st.builds(lambda n: "x" * n, st.integers(5000, upto(200_000))),
    )


huge = huge_values()
replacement = st.one_of(junk, huge)


def _ramp(points: set[int], strict: bool) -> list[int]:
    steps = sorted(p for p in points if p < 100)
    return [*steps, 100] if strict else sorted([*steps, *steps[:1], 100])


header_text = st.text(st.characters(blacklist_categories=("Cc",)) | st.just("\t"), max_size=20)
"""Header values as a route may hold them: no control character but tab (issue 14.3)."""
extra_headers = st.fixed_dictionaries({"name": st.just("x-team"), "value": header_text})
provider_blocks = st.one_of(
    st.fixed_dictionaries(
        {"azureOpenAI": st.fixed_dictionaries(
            {"endpoint": st.sampled_from(["https://contoso.openai.azure.com", "https://x.example:8443"]),
             "deployment": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
             "region": st.sampled_from(["westeurope", "swedencentral", "eastus2"])},
            optional={"apiVersion": st.sampled_from(["2024-10-21", "2025-01-01-preview"]),
                      "credentialsSecretRef": secret_refs})}),
    st.fixed_dictionaries(
        {"bedrock": st.fixed_dictionaries(
            {"region": st.sampled_from(["eu-central-1", "us-east-1", "eu-west-3"]),
             "modelId": st.sampled_from(["anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.nova-pro-v1:0"])},
            optional={"credentialsSecretRef": secret_refs, "endpointURL": st.just("https://bedrock.example")})}),
    st.fixed_dictionaries(
        {"vertexAI": st.fixed_dictionaries(
            {"project": st.sampled_from(["acme-support", "project-123456"]),
             "location": st.sampled_from(["europe-west4", "global", "us-central1"]),
             "model": st.sampled_from(["gemini-1.5-pro-002", "gemini-2.0-flash"])},
            optional={"credentialsSecretRef": secret_refs})}),
    st.fixed_dictionaries(
        {"inCluster": st.fixed_dictionaries(
            {"service": st.fixed_dictionaries({"name": dns_label},
                                              optional={"namespace": dns_label, "port": st.integers(1, 65535)}),
             "model": st.text(min_size=1, max_size=40)},
            optional={"region": st.sampled_from(["westeurope", "cluster"]), "pathPrefix": st.just("/v1")})}),
    st.fixed_dictionaries(
        {"openAICompatible": st.fixed_dictionaries(
            {"baseURL": st.sampled_from(["https://api.openai.com/v1", "https://api.mistral.ai/v1"]),
             "model": st.text(min_size=1, max_size=40)},
            optional={"credentialsSecretRef": secret_refs, "organization": header_text,
                      "headers": st.lists(extra_headers, max_size=3)})}),
)


@st.composite
def backends(draw: st.DrawFn, name: str) -> dict[str, Any]:
    backend: dict[str, Any] = {"name": name, "weight": draw(st.integers(0, 100)), **draw(provider_blocks)}
    if draw(st.booleans()):
        backend["timeout"] = draw(durations)
    return backend


policies = st.fixed_dictionaries(
    {},
    optional={
        "health": st.fixed_dictionaries({}, optional={
            "interval": durations, "window": durations, "maxErrorRate": st.floats(0, 1),
            "maxThrottleRate": st.floats(0, 1), "maxLatencyP95": durations, "minRequests": st.integers(0, 1_000_000),
            "unhealthyAfter": st.integers(1, 10), "healthyAfter": st.integers(1, 10)}),
        "failover": st.fixed_dictionaries({}, optional={
            "ejectFor": durations, "recoveryInterval": durations, "consecutiveFailures": st.integers(1, 100),
            "recoveryRamp": st.builds(_ramp, st.sets(st.integers(1, 99), max_size=8), st.just(False))}),
        "rollout": st.fixed_dictionaries({}, optional={
            "interval": durations, "maxErrorRate": st.floats(0, 1), "maxLatencyP95": durations,
            "minRequests": st.integers(0, 1_000_000), "failureLimit": st.integers(1, 10),
            "steps": st.builds(_ramp, st.sets(st.integers(1, 99), max_size=9), st.just(True))}),
        "tier": st.sampled_from(["critical", "standard", "best-effort"]),
        "degradedResponse": st.text(min_size=1, max_size=200),
        "allowedClients": st.lists(dns_label, max_size=5),
    },
)


@st.composite
def valid_specs(draw: st.DrawFn, max_backends: int = 16) -> dict[str, Any]:
    names = draw(st.lists(dns_label, min_size=1, max_size=max_backends, unique=True))
    items = [draw(backends(name)) for name in names]
    if not any(b["weight"] > 0 for b in items):
        items[draw(st.integers(0, len(items) - 1))]["weight"] = draw(st.integers(1, 100))
    return {"model": draw(model_names), "backends": items, **draw(policies)}


@st.composite
def valid_routes(draw: st.DrawFn, max_backends: int = 16) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": draw(dns_label), "namespace": draw(dns_label)}
    if draw(st.booleans()):
        meta["generation"] = draw(st.integers(1, 10**6))
    return {"apiVersion": API_VERSION, "kind": "AIRoute", "metadata": meta, "spec": draw(valid_specs(max_backends))}


def paths(node: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON-like tree, parents before children."""
    out: list[Path] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(paths(value, (*prefix, index)))
    return out


def wire_path(path: Path) -> str:
    """``("spec", "backends", 1, "weight")`` → ``spec.backends[1].weight`` (how problems name fields)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


@st.composite
def mutated(
    draw: st.DrawFn, route: dict[str, Any], under: str | None = None, values: st.SearchStrategy[Any] = replacement
) -> tuple[dict[str, Any], str]:
    """``route`` with one place broken (optionally only places under the top-level key ``under``) by
    one of ``values``, and the wire path of that place."""
    obj = copy.deepcopy(route)
    places = [p for p in paths(obj) if under is None or p[0] == under]
    where = draw(st.sampled_from(places))
    parent: Any = obj
    for part in where[:-1]:
        parent = parent[part]
    last = where[-1]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "unknown" and isinstance(parent[last], dict):
        parent[last][draw(st.sampled_from(["extra", "Weight", "backend", "\u202eevil"]))] = draw(junk)
    else:
        parent[last] = draw(values)
    return obj, wire_path(where)


def related(problem_path: str, broken: str) -> bool:
    """Whether an error's path names the broken place, one of its parents, or something inside it."""

    def within(inner: str, outer: str) -> bool:
        return inner == outer or (inner.startswith(outer) and inner[len(outer)] in ".[")

    return within(broken, problem_path) or within(problem_path, broken)
