"""The failover policy: one chat request through a route — choose a backend, call it, fail over,
or degrade.

Policy, in order:

* when some backend of the route cannot take every request, the request's needs are read once
  and the choice keeps only the backends that can serve them
  (:mod:`~airoute.gateway.failover.narrowing`); none: a 400 naming the features and backends;
* backends are tried in :class:`~airoute.gateway.failover.choice.Choice` order (weighted, then standby),
  skipping those ejected in this gateway (unless every backend left is ejected); each attempt gets
  ``min(backend timeout, time left)``, and a stream also its ``firstTokenTimeout`` and
  ``streamIdleTimeout`` (:mod:`~airoute.gateway.failover.watchdog`);
* a stream is pushed to the client as it comes (:mod:`~airoute.gateway.failover.relay`); callers
  hold its opening back until the first output, so an in-band error or a stall before the first
  token has sent nothing and fails over like any failure before the first byte;
* a backend that answered 429 is *held off* for as long as it asked (``Retry-After``,
  ``retry-after-ms``, ``x-ratelimit-reset-*``: ``core.retries``) — skipped like an ejected one,
  but never counted towards ejection; when every backend is held off or throttled the client gets
  429 with the earliest ``Retry-After`` (or the degradedResponse);
* a retry is made only within the route's retry budget: at most ``failover.maxRetries`` per
  request and ``failover.retryBudget`` percent of the route's requests in flight (``core.retries``);
* a failure before the first byte reached the client moves on to the next backend — except
  ``BadRequest`` (the client's request is wrong: answered at once, never retried), unless the
  backend only *may* take what the request needs and an untried backend surely takes it;
  ``AuthFailed`` (this backend's credentials) moves on too;
* once bytes were sent, nothing is retried: a stream cut, stalled or reporting an error ends with
  an error event and no ``[DONE]``, so the client knows the answer is incomplete (no silent
  duplicate), and counts as a failure the client saw (``backend=""``, ``error`` or ``timeout``);
* when every backend failed: the route's degradedResponse (``x-airoute-degraded: true``) or a
  503 that names each backend and why it failed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Container, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Protocol

from airoute.api.metrics import Outcome
from airoute.core.retries import hold_off_seconds, retry_allowed
from airoute.gateway import errors
from airoute.gateway.failover.answers import degraded_completion, degraded_stream, stream_error_event
from airoute.gateway.failover.choice import Choice
from airoute.gateway.failover.ejection import Ejector, Until
from airoute.gateway.failover.narrowing import Narrowing, narrowing, refusal
from airoute.gateway.failover.relay import SSE_HEADERS, Relay
from airoute.gateway.failover.route import LiveRoute, Target
from airoute.gateway.failover.watchdog import Watchdog
from airoute.gateway.http_server import Reply
from airoute.gateway.metrics import GatewayMetrics
from airoute.providers.errors import AuthFailed, BadRequest, ProviderError, Throttled, Timeout
from airoute.providers.needs import read_needs
from airoute.providers.sniff import Sniffed, usage_tokens

log = logging.getLogger(__name__)

DEGRADED_HEADER = ("x-airoute-degraded", "true")
_NONE: frozenset[str] = frozenset()
_NO_HEADERS: Mapping[str, str] = {}
CLIENT_ANSWERS = frozenset({"content_filter", "context_length_exceeded"})
"""Backend error codes that are the client's answer, not a missing feature: never a reason to
try another backend."""


def outcome_of(error: ProviderError) -> Outcome:
    """The ``outcome`` label of a failed attempt."""
    if isinstance(error, Throttled):
        return "throttled"
    if isinstance(error, Timeout):
        return "timeout"
    if isinstance(error, BadRequest):
        return "bad_request"
    if isinstance(error, AuthFailed):
        return "auth_failed"
    return "error"


def fails_over(error: ProviderError) -> bool:
    """Whether a failure before the first byte moves the request to the next backend."""
    return not isinstance(error, BadRequest)


class Spans(Protocol):
    """Where requests and their attempts are traced (:class:`airoute.gateway.otlp.AttemptSpans`
    when the OTLP export is on)."""

    def request(self, route: LiveRoute, headers: Mapping[str, str]) -> AbstractContextManager[None]:
        """The request's span, continuing the client's trace when ``headers`` carry a W3C
        ``traceparent``."""
        ...

    def attempt(self, target: Target, seconds: float, error: str = "", tokens: tuple[int, int] = (0, 0)) -> None: ...


class _Cut(Exception):
    """A stream failed after bytes reached the client."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class Failover:
    """Runs requests against live routes; holds the local ejection state."""

    def __init__(
        self,
        metrics: GatewayMetrics,
        ejector: Ejector | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        spans: Spans | None = None,
    ) -> None:
        self.metrics = metrics
        self.spans = spans
        """None: requests are not traced (the default: no OTLP export)."""
        self.ejector = ejector or Ejector(clock)
        self.held = Until(clock)
        """Backends held off after a 429, by route (``core.retries``)."""
        self.clock = clock
        self.rand = rand
        self._in_flight: dict[str, int] = {}
        self._retrying: dict[str, int] = {}

    async def run(self, route: LiveRoute, body: bytes, sniffed: Sniffed, reply: Reply, deadline: float,
                  headers: Mapping[str, str] = _NO_HEADERS) -> int:
        """Answers one request; returns the tokens the answering backend reported (0: none).
        ``headers``: the client's (a trace it started is continued when spans are on)."""
        if self.spans is None:
            return await self._run(route, body, sniffed, reply, deadline)
        with self.spans.request(route, headers):
            return await self._run(route, body, sniffed, reply, deadline)

    async def _run(self, route: LiveRoute, body: bytes, sniffed: Sniffed, reply: Reply, deadline: float) -> int:
        choice, narrowed = route.choice, None
        if route.reads_needs:
            choice, narrowed, sniffed = self._narrow(route, body, sniffed)
        key = route.key
        held = self.held.current(key)
        failures: list[tuple[str, ProviderError]] = []
        tried: set[str] = set()
        previous: Target | None = None
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            for backend, target in choice.order(self._excluded(route, choice, held), self.rand):
                left = deadline - self.clock()
                if left <= 0:
                    failures.append((backend, Timeout("not tried: the request's deadline passed")))
                    break
                if previous is not None and not self._may_retry(route, len(tried) - 1):
                    log.info("route %s: retry budget spent, %s not tried", key, backend)
                    break
                tried.add(backend)
                started = self.clock()
                try:
                    return await self._try(route, target, previous, body, sniffed, reply, min(target.timeout, left))
                except _Cut as cut:
                    self._failed(route, target, cut.error, started)
                    self._end_cut_stream(route, reply, cut.error)
                    return 0
                except ProviderError as error:
                    self._failed(route, target, error, started)
                    if not fails_over(error) and not _unsure(target, error, narrowed, tried):
                        raise errors.refused_by_backend(backend, error) from None
                    failures.append((backend, error))
                    previous = target
            failures += self._still_held(choice.names, held, tried)
            self._all_failed(route, sniffed, reply, failures)
            return 0
        finally:
            self._in_flight[key] -= 1

    async def _try(self, route: LiveRoute, target: Target, previous: Target | None, body: bytes, sniffed: Sniffed,
                   reply: Reply, budget: float) -> int:
        """One attempt; a retry (``previous`` failed) counts in the route's retries in flight."""
        if previous is None:
            return await self._attempt(route, target, body, sniffed, reply, budget)
        self.metrics.retries.inc(previous.labels[:3])
        self._retrying[route.key] = self._retrying.get(route.key, 0) + 1
        try:
            return await self._attempt(route, target, body, sniffed, reply, budget)
        finally:
            self._retrying[route.key] -= 1

    def _may_retry(self, route: LiveRoute, retries_so_far: int) -> bool:
        entry, key = route.entry, route.key
        return retry_allowed(retries_so_far, entry.max_retries, self._in_flight[key], self._retrying.get(key, 0),
                             entry.retry_budget_percent)

    def _still_held(self, names: Iterable[str], held: Mapping[str, float],
                    tried: set[str]) -> list[tuple[str, ProviderError]]:
        """The backends left out because they are held off after a 429, as the throttles they are."""
        now = self.clock()
        return [(name, Throttled(f"held off for {held[name] - now:.3g}s more after a 429",
                                 retry_after=held[name] - now))
                for name in names if name in held and name not in tried and held[name] > now]

    def _narrow(self, route: LiveRoute, body: bytes,
                sniffed: Sniffed) -> tuple[Choice[Target], tuple[Narrowing, int] | None, Sniffed]:
        """The choice among the backends that can serve this request (raises the 400 when none
        can), what it was narrowed by, and ``sniffed`` with the body parsed if reading parsed it."""
        needs = read_needs(body, sniffed.parsed)
        if needs.parsed is not None and sniffed.parsed is None:
            sniffed = replace(sniffed, parsed=needs.parsed)
        if not needs.mask:
            return route.choice, None, sniffed
        found = narrowing(route, needs.mask)
        if found.choice is None:
            self.metrics.requests.inc(route.outcome("bad_request"))
            raise refusal(route, needs)
        if found.narrowed:
            self.metrics.narrowed.inc(route.labels[:2])
        return found.choice, (found, needs.mask), sniffed

    def _excluded(self, route: LiveRoute, choice: Choice[Target], held: Mapping[str, float]) -> Container[str]:
        """Backends held off after a 429 or ejected here. When every backend of ``choice`` not
        held off is ejected (a narrowed choice may hold only ejected backends), the ejected ones
        are tried: trying one beats refusing the request."""
        ejected = self.ejector.excluded(route.key)
        if not held and not ejected:
            return _NONE
        aside = {*held, *ejected}
        if all(name in aside for name in choice.names) and (held or choice is not route.choice):
            return held
        return aside

    async def _attempt(
        self, route: LiveRoute, target: Target, body: bytes, sniffed: Sniffed, reply: Reply, budget: float
    ) -> int:
        started = self.clock()
        loop = asyncio.get_running_loop()
        relay: Relay | None = None
        try:
            if sniffed.stream:
                watch = Watchdog(loop, budget, target.first_token, target.stream_idle, target.backend)
                relay = Relay(reply, watch, loop, self.clock)
                async with watch:
                    await target.caller.relay(body, sniffed, relay)
                relay.end()
                first, tail = relay.first_at, relay.last_bytes
            else:
                async with Watchdog(loop, budget, provider=target.backend):
                    tail = await target.caller.complete(body, sniffed)
                first = self.clock()
                reply.send(200, tail)
        except ProviderError as error:
            if relay is not None and relay.started:
                raise _Cut(error) from None
            raise
        return self._succeeded(route, target, started, first, tail, sniffed.stream)

    def _succeeded(self, route: LiveRoute, target: Target, started: float, first: float, tail: bytes,
                   streamed: bool) -> int:
        """Counts a success; returns the tokens the backend reported (0: none)."""
        metrics = self.metrics
        metrics.requests.inc((*target.labels, "success"))
        if target.backend not in route.first_group:
            metrics.spilled.inc(target.labels[:3])
        ended = self.clock()
        metrics.duration.observe(target.labels, ended - started)
        metrics.gen_ai_duration.observe((*target.gen_ai, ""), ended - started)
        if streamed:
            metrics.ttft.observe(target.gen_ai, first - started)
        self.ejector.success(route.key, target.backend)
        tokens_in, tokens_out = usage_tokens(tail)
        if tokens_in or tokens_out:
            metrics.tokens.inc(target.token_labels[0], tokens_in)
            metrics.tokens.inc(target.token_labels[1], tokens_out)
            metrics.token_usage.observe((*target.gen_ai, "input"), tokens_in)
            metrics.token_usage.observe((*target.gen_ai, "output"), tokens_out)
            if streamed and tokens_out > 1:
                metrics.tpot.observe(target.gen_ai, (ended - first) / (tokens_out - 1))
        if self.spans is not None:
            self.spans.attempt(target, ended - started, tokens=(tokens_in, tokens_out))
        return tokens_in + tokens_out

    def _failed(self, route: LiveRoute, target: Target, error: ProviderError, started: float) -> None:
        self.metrics.requests.inc((*target.labels, outcome_of(error)))
        took = self.clock() - started
        self.metrics.gen_ai_duration.observe((*target.gen_ai, error.kind), took)
        if self.spans is not None:
            self.spans.attempt(target, took, error=error.kind)
        # The client reads the short message; the log keeps the detail (both scrubbed of secrets).
        log.info("backend %s of route %s: %s (%s)", target.backend, route.key, error.kind, error.detail)
        if isinstance(error, BadRequest):
            return
        if isinstance(error, Throttled):  # full, not broken: held off, never ejected
            seconds = hold_off_seconds(error.retry_after, error.resets)
            if seconds > 0:
                self.held.set_aside(route.key, target.backend, seconds)
                self.metrics.hold_offs.inc(target.labels[:3])
            return
        entry = route.entry
        if self.ejector.failure(route.key, target.backend, entry.consecutive_failures, entry.eject_seconds,
                                route.choice.names):
            self.metrics.ejections.inc(target.labels[:3])
            log.warning("ejected backend %s of route %s for %gs after %d failures in a row (last: %s)",
                        target.backend, route.key, entry.eject_seconds, entry.consecutive_failures, error.detail)

    def _end_cut_stream(self, route: LiveRoute, reply: Reply, error: ProviderError) -> None:
        """A stream that broke off after bytes reached the client: an error event and no
        ``[DONE]``, so the client knows its answer is incomplete; a failure the client saw."""
        log.warning("route %s: stream cut after bytes were sent: %s", route.key, error)
        self.metrics.requests.inc(route.outcome("timeout" if isinstance(error, Timeout) else "error"))
        reply.write_nowait(stream_error_event(f"the answer was interrupted: {_reason(error)}"))
        reply.end()

    def _all_failed(
        self, route: LiveRoute, sniffed: Sniffed, reply: Reply, failures: list[tuple[str, ProviderError]]
    ) -> None:
        text = route.entry.degraded_response if route.entry.embeddings is None else None  # a chat answer
        reasons = [(backend, _reason(error)) for backend, error in failures]
        if text is None:
            self.metrics.requests.inc(route.outcome("error"))
            throttles = [e for _, e in failures if isinstance(e, Throttled)]
            if failures and len(throttles) == len(failures):
                wait = min((t.retry_after for t in throttles if t.retry_after is not None), default=1.0)
                raise errors.all_backends_throttled(route.key, reasons, max(1, math.ceil(wait)))
            raise errors.all_backends_failed(route.key, reasons)
        self.metrics.requests.inc(route.outcome("degraded"))
        self.metrics.degraded.inc(route.labels[:2])
        log.warning("route %s answered with its degradedResponse: %s", route.key,
                    "; ".join(f"{b}: {w}" for b, w in reasons) or "no backend usable")
        if sniffed.stream:
            reply.start(200, headers=[DEGRADED_HEADER, *SSE_HEADERS])
            reply.write_nowait(degraded_stream(route.entry.model, text))
            reply.end()
        else:
            reply.send(200, degraded_completion(route.entry.model, text), headers=[DEGRADED_HEADER])


def _unsure(target: Target, error: ProviderError, narrowed: tuple[Narrowing, int] | None, tried: set[str]) -> bool:
    """Whether a 400 from ``target`` may be its own lack of a feature the request needs: it only
    *may* take them (its declaration does not say), a backend not tried yet surely does, and the
    400 is not one that would be the same anywhere (a content filter's verdict, a context window
    exceeded: the client's answer)."""
    if narrowed is None or error.code in CLIENT_ANSWERS:
        return False
    found, needs = narrowed
    return not target.capabilities.surely_takes(needs) and any(name not in tried for name in found.sure)


def _reason(error: ProviderError) -> str:
    status = f"HTTP {error.status}: " if error.status else ""
    return f"{error.kind} ({status}{error.message})"
