"""What one client may cost the gateway's HTTP/1.1 server before it is refused (issue 14.7).

A client without a key is hostile; so is one that opens connections and sends nothing, sends a
request a byte at a time, or pipelines requests and never reads the answers. Each limit below
bounds one of those, so that memory stays flat whoever connects:

* **head**: request line and headers (and chunked trailers, which are dropped and counted
  against the same limit, so they can never replace a header such as ``authorization``) at most
  ``max_head`` bytes → 431;
* **authentication before the body**: the server's ``admit`` check runs on the head; a refused
  request is answered at once, its body is never read, and the connection closes;
* **body**: at most ``max_body`` bytes → 413 (checked against ``Content-Length`` before reading,
  and while a chunked body arrives);
* **pace**: the head must arrive within ``header_timeout`` seconds, and a body at
  ``min_data_rate`` bytes per second on average once ``rate_grace`` seconds have passed → 408;
* **write backpressure**: while the client does not read what was written (the transport's
  buffer is above its high-water mark), the server stops reading further requests from it and
  answers nothing more; a client that reads nothing for ``idle_timeout`` seconds is cut off;
* **connections**: at most ``max_connections`` per process; at the cap an idle keep-alive
  connection is closed to make room, and when none is idle the new one gets a 503 and is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEAD = 64 * 1024
"""Request line and headers (and trailers) of one request, in bytes."""
MAX_PIPELINED = 32
"""Requests read ahead on one connection before reading pauses."""


@dataclass(frozen=True)
class Limits:
    """The limits of one :class:`~airoute.gateway.http_server.HttpServer` (0 turns one off)."""

    max_body: int = 1 << 20
    max_head: int = MAX_HEAD
    idle_timeout: float = 75.0
    max_connections: int = 0
    header_timeout: float = 10.0
    min_data_rate: float = 240.0
    rate_grace: float = 5.0

    def too_slow(self, in_head: bool, elapsed: float, received: int) -> str | None:
        """Why a request that began ``elapsed`` seconds ago, ``received`` bytes of it in, is too
        slow to keep waiting for (None while it may go on)."""
        if in_head and self.header_timeout and elapsed > self.header_timeout:
            return f"the request head did not arrive within {self.header_timeout:g}s"
        if (not in_head and self.min_data_rate and elapsed > self.rate_grace
                and received < self.min_data_rate * elapsed):
            return f"the request body arrived slower than {self.min_data_rate:g} bytes/s"
        return None
