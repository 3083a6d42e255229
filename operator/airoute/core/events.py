"""Kubernetes-style Events the core asks the controller to record: each explains one change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Event:
    """One change worth telling people about, with the numbers behind it."""

    type: EventType
    reason: str
    message: str
    backend: str | None = None


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
