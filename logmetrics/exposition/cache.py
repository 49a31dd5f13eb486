"""The bodies ``/metrics`` serves: rendered once, shared, reused for a bounded while, gzipped once.

Rendering a hundred thousand series takes a fair part of a second of the one
interpreter lock that line processing needs too, so scrapes must not render
more often than is worth it:

- Scrapers that arrive while a body is being rendered wait for it and get the
  same bytes: concurrent scrapes cost one render.
- A body is reused for as long as its render took (times :data:`REUSE_FACTOR`):
  however fast a client scrapes, rendering takes at most about half of the
  time, and line processing keeps the rest. The price is freshness: a scrape
  may show values as old as the last render took, e.g. 0.3 s with 100,000
  series, a millisecond with a thousand; far below any scrape interval.
- The gzipped body is made once per body, on the first scrape that asks for it.

A body is kept per format (Prometheus text, OpenMetrics, and how names are
escaped), so the cache holds a handful of entries whatever clients send.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Hashable

#: A body is reused for this many times as long as its render took.
REUSE_FACTOR = 1.0
#: Fast over small: a sidecar's scrapes cross loopback, where CPU matters more than bytes.
GZIP_LEVEL = 1


class Rendered:
    """One rendered body, and its gzipped form once asked for."""

    def __init__(self, body: bytes, done: float, took: float) -> None:
        self.body = body
        #: When the render ended and how long it took (monotonic seconds).
        self.done = done
        self.took = took
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()

    def gzipped(self) -> bytes:
        """The body gzipped (compressed by the first caller, shared by the others)."""
        with self._lock:
            if self._gzipped is None:
                # zlib lets go of the interpreter lock while it compresses: it runs beside line processing.
                self._gzipped = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
            return self._gzipped


class RenderCache:
    """Rendered bodies by format; see the module docstring."""

    def __init__(self, reuse_factor: float = REUSE_FACTOR,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reuse_factor = reuse_factor
        self.clock = clock
        self.renders = 0
        self._entries: dict[Hashable, Rendered] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._locks_lock = threading.Lock()  # held only to find a key's lock

    def fresh(self, entry: Rendered | None) -> bool:
        """Whether ``entry`` may still be served instead of rendering again."""
        return entry is not None and self.clock() <= entry.done + entry.took * self.reuse_factor

    def get(self, key: Hashable, render: Callable[[], bytes]) -> Rendered:
        """The body for ``key``: the last one while fresh, else ``render()``'s, rendered once
        for every caller that asks meanwhile."""
        entry = self._entries.get(key)
        if self.fresh(entry):
            assert entry is not None
            return entry
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if self.fresh(entry):  # rendered by another scraper while this one waited
                assert entry is not None
                return entry
            started = self.clock()
            body = render()
            done = self.clock()
            entry = self._entries[key] = Rendered(body, done, done - started)
            self.renders += 1
            return entry
