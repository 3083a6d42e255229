"""Stored routes kept compact (``controller/compact.py``): read like the dicts they encode."""

from __future__ import annotations

import copy
import json

from airoute.api import parse_status
from airoute.controller.compact import JsonObject, compact, plain
from airoute.controller.kubestore import stored_route

STATUS = {
    "observedGeneration": 3,
    "weightsSummary": "a=100",
    "weights": {"a": 100},
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "Serving", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    ],
}


def test_it_reads_as_the_dict_it_encodes() -> None:
    status = JsonObject(STATUS)
    assert status == STATUS and STATUS == status  # noqa: SIM300  (a dict on the left compares too)
    assert dict(status) == STATUS and len(status) == len(STATUS)
    assert status["observedGeneration"] == 3 and status.get("weights") == {"a": 100}
    assert status.get("missing") is None and "conditions" in status and "missing" not in status
    assert sorted(status) == sorted(STATUS) and json.loads(json.dumps(plain(status))) == STATUS


def test_what_a_caller_changes_is_its_own() -> None:
    status = JsonObject(STATUS)
    status["weights"]["a"] = 0
    status.decoded()["conditions"].clear()
    assert status == STATUS and copy.deepcopy(status) is status


def test_the_scalars_at_the_top_are_read_without_decoding() -> None:
    status = JsonObject(STATUS)
    status._raw = b"not json"  # decoding would fail now: the scalars are kept decoded
    assert status["observedGeneration"] == 3 and status.get("weightsSummary") == "a=100"


def test_a_stored_route_keeps_what_the_loop_reads_and_parses_the_same() -> None:
    body = {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute",
            "metadata": {"name": "r", "namespace": "team", "resourceVersion": "7", "managedFields": [{"m": 1}]},
            "spec": {"model": "m"}, "status": STATUS}  # fmt: skip
    stored = stored_route(body)
    assert isinstance(stored["spec"], JsonObject) and stored["spec"]["model"] == "m"
    assert "managedFields" not in stored["metadata"] and stored["metadata"]["resourceVersion"] == "7"
    assert parse_status(plain(stored["status"])) == parse_status(STATUS)
    assert compact(None) is None and compact(stored["status"]) is stored["status"]
