"""Notifications: Slack-compatible and generic webhooks, de-duplicated, never leaking the URL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from airoute.controller.notify import Deduplicator, WebhookNotifier, worth_telling
from airoute.core.events import Event
from tests.support.fakes import FakeClock

EJECTED = Event("Warning", "BackendEjected", "weight of azure-eu 50→0: error rate 0.42 > 0.05 over 2m", "azure-eu")
REBALANCED = Event("Normal", "WeightChanged", "weight of bedrock-eu 30→60: rebalanced", "bedrock-eu")
SECRET_PATH = "/services/T000/B000/very-secret-token-0123456789"


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post(SECRET_PATH, rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec, f"http://127.0.0.1:{port}{SECRET_PATH}"
    finally:
        await runner.cleanup()


def test_only_changes_people_act_on_are_sent() -> None:
    assert worth_telling(EJECTED)
    assert worth_telling(Event("Normal", "DrillCompleted", "drill report", "vertex-eu"))
    assert not worth_telling(REBALANCED)


def test_deduplicator_lets_a_key_through_once_per_quiet_period() -> None:
    clock = FakeClock(1000.0)
    dedupe = Deduplicator(600, clock)
    assert dedupe.allow("k") and not dedupe.allow("k")
    clock.t += 601
    assert dedupe.allow("k")


async def test_slack_body_and_deduplication(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    clock = FakeClock(1000.0)
    notifier = WebhookNotifier(url, clock, "slack", quiet_seconds=600)
    assert await notifier.notify("support/support-chat", EJECTED)
    assert not await notifier.notify("support/support-chat", EJECTED), "a flapping signal does not spam"
    assert not await notifier.notify("support/support-chat", REBALANCED)
    clock.t += 601
    assert await notifier.notify("support/support-chat", EJECTED)
    assert len(rec.bodies) == 2
    assert rec.bodies[0]["text"].startswith(":rotating_light: *[airoute] support/support-chat: BackendEjected*")
    assert "error rate 0.42 > 0.05" in rec.bodies[0]["text"]


async def test_generic_body(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    await WebhookNotifier(url, FakeClock(1000.0), "generic").notify("support/support-chat", EJECTED)
    assert rec.bodies == [
        {
            "route": "support/support-chat",
            "type": "Warning",
            "reason": "BackendEjected",
            "backend": "azure-eu",
            "message": EJECTED.message,
            "title": "[airoute] support/support-chat: BackendEjected",
        }
    ]


async def test_a_failing_webhook_is_counted_and_logged_without_its_url(
    receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    rec, url = receiver
    rec.status = 500
    notifier = WebhookNotifier(url, FakeClock(1000.0), "slack")
    with caplog.at_level(logging.DEBUG):
        assert not await notifier.notify("support/support-chat", EJECTED)
    assert notifier.failed == 1
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("airoute"))
    assert "notification webhook failed" in ours
    assert "very-secret-token" not in ours  # (the receiver's own access log is not ours)
