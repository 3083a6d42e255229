"""Who owns a model name (issue 14.4): the route that claimed it first, whatever order the routes are
seen in, and a broken owner keeps its model."""

from __future__ import annotations

import itertools

from airoute.api.status import AIRouteStatus
from airoute.core.decide import Decision
from airoute.core.ownership import conflict_decision, ownership, resolved
from airoute.core.routetable import build_table

from .factories import T0, raw_route, spec_dict


def claimant(name: str, namespace: str = "support", created: str | None = None, model: str = "support-chat",
             valid: bool = True) -> dict[str, object]:
    spec = spec_dict() | {"model": model}
    if not valid:
        spec["backends"] = []
    return raw_route(spec, name=name, namespace=namespace, created=created)


OLD = claimant("own", "support", "2026-01-01T00:00:00Z")
NEW = claimant("thief", "attacker", "2026-02-01T00:00:00Z")
SAME_SECOND = claimant("a-thief", "attacker", "2026-01-01T00:00:00Z")
UNSTAMPED = claimant("aaa", "aaa")


def test_the_oldest_claim_owns_the_model_and_ties_go_by_namespace_then_name() -> None:
    owned = ownership([NEW, OLD, UNSTAMPED, SAME_SECOND])
    assert owned.owners["support-chat"].key == "attacker/a-thief"  # same second: "attacker" < "support"
    assert set(owned.lost) == {"support/own", "attacker/thief", "aaa/aaa"}
    assert ownership([NEW, OLD, UNSTAMPED]).owners["support-chat"].key == "support/own"
    assert ownership([UNSTAMPED, claimant("b", "aaa")]).owners["support-chat"].key == "aaa/aaa"


def test_the_loser_is_told_who_owns_the_model() -> None:
    message = ownership([NEW, OLD]).conflict_message("attacker/thief")
    assert message == ("spec.model 'support-chat' belongs to support/own since 2026-01-01T00:00:00Z, which claimed "
                       "it first; this route is not served until it names another model or that route is gone")
    assert ownership([NEW, OLD]).conflict_message("support/own") is None


def test_the_gateways_table_does_not_depend_on_the_order_it_sees_routes_in() -> None:
    for objs in itertools.permutations([OLD, NEW, SAME_SECOND, UNSTAMPED, claimant("other", model="other")]):
        table, problems = build_table(objs)
        assert {m: e.key for m, e in table.routes.items()} == {"support-chat": "attacker/a-thief",
                                                               "other": "support/other"}
        assert sorted(p.key for p in problems) == ["aaa/aaa", "attacker/thief", "support/own"]


def test_a_broken_owner_keeps_its_model_unserved_rather_than_handed_over() -> None:
    for objs in itertools.permutations([claimant("own", created="2026-01-01T00:00:00Z", valid=False), NEW]):
        table, problems = build_table(objs)
        assert table.routes == {}
        assert {p.key for p in problems} == {"support/own", "attacker/thief"}


def test_the_loser_gets_a_conflict_and_the_owner_clears_one() -> None:
    lost = conflict_decision(AIRouteStatus(), "belongs to x", 3, T0)
    ready, conflict = lost.status.condition("Ready"), lost.status.condition("Conflict")
    assert ready is not None and (ready.status, ready.reason) == ("False", "ModelConflict")
    assert conflict is not None and (conflict.status, conflict.reason, conflict.message) == (
        "True", "ModelClaimed", "belongs to x")
    assert [e.reason for e in lost.events] == ["ModelConflict"]
    again = conflict_decision(lost.status, "belongs to x", 3, T0 + 60)
    assert again.events == () and again.status == lost.status, "no churn while it stays so"
    cleared = resolved(Decision(lost.status), T0 + 120, 4)
    after = cleared.status.condition("Conflict")
    assert after is not None and (after.status, after.reason) == ("False", "ModelOwned")
    assert resolved(cleared, T0 + 180, 4) == cleared
