"""Telling people: a webhook (Slack-compatible or generic JSON) with de-duplication.

Only changes people act on are sent (ejections, recoveries, rollbacks, drills, invalid specs),
and the same (route, reason, backend) is sent at most once per ``quiet_seconds`` so a flapping
signal does not spam a channel. The webhook URL is a secret: it never appears in logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from airoute.core.events import Event

log = logging.getLogger("airoute.notify")

NOTIFY_NORMAL_REASONS = frozenset({"DrillStarted", "DrillCompleted", "CanaryPromoted", "BackendRecovered"})


def worth_telling(event: Event) -> bool:
    return event.type == "Warning" or event.reason in NOTIFY_NORMAL_REASONS


def webhook_body(fmt: Literal["slack", "generic"], route: str, event: Event) -> dict[str, object]:
    title = f"[airoute] {route}: {event.reason}"
    if fmt == "slack":
        icon = ":rotating_light:" if event.type == "Warning" else ":information_source:"
        return {"text": f"{icon} *{title}*\n{event.message}"}
    return {
        "route": route,
        "type": event.type,
        "reason": event.reason,
        "backend": event.backend,
        "message": event.message,
        "title": title,
    }


@dataclass
class Deduplicator:
    """Lets a key through at most once per ``quiet_seconds``."""

    quiet_seconds: float
    clock: Callable[[], float]
    _sent: dict[str, float] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = self.clock()
        last = self._sent.get(key)
        if last is not None and now - last < self.quiet_seconds:
            return False
        self._sent[key] = now
        if len(self._sent) > 10_000:  # bounded memory
            cutoff = now - self.quiet_seconds
            self._sent = {k: t for k, t in self._sent.items() if t >= cutoff}
        return True


class NullNotifier:
    """The :class:`~airoute.ports.Notifier` when no webhook is configured: tells no one."""

    async def notify(self, route: str, event: Event) -> bool:
        return False


class WebhookNotifier:
    """Posts events worth telling to one webhook URL (a :class:`~airoute.ports.Notifier`)."""

    def __init__(
        self,
        url: str,
        clock: Callable[[], float],
        fmt: Literal["slack", "generic"] = "slack",
        quiet_seconds: float = 600,
    ) -> None:
        self._url = url
        self._fmt = fmt
        self._dedupe = Deduplicator(quiet_seconds, clock)
        self.sent = 0
        self.failed = 0

    async def notify(self, route: str, event: Event) -> bool:
        if not worth_telling(event) or not self._dedupe.allow(f"{route}|{event.reason}|{event.backend}"):
            return False
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
                session.post(self._url, json=webhook_body(self._fmt, route, event)) as resp,
            ):
                resp.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failed += 1
            log.warning("notification webhook failed: %s", type(exc).__name__)  # never the URL: it is a secret
            return False
        self.sent += 1
        return True
