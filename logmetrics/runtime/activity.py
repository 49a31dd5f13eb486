"""What happened to each log lately: when it was last read, and the last lines no program matched.

The daemon's main loop records each batch here; the status page and the match
inspector read it from the HTTP threads. Everything is bounded: the number of
files remembered, the lines kept per file, the length of each kept line.
Unmatched lines are kept only when asked for (``run --keep-unmatched N``),
since logs may hold secrets.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

#: Files remembered at most (the least recently read are forgotten first).
MAX_FILES = 10_000
#: Files whose unmatched lines are kept at most.
MAX_UNMATCHED_FILES = 1_000
#: The most unmatched lines kept per file that ``--keep-unmatched`` accepts.
MAX_KEEP_UNMATCHED = 100
#: Characters of a kept line; the rest is cut and marked.
MAX_LINE_CHARS = 1_000


@dataclass(frozen=True)
class Unmatched:
    """One line no program matched."""

    seen: float  # seconds since the epoch
    text: str


class FileActivity:
    """Last read time per file and, when ``keep_unmatched`` > 0, the last unmatched lines per file."""

    def __init__(self, keep_unmatched: int = 0) -> None:
        if not 0 <= keep_unmatched <= MAX_KEEP_UNMATCHED:
            raise ValueError(f"keep_unmatched must be between 0 and {MAX_KEEP_UNMATCHED}")
        self.keep_unmatched = keep_unmatched
        self._last_read: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._unmatched: collections.OrderedDict[str, collections.deque[Unmatched]] = (
            collections.OrderedDict())
        self._lock = threading.Lock()  # held for dict operations only; never in a signal handler

    def record(self, path: str, lines: list[str], unmatched: list[int] | None) -> None:
        """A batch of ``path`` was processed; ``unmatched`` are the indices no program matched."""
        now = time.time()
        kept: list[Unmatched] = []
        if self.keep_unmatched and unmatched:
            for index in unmatched[-self.keep_unmatched:]:
                text = lines[index]
                if len(text) > MAX_LINE_CHARS:
                    text = text[:MAX_LINE_CHARS] + " [...]"
                kept.append(Unmatched(now, text))
        with self._lock:
            self._last_read[path] = now
            self._last_read.move_to_end(path)
            if len(self._last_read) > MAX_FILES:
                self._last_read.popitem(last=False)
            if kept:
                queue = self._unmatched.get(path)
                if queue is None:
                    queue = self._unmatched[path] = collections.deque(maxlen=self.keep_unmatched)
                    if len(self._unmatched) > MAX_UNMATCHED_FILES:
                        self._unmatched.popitem(last=False)
                self._unmatched.move_to_end(path)
                queue.extend(kept)

    def last_read(self) -> dict[str, float]:
        """When each file last gave lines (seconds since the epoch)."""
        with self._lock:
            return dict(self._last_read)

    def unmatched(self) -> dict[str, list[Unmatched]]:
        """The kept unmatched lines per file, oldest first; most recently unmatched files first."""
        with self._lock:
            return {path: list(queue) for path, queue in reversed(self._unmatched.items())}
