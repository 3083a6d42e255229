"""What a route source hands the gateway: the raw AIRoute objects (spec + status) and the Secret
data they may reference, from one consistent read of a folder or of the Kubernetes API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.api.objects import SecretData


@dataclass(frozen=True)
class Snapshot:
    """``routes``: AIRoute objects as dicts; ``secrets``: ``namespace/name`` → key → value;
    ``origin``: where it was read from (for log lines)."""

    routes: tuple[Mapping[str, Any], ...]
    secrets: Mapping[str, SecretData] = field(default_factory=dict)
    origin: str = ""


OnSnapshot = Callable[[Snapshot], None]
"""Called with every new snapshot: it becomes the live table (or is refused)."""
OnFailure = Callable[[str], None]
"""Called with why a source could not be read: the last good table stays."""

