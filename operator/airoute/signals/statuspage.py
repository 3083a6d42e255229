"""Provider status pages as an extra health signal.

Statuspage (Atlassian) ``/api/v2/summary.json`` is what OpenAI, Anthropic, xAI, Mistral and many
others publish: a list of components with a status each. The parser is pure; fetching is a thin
aiohttp call. A page that cannot be read says nothing (``None``), never "outage".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from airoute.core.signals import StatusPage

_STATUSPAGE_COMPONENT = {
    "operational": "operational",
    "degraded_performance": "degraded",
    "partial_outage": "degraded",
    "major_outage": "outage",
    "under_maintenance": "degraded",
}
_STATUSPAGE_INDICATOR = {"none": "operational", "minor": "degraded", "major": "outage", "critical": "outage"}


@dataclass(frozen=True)
class StatusPageConfig:
    """One page to watch: a name the routes refer to (e.g. ``azure``), its URL, an optional component."""

    name: str
    url: str
    component: str | None = None


def parse_statuspage(doc: Mapping[str, Any], component: str | None) -> StatusPage | None:
    """The state of ``component`` (or of the whole page) in a Statuspage ``summary.json``."""
    if component:
        for item in doc.get("components", []):
            if isinstance(item, Mapping) and str(item.get("name", "")).lower() == component.lower():
                state = _STATUSPAGE_COMPONENT.get(str(item.get("status")))
                return state  # type: ignore[return-value]
        return None
    indicator = doc.get("status", {}).get("indicator") if isinstance(doc.get("status"), Mapping) else None
    return _STATUSPAGE_INDICATOR.get(str(indicator))  # type: ignore[return-value]


class StatuspageSource:
    """A :class:`~airoute.ports.StatusPageSource` reading Statuspage-style JSON over HTTP."""

    def __init__(self, pages: Sequence[StatusPageConfig], timeout_seconds: float = 5.0) -> None:
        self._pages = list(pages)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def _one(self, session: aiohttp.ClientSession, page: StatusPageConfig) -> StatusPage | None:
        try:
            async with session.get(page.url) as resp:
                resp.raise_for_status()
                doc = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return parse_statuspage(doc, page.component) if isinstance(doc, Mapping) else None

    async def states(self) -> Mapping[str, StatusPage]:
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            found = await asyncio.gather(*(self._one(session, p) for p in self._pages))
        return {p.name: s for p, s in zip(self._pages, found, strict=True) if s is not None}
