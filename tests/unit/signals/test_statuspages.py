"""Status-page parsers on sample payloads of each format, and one real fetch over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from aiohttp import web

from airoute.signals.statuspage import StatusPageConfig, StatuspageSource, parse_document

SAMPLES = Path(__file__).parent / "samples"
# Sample payloads follow the published formats; an hour after the newest AWS item.
NOW = parsedate_to_datetime("Fri, 20 Nov 2026 14:45:00 PST").timestamp()


def state(sample: str, component: str | None = None, location: str | None = None, now: float = NOW) -> str | None:
    page = StatusPageConfig("p", "http://x", component, location)
    return parse_document((SAMPLES / sample).read_text(), page, now)


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ("API", "outage"),
        ("chatgpt", "degraded"),
        ("Sora", "operational"),
        ("Playground", "degraded"),
        (None, "outage"),
        ("Assistants", None),
    ],
)
def test_statuspage_summary(component: str | None, expected: str | None) -> None:
    assert state("statuspage-summary.json", component) == expected


@pytest.mark.parametrize(
    ("component", "location", "expected"),
    [
        ("Vertex Gemini API", "europe-west4", "outage"),
        ("Vertex Gemini API", "us-east1", "operational"),  # active incident elsewhere
        ("Online Prediction", "us-central1", "degraded"),
        ("Vertex", None, "outage"),  # worst of every matching incident
        ("BigQuery", None, "operational"),  # resolved and unrelated incidents don't count
    ],
)
def test_google_cloud_incidents(component: str, location: str | None, expected: str) -> None:
    assert state("gcp-incidents.json", component, location) == expected


def test_rss_recent_unresolved_item_is_degraded_never_outage() -> None:
    assert state("aws-health.rss", "bedrock") == "degraded"
    assert state("aws-health.rss", "sagemaker") == "operational"
    assert state("aws-health.rss", "bedrock", now=NOW + 86400) == "operational", "old items don't count"


@pytest.mark.parametrize("garbage", ["", "not json", "<rss><item>", "42", '{"status": "weird"}'])
def test_garbage_says_nothing_or_operational(garbage: str) -> None:
    result = parse_document(garbage, StatusPageConfig("p", "http://x", "API"), NOW)
    assert result in (None, "operational")
    assert result != "outage"


async def test_source_fetches_every_page_and_skips_broken_ones() -> None:
    def serve(name: str | None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(_: web.Request) -> web.StreamResponse:
            return web.FileResponse(SAMPLES / name) if name else web.Response(status=500)

        return handler

    app = web.Application()
    app.router.add_get("/openai.json", serve("statuspage-summary.json"))
    app.router.add_get("/gcp.json", serve("gcp-incidents.json"))
    app.router.add_get("/broken", serve(None))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        source = StatuspageSource(
            [
                StatusPageConfig("https://status.openai.com", f"{base}/openai.json", "API"),
                StatusPageConfig("gcp", f"{base}/gcp.json", "Vertex Gemini API", "europe-west4"),
                StatusPageConfig("azure", f"{base}/broken"),
            ]
        )
        assert await source.states() == {"https://status.openai.com": "outage", "gcp": "outage"}
    finally:
        await runner.cleanup()
