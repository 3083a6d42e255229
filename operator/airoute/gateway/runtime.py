"""Process settings a gateway worker makes for itself: enough file descriptors for the
connections it may hold, and a garbage collector that does not rescan what lives for the
whole run.

* **File descriptors.** Every open stream holds two sockets (the client's and the backend's).
  The soft ``RLIMIT_NOFILE`` is often 1,024 while the hard limit is far higher (Kubernetes
  containers: 1,048,576); the soft limit is raised to the hard one, as Go's runtime and most
  servers do. What is left of it is one of the resources :mod:`~airoute.gateway.overload` watches.
* **Garbage collection.** CPython's cyclic collector scans every tracked object of a
  generation; a full collection walks the whole heap — the imported provider libraries, the
  route table, every open stream — and took up to 100 ms, about a sixth of the CPU of a gateway
  relaying 1,000 streams. Objects that live for the whole run are moved out of its reach once
  the gateway has started and loaded its routes (:func:`gc.freeze`), and the youngest
  generation is collected less often (most of a request's objects are freed by reference
  counting anyway, and a cycle left behind is found a little later).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import resource

log = logging.getLogger(__name__)

GC_THRESHOLDS = (20_000, 20, 20)
"""Allocations before a collection of the youngest generation, and collections of one generation
before the next is collected (CPython's defaults: 700, 10, 10)."""


def raise_fd_limit() -> int:
    """Raises the soft limit of open files to the hard one; returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft


def collect_less() -> None:
    """Sets :data:`GC_THRESHOLDS` (once, when the process starts)."""
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_heap() -> None:
    """Collects once, then keeps every object alive now out of later collections (call once the
    gateway has started and loaded its routes)."""
    gc.collect()
    gc.freeze()
    log.debug("garbage collector: %d objects frozen", gc.get_freeze_count())
