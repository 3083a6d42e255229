"""What a route source hands the gateway: the AIRoute objects (spec + status) and the Secret data
they may reference — a :class:`Change` (what changed since the last one) or a :class:`Snapshot`
(everything, from one consistent read; what is not in it is gone)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.api.objects import SecretData


@dataclass(frozen=True)
class Change:
    """``routes``: changed AIRoute objects by ``namespace/name`` (None: deleted); ``secrets``:
    changed Secret data by ``namespace/name`` (None: deleted); ``synced``: the source has now
    handed over everything it read at its start (the table may be served); ``origin``: where it
    was read from (for log lines)."""

    routes: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    secrets: Mapping[str, SecretData | None] = field(default_factory=dict)
    synced: bool = False
    origin: str = ""


@dataclass(frozen=True)
class Snapshot:
    """``routes``: AIRoute objects as dicts; ``secrets``: ``namespace/name`` → key → value;
    ``origin``: where it was read from (for log lines)."""

    routes: tuple[Mapping[str, Any], ...]
    secrets: Mapping[str, SecretData] = field(default_factory=dict)
    origin: str = ""


OnChange = Callable[[Change], None]
"""Called with every change: it becomes part of the live table (routes that cannot be used keep
their last good routing or are left out, each on its own)."""
OnFailure = Callable[[str], None]
"""Called with why a source could not be read: the last good table stays."""
