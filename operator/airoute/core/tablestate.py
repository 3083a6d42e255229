"""The route table kept per route and updated per change, the way an informer keeps its cache and
delta xDS sends only what changed: a change to one AIRoute costs the work of that route.

* :func:`route_input` is all the table reads of an AIRoute object (name, namespace, generation,
  creation time, spec, and of the status only ``weights``, ``canaryWeights`` and the stable
  ``backends[].provider`` blocks). A source may keep that alone and drop the rest (managedFields,
  conditions, health figures): the entry made from it is the same.
* :meth:`TableState.update` takes the changed objects (``None``: deleted). An object whose input
  digest did not change (a status write that moved only conditions or figures) builds nothing; one
  that did builds its own entry, once (:attr:`TableState.built` counts them). Model ownership
  (:mod:`airoute.core.ownership`) is indexed by model name, so a change re-decides only the routes
  that claim the models it touched.
* the content hash is a sum of per-entry digests (mod 2**256): order-free, updated per entry; the
  version moves only when it does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from airoute.api.validation import InvalidRoute
from airoute.core.ownership import Claim, claim_of
from airoute.core.routeentry import RouteEntry, route_entry

_META = ("name", "namespace", "generation", "creationTimestamp")
_STATUS = ("weights", "canaryWeights")
_MODULUS = 2**256
_ONLY_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
"""What ``orjson`` would write as something else (dates as strings …) it refuses instead."""


@dataclass(frozen=True)
class TableProblem:
    """A route left out of the table (or served from its last good routing), and why."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def _stable_block(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    return {k: item[k] for k in ("name", "provider") if k in item}


