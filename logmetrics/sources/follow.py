"""The daemon's source of lines: every file the globs match, followed, with its position.

    follower = Follower(["/var/log/apache2/*.log"], positions=saved)
    follower.start()
    while running:
        for path, lines in follower.poll():
            process(path, lines)
        save(follower.handed_out())  # positions of what was processed (the daemon's checkpoint)
        follower.wait(0.5)
    follower.stop()

Files present at start with no saved position are read from their end (or
their beginning with ``from_end=False``); files that appear later are read
from their beginning, so that nothing written to a new log is missed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Protocol

from logmetrics.sources.lines import DEFAULT_MAX_LINE
from logmetrics.sources.positions import Position
from logmetrics.sources.tail import FileTailer, TailStats
from logmetrics.sources.watch import LogWatcher

log = logging.getLogger(__name__)


class SavedPositions(Protocol):
    """Where to resume each file: a dict, or the offset files of an older version."""

    def get(self, path: str, /) -> Position | None: ...


class Follower:
    """Follows every file matching ``globs``; see the module docstring."""

    def __init__(self, globs: list[str], *, from_end: bool = True, poll: bool = False,
                 rescan_interval: float = 1.0, max_line: int = DEFAULT_MAX_LINE,
                 positions: SavedPositions | None = None) -> None:
        """``positions`` are where to resume each file (the checkpoint's); the follower
        persists nothing itself: :meth:`handed_out` tells the caller what to save."""
        self.watcher = LogWatcher(globs, poll=poll)
        self.from_end = from_end
        self.rescan_interval = rescan_interval
        self.max_line = max_line
        self.tailers: dict[str, FileTailer] = {}
        self._resume: SavedPositions = positions if positions is not None else {}
        self._last_scan = 0.0
        self._first_scan = True
        self._lock = threading.Lock()  # guards self.tailers against the stats reader
        #: Some file has more to read than one poll takes (a burst, or a long line being dropped).
        self.behind = False

    def start(self) -> None:
        self.watcher.start()
        self._scan()

    def _scan(self) -> None:
        self._last_scan = time.monotonic()
        self.watcher.refresh_watches()
        for path in self.watcher.files():
            if path in self.tailers:
                continue
            saved = self._resume.get(path)
            # At start, an existing file is read from its end (unless told otherwise);
            # a file that appears later is new, and read from its beginning.
            start_at_end = self.from_end and self._first_scan
            tailer = FileTailer(path, saved, start_at_end, max_line=self.max_line)
            with self._lock:
                self.tailers[path] = tailer
            log.info("following %s", path)
        self._first_scan = False

    def poll(self) -> list[tuple[str, list[str]]]:
        """Lines written since the last poll, by file."""
        if time.monotonic() - self._last_scan >= self.rescan_interval:
            self._scan()
        out = []
        behind = False
        for path, tailer in list(self.tailers.items()):
            lines = tailer.read()
            behind = behind or tailer.behind
            if lines:
                out.append((path, lines))
        self.behind = behind
        return out

    def handed_out(self) -> dict[str, Position]:
        """The position after the last line handed out, per file (for a checkpoint)."""
        out = {}
        for path, tailer in list(self.tailers.items()):
            position = tailer.position
            if position is not None:
                out[path] = position
        return out

    def wait(self, timeout: float) -> None:
        """Sleep until a watched directory changes, ``timeout`` passes, or :meth:`wake`."""
        self.watcher.wait(min(timeout, max(0.0, self.rescan_interval - (time.monotonic() - self._last_scan))))

    def wake(self) -> None:
        self.watcher.wake()

    def stop(self) -> None:
        """Release files and watches."""
        self.watcher.stop()
        for tailer in self.tailers.values():
            tailer.close()

    def stats(self) -> dict[str, TailStats]:
        """A snapshot of per-file statistics (safe from another thread)."""
        with self._lock:
            tailers = dict(self.tailers)
        out = {}
        for path, tailer in tailers.items():
            stats = TailStats(**vars(tailer.stats))
            position = tailer.position
            with contextlib.suppress(OSError):
                stats.size = os.stat(path).st_size
            stats.lag = max(0, stats.size - (position.offset if position else 0))
            out[path] = stats
        return out
