"""Generated AIRoutes through the API models: only ``InvalidRoute`` ever comes out, and it names the field."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from airoute.api import InvalidRoute, parse_route, parse_spec, parse_status
from tests.support.strategies import fuzz, junk, mutated, related, replacement, valid_routes


def _problems(obj: Any) -> list[tuple[str, str]] | None:
    """None when ``obj`` parses; else its problems. Any exception but InvalidRoute fails the test."""
    try:
        parse_route(obj)
    except InvalidRoute as exc:
        refused = exc
    else:
        return None
    assert refused.problems, "an InvalidRoute must list at least one problem"
    assert all(p.message for p in refused.problems)
    assert str(refused)  # renders
    return [(p.path, p.message) for p in refused.problems]


@fuzz(300)
@given(valid_routes())
def test_valid_routes_parse_and_round_trip(obj: dict[str, Any]) -> None:
    route = parse_route(obj)
    assert [b.name for b in route.spec.backends] == [b["name"] for b in obj["spec"]["backends"]]
    assert parse_spec(route.spec.to_wire()) == route.spec  # what the controller writes back reads the same


@fuzz(300)
@given(st.data())
def test_one_broken_field_is_named_in_the_error(data: st.DataObject) -> None:
    obj, broken = data.draw(valid_routes(max_backends=4).flatmap(mutated))
    problems = _problems(obj)
    if problems is None:
        return  # the change happened to be valid (an optional key deleted, an equal value)
    named = any(related(path, broken) for path, _ in problems)
    duplicate = broken.endswith(".name") and any("duplicate" in message for _, message in problems)
    assert named or duplicate, f"broke {broken}, but the errors name {problems}"


@fuzz(200)
@given(st.one_of(junk, replacement))
def test_anything_at_all_is_refused_cleanly(obj: Any) -> None:
    assert _problems(obj) is not None


@fuzz(200)
@given(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "status"]), junk))
def test_junk_in_every_top_level_field(obj: dict[str, Any]) -> None:
    _problems(obj)


@fuzz(200)
@given(valid_routes(max_backends=3), junk)
def test_a_broken_previous_status_never_blocks_the_spec(obj: dict[str, Any], status: Any) -> None:
    """A status written by someone else (or a corrupt status file) reads as empty, never raises."""
    route = parse_route({**obj, "status": status})
    assert route.spec.model == obj["spec"]["model"]
    if isinstance(status, dict):
        parse_status(status)
