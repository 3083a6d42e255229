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
  counting anyway, and a cycle left behind is found a little later). While the routes load,
  what each slice built is frozen as it comes (:func:`freeze_loading`): the collections that
  loading 10,000 routes sets off then never rescan the routes already loaded. Once loaded, the
  memory the load used and let go is handed back to the system (glibc's ``malloc_trim``).
  :class:`GcPauses` observes the CPU time of every collection
  (``airoute_gateway_gc_pause_seconds``): the event loop waits for it as for a slice of changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

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


def freeze_loading() -> None:
    """Keeps what is alive now out of later collections, without collecting first: called after
    every slice of the first load, when what the slice built lives on (a cycle it left behind
    is rare and never freed; the load happens once)."""
    gc.freeze()


def freeze_heap() -> None:
    """Collects once, then keeps every object alive now out of later collections, and hands the
    free memory back to the system (call once the gateway has started and loaded its routes)."""
    gc.collect()
    gc.freeze()
    trim_malloc()
    log.debug("garbage collector: %d objects frozen", gc.get_freeze_count())


def trim_malloc() -> bool:
    """glibc's ``malloc_trim(0)``: free memory at the top of the heap and whole free pages inside
    it go back to the system (False where there is no glibc to ask)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


class GcPauses:
    """A :data:`gc.callbacks` entry that hands the CPU seconds of every collection, and its
    generation, to ``observe``; :meth:`install` and :meth:`remove` it."""

    def __init__(self, observe: Callable[[tuple[str, ...], float], None]) -> None:
        self.observe = observe
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.observe((str(info["generation"]),), time.thread_time() - self._started)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self)
