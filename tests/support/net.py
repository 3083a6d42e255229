"""Loopback ports for the servers tests start."""

from __future__ import annotations

import random
import socket

_LISTEN_PORTS = range(20_000, 32_768)  # below Linux's ephemeral range (32768-60999)
_PICK = random.SystemRandom()  # not the random module's state, which Hypothesis seeds


def free_port() -> int:
    """A loopback port free right now, outside the ephemeral range: a port the kernel hands out
    (bind to 0) can be taken by any outgoing connection before the server binds it (Prometheus
    once failed to start so), and a random pick keeps concurrent test runs apart."""
    for _ in range(1000):
        port = _PICK.choice(_LISTEN_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_LISTEN_PORTS}")


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()
