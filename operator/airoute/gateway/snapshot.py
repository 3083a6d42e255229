"""What a route source hands the gateway: the raw AIRoute objects (spec + status) and the Secret
data they may reference, from one consistent read of a folder or of the Kubernetes API."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SecretData = Mapping[str, bytes]


@dataclass(frozen=True)
class Snapshot:
    """``routes``: AIRoute objects as dicts; ``secrets``: ``namespace/name`` → key → value;
    ``origin``: where it was read from (for log lines)."""

    routes: tuple[Mapping[str, Any], ...]
    secrets: Mapping[str, SecretData] = field(default_factory=dict)
    origin: str = ""


class SnapshotError(ValueError):
    """A source could not be read consistently; the gateway keeps its last good table."""


OnSnapshot = Callable[[Snapshot], None]
OnFailure = Callable[[str], None]


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (base64-decoded) merged with its ``stringData``."""
    out: dict[str, bytes] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            try:
                out[str(key)] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SnapshotError(f"Secret key {key!r} is not base64: {exc}") from exc
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        out.update({str(k): str(v).encode() for k, v in string_data.items()})
    return out


def namespace_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    return str(namespace) if namespace else "default"


def name_of(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return str(name) if name else ""
