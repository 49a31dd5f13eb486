"""Knowing when to look: watchdog on the log directories, plus a rescan.

watchdog (inotify on Linux) tells at once that something changed in a
directory that holds, or will hold, a followed log; its handler only writes
to the wake-up pipe. It is a hint, never the truth: events are lost when the inotify queue
overflows and never come on NFS or FUSE, so the follower also rescans on a
short interval. ``poll=True`` uses watchdog's polling observer for file
systems without inotify.
"""

from __future__ import annotations

import glob
import logging
import os

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from logmetrics.sources.wake import Waker

log = logging.getLogger(__name__)


class _Wake(FileSystemEventHandler):
    def __init__(self, waker: Waker) -> None:
        self.waker = waker

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.waker.wake()


def _watch_root(pattern: str) -> str:
    """The deepest existing directory above the first wildcard of ``pattern``."""
    fixed = []
    for part in os.path.abspath(pattern).split(os.sep):
        if glob.has_magic(part):
            break
        fixed.append(part)
    folder = os.sep.join(fixed) or os.sep
    if not glob.has_magic(pattern):
        folder = os.path.dirname(os.path.abspath(pattern))
    while not os.path.isdir(folder) and folder != os.path.dirname(folder):
        folder = os.path.dirname(folder)
    return folder


class LogWatcher:
    """Expands globs and wakes the follower when their directories change."""

    def __init__(self, globs: list[str], poll: bool = False, poll_interval: float = 1.0) -> None:
        self.globs = list(globs)
        #: Woken by watchdog's threads, by :meth:`wake`, and by signals (see the daemon).
        self.waker = Waker()
        self.poll = poll
        self._observer = PollingObserver(timeout=poll_interval) if poll else Observer()
        self._watched: dict[str, object] = {}
        self._handler = _Wake(self.waker)

    def start(self) -> None:
        self._observer.start()
        self.refresh_watches()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
        self.waker.close()

    def refresh_watches(self) -> None:
        """Watch the directories of every glob; called on each rescan, so that a
        directory created later is watched once it exists."""
        roots = {_watch_root(g): ("**" in g or glob.has_magic(os.path.dirname(g))) for g in self.globs}
        for root, recursive in roots.items():
            key = f"{root}|{recursive}"
            if key in self._watched:
                continue
            try:
                self._watched[key] = self._observer.schedule(self._handler, root, recursive=recursive)
            except OSError as exc:  # e.g. the inotify watch limit: the rescan still finds files
                log.warning("cannot watch %s (%s); relying on the periodic rescan", root, exc)
                self._watched[key] = None

    def files(self) -> list[str]:
        """The regular files the globs match now."""
        found: set[str] = set()
        for pattern in self.globs:
            for path in glob.glob(pattern, recursive=True):
                if os.path.isfile(path):
                    found.add(os.path.abspath(path))
        return sorted(found)

    def wait(self, timeout: float) -> bool:
        """Sleep until a change is reported or ``timeout`` passes; True if woken by a change."""
        return self.waker.wait(timeout)

    def wake(self) -> None:
        """Wake a waiting follower (used on shutdown and reload)."""
        self.waker.wake()
