"""Provider status pages as an extra health signal.

Three formats, recognised from the content (so a page is configured by its URL alone):

* **Statuspage** (Atlassian) ``/api/v2/summary.json``: OpenAI, Anthropic and many vendors.
  A component's status, or the page's overall indicator.
* **Google Cloud** ``incidents.json``: active incidents (no ``end``) whose product matches the
  component (e.g. ``Vertex AI``) and, optionally, whose affected locations include ours.
* **RSS** feeds (Azure status, AWS Health per-service feeds): recent items that mention the
  component and are not marked resolved. RSS carries no severity: it can say *degraded*, never
  *outage*.

The parsers are pure; fetching is a thin aiohttp call. A page that cannot be read or parsed
says nothing (``None``), never "outage": a status page is a hint, the traffic is the truth.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from airoute.core.signals import StatusPage

MAX_BYTES = 2 * 1024 * 1024
_STATUSPAGE_COMPONENT: dict[str, StatusPage] = {
    "operational": "operational",
    "degraded_performance": "degraded",
    "partial_outage": "degraded",
    "major_outage": "outage",
    "under_maintenance": "degraded",
}
_STATUSPAGE_INDICATOR: dict[str, StatusPage] = {
    "none": "operational",
    "minor": "degraded",
    "major": "outage",
    "critical": "outage",
}
_GCP_IMPACT: dict[str, StatusPage] = {
    "SERVICE_OUTAGE": "outage",
    "SERVICE_DISRUPTION": "degraded",
    "SERVICE_INFORMATION": "operational",
}
_RESOLVED_WORDS = ("resolved", "operating normally", "mitigated")


@dataclass(frozen=True)
class StatusPageConfig:
    """One page to watch: a name routes refer to (``azure``, ``aws``, ``gcp`` or a URL), its URL,
    an optional component (product) and location (region) to look for."""

    name: str
    url: str
    component: str | None = None
    location: str | None = None
    recent_seconds: float = 3 * 3600  # RSS: how old an unresolved item may be and still count


def parse_statuspage(doc: Mapping[str, Any], component: str | None) -> StatusPage | None:
    """The state of ``component`` (or of the whole page) in a Statuspage ``summary.json``."""
    if component:
        for item in doc.get("components", []):
            if isinstance(item, Mapping) and str(item.get("name", "")).lower() == component.lower():
                return _STATUSPAGE_COMPONENT.get(str(item.get("status")))
        return None
    status = doc.get("status")
    indicator = status.get("indicator") if isinstance(status, Mapping) else None
    return _STATUSPAGE_INDICATOR.get(str(indicator))


def _worst(states: Sequence[StatusPage]) -> StatusPage:
    order: tuple[StatusPage, ...] = ("operational", "degraded", "outage")
    return max(states, key=order.index, default="operational")


def parse_gcp_incidents(doc: Sequence[Any], component: str | None, location: str | None) -> StatusPage | None:
    """The worst active Google Cloud incident for ``component`` (a product) in ``location``."""
    found: list[StatusPage] = []
    for incident in doc:
        if not isinstance(incident, Mapping) or incident.get("end"):
            continue
        products = [str(p.get("title", "")) for p in incident.get("affected_products", []) if isinstance(p, Mapping)]
        products.append(str(incident.get("service_name", "")))
        if component and not any(component.lower() in p.lower() for p in products):
            continue
        places = [
            str(p.get("id", "")) for p in incident.get("currently_affected_locations", []) if isinstance(p, Mapping)
        ]
        if location and places and location not in places and "global" not in places:
            continue
        state = _GCP_IMPACT.get(str(incident.get("status_impact", "")))
        if state is not None:
            found.append(state)
    return _worst(found)


def parse_rss(text: str, component: str | None, now: float, recent_seconds: float) -> StatusPage | None:
    """*degraded* when a recent, unresolved item mentions ``component``; else *operational*."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for item in root.iter("item"):
        title = (item.findtext("title") or "").strip()
        body = f"{title} {item.findtext('description') or ''}".lower()
        if component and component.lower() not in body:
            continue
        if any(word in body for word in _RESOLVED_WORDS):
            continue
        published = _rss_time(item.findtext("pubDate"))
        if published is not None and now - published <= recent_seconds:
            return "degraded"
    return "operational"


def _rss_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        stamp: datetime = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    return stamp.timestamp()


def parse_document(text: str, page: StatusPageConfig, now: float) -> StatusPage | None:
    """Recognise the format from the content and parse it."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return parse_rss(stripped, page.component, now, page.recent_seconds)
    try:
        doc = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(doc, Mapping):
        return parse_statuspage(doc, page.component)
    if isinstance(doc, list):
        return parse_gcp_incidents(doc, page.component, page.location)
    return None


class StatuspageSource:
    """A :class:`~airoute.ports.StatusPageSource` that reads the configured pages over HTTP."""

    def __init__(self, pages: Sequence[StatusPageConfig], timeout_seconds: float = 5.0) -> None:
        self._pages = list(pages)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def _one(self, session: aiohttp.ClientSession, page: StatusPageConfig) -> StatusPage | None:
        try:
            async with session.get(page.url) as resp:
                resp.raise_for_status()
                raw = await resp.content.read(MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError):
            return None
        if len(raw) > MAX_BYTES:
            return None
        return parse_document(raw.decode("utf-8", errors="replace"), page, datetime.now().timestamp())

    async def states(self) -> Mapping[str, StatusPage]:
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            found = await asyncio.gather(*(self._one(session, p) for p in self._pages))
        return {p.name: s for p, s in zip(self._pages, found, strict=True) if s is not None}
