"""What the API server saw: its audit log, restricted to writes of AIRoutes and their status.

Start a :class:`~tests.support.apiserver.TestCluster` with ``audit_policy=AIROUTE_WRITES`` and
read ``cluster.audit_log`` with :class:`AuditLog`: every create, update, patch and delete of an
AIRoute (or its status) that the API server completed, with who asked and when. This is how
tests and benchmarks prove who wrote what — a process' own logs can only say what it meant to do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AIROUTE_WRITES: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted", "Panic"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["create", "update", "patch", "delete", "deletecollection"],
            "resources": [{"group": "airoute.dev", "resources": ["airoutes", "airoutes/status"]}],
        },
        {"level": "None"},
    ],
}
"""An audit policy: metadata of every write to AIRoutes and their status, nothing else."""


@dataclass(frozen=True)
class Write:
    """One completed write request."""

    at: float  # when the API server received it (epoch seconds)
    user: str
    user_agent: str
    verb: str
    namespace: str
    name: str
    subresource: str
    code: int

    @property
    def status(self) -> bool:
        return self.subresource == "status"


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class AuditLog:
    """Reads an audit log as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.writes: list[Write] = []

    def read(self) -> list[Write]:
        """Every completed write so far (the log is read on from where the last call stopped)."""
        if self.path.exists():
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = self._partial + f.read()
                self._offset = f.tell()
            *lines, self._partial = data.split(b"\n")
            self.writes.extend(w for line in lines if line.strip() and (w := _write(json.loads(line))) is not None)
        return self.writes

    def between(self, start: float, end: float) -> list[Write]:
        return [w for w in self.read() if start <= w.at < end]

    def by(self, user: str) -> Iterator[Write]:
        return (w for w in self.read() if w.user == user)


def _write(event: dict[str, Any]) -> Write | None:
    ref = event.get("objectRef") or {}
    if event.get("stage") != "ResponseComplete" or ref.get("resource") != "airoutes":
        return None
    return Write(
        at=_epoch(event["requestReceivedTimestamp"]),
        user=(event.get("user") or {}).get("username", ""),
        user_agent=event.get("userAgent", ""),
        verb=event.get("verb", ""),
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        subresource=ref.get("subresource", ""),
        code=int((event.get("responseStatus") or {}).get("code", 0)),
    )
