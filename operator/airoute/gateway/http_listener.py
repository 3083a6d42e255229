"""Accepting connections: every connection that is waiting, not one per turn of the event loop.

libuv (what uvloop runs on; 1.52 with uvloop 0.23) accepts *one* connection each time the
listening socket is reported ready, that is one per turn of the loop. A gateway relaying
thousands of streams turns its loop a few times a second when its core is busy, so new streams
waited in the kernel's accept queue: measured with 1,000 streams opened over 5 s, 500 connections
queued there and their first token came seconds late, while every stream already accepted flowed
on time (the standard asyncio loop accepts up to the backlog at once and never queued). The
:class:`Listener` accepts up to :data:`ACCEPT_BATCH` connections per turn on either loop and
hands each socket to the loop (``connect_accepted_socket``, the same transport ``create_server``
makes).

When the process is out of file descriptors (``EMFILE``, ``ENFILE``) or the kernel out of
buffers, it stops accepting for :data:`RETRY_SECONDS`, as asyncio's own servers do: the clients
wait in the backlog instead of the loop spinning on a socket it cannot accept from.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)

ACCEPT_BATCH = 512
"""Connections accepted per turn of the loop at most (the rest wait for the next turn)."""
RETRY_SECONDS = 1.0
"""Pause after the process ran out of file descriptors or buffers."""
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Listener:
    """Accepts connections on a listening, non-blocking ``sock`` and gives each one a protocol
    from ``factory``; :meth:`close` stops."""

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol]) -> None:
        self._sock = sock
        self._factory = factory
        self._family = int(sock.family)
        self._loop = asyncio.get_running_loop()
        self._adopting: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        sock, family = self._sock, self._family
        for _ in range(ACCEPT_BATCH):
            try:
                # ``sock.accept()`` wraps the descriptor in a socket asking for its family and type
                # as enums each time: the raw accept and the listener's own family are the same, cheaper
                fd, _ = sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # the client gave up while it waited
                continue
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    log.warning("accepting a connection failed: %s", exc)
                    return
                log.warning("cannot accept connections (%s): retrying in %gs", exc.strerror or exc, RETRY_SECONDS)
                self._loop.remove_reader(self._sock.fileno())
                self._retry = self._loop.call_later(RETRY_SECONDS, self._resume)
                return
            conn = socket.socket(family, socket.SOCK_STREAM, 0, fd)
            conn.setblocking(False)
            task = self._loop.create_task(self._adopt(conn))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    async def _adopt(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError as exc:  # reset before the transport was made
            log.debug("an accepted connection failed at once: %s", exc)
            conn.close()

    def _resume(self) -> None:
        self._retry = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        """Stops accepting and closes the listening socket (accepted connections stay open)."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