def route_input(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an AIRoute object the table reads (see the module's docstring)."""
    meta = obj.get("metadata")
    out: dict[str, Any] = {"metadata": {k: meta[k] for k in _META if k in meta} if isinstance(meta, Mapping) else meta}
    if "spec" in obj:
        out["spec"] = obj["spec"]
    status = obj.get("status")
    if isinstance(status, Mapping):
        kept = {k: status[k] for k in _STATUS if k in status}
        backends = status.get("backends")
        if backends is not None:
            kept["backends"] = [_stable_block(b) for b in backends] if isinstance(backends, list) else backends
        out["status"] = kept
    elif status is not None:
        out["status"] = status
    return out


def input_digest(obj: Mapping[str, Any]) -> bytes:
    """A digest of :func:`route_input` of ``obj``: equal digests make equal entries. The text
    hashed keeps the keys in the order they came in (the API server writes an object's fields in
    one order, and so does a YAML file): the same content in another order only builds again.
    The text is ``orjson``'s JSON (a fifth of ``repr``'s time); ``repr:`` and the ``repr`` (a
    text no JSON starts with) where JSON would not tell inputs apart or cannot be written: a
    ``null`` (also what ``orjson`` writes for NaN and infinities), a YAML date (which JSON would
    write as its string), an integer beyond 64 bits, YAML's binary, a key that is not a string."""
    kept = route_input(obj)
    try:
        text = orjson.dumps(kept, option=_ONLY_JSON)
    except TypeError:  # orjson.JSONEncodeError
        text = b"null"
    if b"null" in text:
        text = b"repr:" + repr(kept).encode()
    return hashlib.blake2b(text, digest_size=16).digest()


@dataclass(slots=True)
class _Record:
    """What one object made: its digest, claim, entry (None: unusable) and problem."""

    digest: bytes
    claim: Claim | None
    entry: RouteEntry | None
    problem: str | None


@dataclass(frozen=True)
class TableChange:
    """What an update changed: served entries by model (None: no longer served), and problems by
    route key (None: the route's problem is gone)."""

    models: Mapping[str, RouteEntry | None]
    problems: Mapping[str, TableProblem | None]


@dataclass
class TableState:
    """Every route's entry, the models they own and the table they make (``routes``)."""

    records: dict[str, _Record] = field(default_factory=dict)
    routes: dict[str, RouteEntry] = field(default_factory=dict)
    """The served entry of every model."""
    problems: dict[str, TableProblem] = field(default_factory=dict)
    version: int = 0
    built: int = 0
    """Route entries built so far (one per object whose input changed)."""
    _claimants: dict[str, dict[str, Claim]] = field(default_factory=dict)
    _served: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (model, its term of the sum)
    _sum: int = 0

    @property
    def hash(self) -> str:
        return f"{self._sum:064x}"

    def serving(self, key: str) -> str | None:
        """The model the route ``key`` is served under (None: it is not)."""
        served = self._served.get(key)
        return served[0] if served is not None else None

    def update(self, changes: Mapping[str, Mapping[str, Any] | None]) -> TableChange:
        """Applies changed objects by key (``None``: deleted); see the module's docstring."""
        touched: set[str] = set()
        keys: set[str] = set()
        for key, obj in changes.items():
            if self._record(key, obj, touched):
                keys.add(key)
        keys.update(k for model in touched for k in self._claimants.get(model, ()))
        keys.update(entry.key for model in touched if (entry := self.routes.get(model)) is not None)
        models: dict[str, RouteEntry | None] = {}
        problems: dict[str, TableProblem | None] = {}
        before = self._sum
        for key in sorted(keys):
            self._decide(key, models, problems)
        if self.version == 0 or self._sum != before:
            self.version += 1
        return TableChange(models, problems)

    def _record(self, key: str, obj: Mapping[str, Any] | None, touched: set[str]) -> bool:
        old = self.records.get(key)
        if obj is None:
            if old is None:
                return False
            del self.records[key]
            self._claim(key, old.claim, None, touched)
            return True
        digest = input_digest(obj)
        if old is not None and old.digest == digest:
            return False
        entry, problem = self._entry(obj, old)
        claim = claim_of(obj)
        self.records[key] = _Record(digest, claim, entry, problem)
        self._claim(key, old.claim if old is not None else None, claim, touched)
        if entry is not None:
            touched.add(entry.model)
        if old is not None and old.entry is not None:
            touched.add(old.entry.model)
        return True

    def _entry(self, obj: Mapping[str, Any], old: _Record | None) -> tuple[RouteEntry | None, str | None]:
        self.built += 1
        try:
            entry = route_entry(obj)
        except InvalidRoute as exc:
            if old is not None and old.entry is not None:
                return replace(old.entry, from_last_good=True), f"{exc}; previous entry kept"
            return None, f"{exc}; left out"
        notes = [*(["spec is invalid; serving the last good routing from status"] if entry.from_last_good else []),
                 *entry.distrusted]
        return entry, "; ".join(notes) if notes else None

    def _claim(self, key: str, old: Claim | None, new: Claim | None, touched: set[str]) -> None:
        if old == new:
            return
        if old is not None:
            claimants = self._claimants.get(old.model, {})
            claimants.pop(key, None)
            if not claimants:
                self._claimants.pop(old.model, None)
            touched.add(old.model)
        if new is not None:
            self._claimants.setdefault(new.model, {})[key] = new
            touched.add(new.model)

    def _owner(self, model: str) -> Claim | None:
        claimants = self._claimants.get(model)
        return min(claimants.values()) if claimants else None

    def _decide(self, key: str, models: dict[str, RouteEntry | None], problems: dict[str, TableProblem | None]) -> None:
        """Serves ``key``'s entry under its model when the route owns it; records the problem."""
        record = self.records.get(key)
        want: RouteEntry | None = None
        message: str | None = None
        if record is not None:
            owner = self._owner(record.claim.model) if record.claim is not None else None
            if owner is not None and owner.key != key:
                message = (f"spec.model {owner.model!r} belongs to {owner.describe()}, which claimed it first; "
                           "this route is not served until it names another model or that route is gone")
            else:
                message = record.problem
                entry = record.entry
                claimed = self._owner(entry.model) if entry is not None else None
                if entry is not None and (claimed is None or claimed.key == key):
                    want = entry
        self._serve(key, want, record, models)
        problem = TableProblem(key, message) if message is not None else None
        if self.problems.get(key) != problem:
            if problem is None:
                self.problems.pop(key, None)
            else:
                self.problems[key] = problem
            problems[key] = problem

    def _serve(self, key: str, want: RouteEntry | None, record: _Record | None,
               models: dict[str, RouteEntry | None]) -> None:
        served = self._served.get(key)
        if served is not None and want is not None and self.routes.get(served[0]) is want:
            return
        if served is not None:
            model, term = self._served.pop(key)
            self._sum = (self._sum - term) % _MODULUS
            del self.routes[model]
            models[model] = None
        if want is None or record is None:
            return
        other = self.routes.get(want.model)
        if other is not None and other.key != key:  # an unclaimed model another route already serves
            return
        term = int.from_bytes(hashlib.blake2b(
            want.model.encode() + b"\0" + record.digest + (b"\0kept" if want.from_last_good else b""),
            digest_size=32).digest(), "big")
        self._served[key] = (want.model, term)
        self._sum = (self._sum + term) % _MODULUS
        self.routes[want.model] = want
        models[want.model] = want
