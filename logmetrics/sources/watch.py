"""Knowing when to look: watchdog on the log directories, plus a rescan.

watchdog (inotify on Linux) tells at once that something changed in a
directory that holds, or will hold, a followed log; its handler only appends
the event to a bounded queue and writes to the wake-up pipe (no lock is
taken). The follower reads the queue to know which files to look at, and to
scan for new files at once when one is created or moved in. It is a hint,
never the truth: events are lost when the inotify queue overflows and never
come on NFS or FUSE, so the follower also rescans on a short interval.
``poll=True`` uses watchdog's polling observer for file systems without
inotify.

Globs are expanded by :class:`~logmetrics.sources.globs.GlobLister`, again
only when a folder changed; a create or move event in a folder expands its
globs again at once, whatever the folder's time says.

Writes to files are not watchdog's to report (it costs a Python event per
``write()``): :mod:`logmetrics.sources.inotify` reads them on the main loop,
at most once per :data:`COALESCE`, so that a log written one line at a time
costs a few looks a second, not one per line.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from logmetrics.sources.globs import GlobLister
from logmetrics.sources.inotify import ModifyWatch
from logmetrics.sources.wake import Waker

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)


#: Events kept between two turns of the follower; more means "look at everything".
MAX_PENDING_EVENTS = 4096
#: Events that say nothing new was written (reads, including the follower's own).
_QUIET = frozenset({"opened", "closed_no_write"})
#: Writes are looked at no more often than this: the append-to-scrape latency it adds is at most
#: this, and a log written one line per write() at 1,000 lines/s costs 20 looks a second, not 1,000.
COALESCE = 0.05


def _structure() -> list[type[FileSystemEvent]]:
    """What watchdog reports when writes come from inotify directly: what changes the set of files."""
    from watchdog import events

    return [events.FileCreatedEvent, events.FileDeletedEvent, events.FileMovedEvent, events.DirCreatedEvent,
            events.DirDeletedEvent, events.DirMovedEvent]


@dataclass
class Changes:
    """What the events since the last look say."""

    paths: set[str] = field(default_factory=set)  # files written, created, moved or deleted
    created: bool = False  # a file or directory appeared: scan the globs now
    overflow: bool = False  # events were dropped: look at every file


def _wake_handler(waker: Waker, events: deque[tuple[str, str, str]]) -> FileSystemEventHandler:
    """watchdog's handler: queue the event and wake the follower.

    watchdog is imported only when there are files to watch (not for stdin or sockets alone):
    its import is some 20 ms of the start."""
    from watchdog.events import FileSystemEventHandler

    class Wake(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in _QUIET:
                return
            # deque.append is atomic and takes no Python-level lock, like the pipe write.
            dest = os.fsdecode(event.dest_path or "")
            events.append((event.event_type, os.fsdecode(event.src_path), dest))
            waker.wake()

    return Wake()


def _new_observer(poll: bool, poll_interval: float) -> BaseObserver:
    if poll:
        from watchdog.observers.polling import PollingObserver

        return PollingObserver(timeout=poll_interval)
    from watchdog.observers import Observer

    return Observer()


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
        #: How many files each glob matched at the last :meth:`files` (replaced whole, so that
        #: another thread reads one scan's counts).
        self.matches: dict[str, int] = dict.fromkeys(self.globs, 0)
        #: Woken by watchdog's threads, by :meth:`wake`, and by signals (see the daemon).
        self.waker = Waker()
        self.poll = poll
        self._observer = _new_observer(poll, poll_interval) if self.globs else None
        self._watched: dict[str, object] = {}
        self._events: deque[tuple[str, str, str]] = deque(maxlen=MAX_PENDING_EVENTS)
        self._handler = _wake_handler(self.waker, self._events) if self.globs else None
        self._writes: ModifyWatch | None = None
        if not poll:
            try:
                self._writes = ModifyWatch()
            except OSError as exc:
                log.warning("cannot read inotify directly (%s); writes are learnt through watchdog", exc)
        self._last_take = -float("inf")
        #: Every write to the files :meth:`files` found is reported by :meth:`take_changes`
        #: (inotify, every folder watched, no symbolic link): no need to look at files unasked.
        self.writes_reported = False
        self._lister = GlobLister(always=poll)  # poll: NFS and FUSE folder times lie
        self._found: list[str] = []

    def start(self) -> None:
        if self._observer is not None:
            self._observer.start()
        self.refresh_watches()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        self.waker.close()
        if self._writes is not None:
            self._writes.close()

    def refresh_watches(self) -> None:
        """Watch the directories of every glob; called on each rescan, so that a
        directory created later is watched once it exists."""
        roots = {_watch_root(g): ("**" in g or glob.has_magic(os.path.dirname(g))) for g in self.globs}
        for root, recursive in roots.items():
            key = f"{root}|{recursive}"
            if key in self._watched:
                continue
            event_filter = _structure() if self._writes is not None else None
            assert self._observer is not None and self._handler is not None  # there are globs
            try:
                self._watched[key] = self._observer.schedule(self._handler, root, recursive=recursive,
                                                             event_filter=event_filter)
            except OSError as exc:  # e.g. the inotify watch limit: the rescan still finds files
                log.warning("cannot watch %s (%s); relying on the periodic rescan", root, exc)
                self._watched[key] = None

    def take_changes(self) -> Changes:
        """The changes reported since the last call."""
        changes = Changes(overflow=len(self._events) >= MAX_PENDING_EVENTS)
        self._last_take = time.monotonic()
        if self._writes is not None:
            written, overflow = self._writes.read()
            changes.paths |= written
            changes.overflow = changes.overflow or overflow
        while True:
            try:
                kind, src, dest = self._events.popleft()
            except IndexError:
                return changes
            changes.paths.add(src)
            if dest:
                changes.paths.add(dest)
            if kind in ("created", "moved"):
                changes.created = True
                self._lister.forget(src, dest)

    def files(self) -> list[str]:
        """What the globs match now (absolute paths, sorted, folders left out); the caller checks
        what they are."""
        found: set[str] = set()
        matches: dict[str, int] = {}
        changed = False
        for pattern in self.globs:
            paths, fresh = self._lister.expand(pattern)
            changed = changed or fresh
            matches[pattern] = len(paths)  # no stat more: a directory a log glob matches is rare
            found.update(paths)
        self.matches = matches
        if not changed:
            return self._found
        unwatched = self._writes is None
        if self._writes is not None:
            for folder in {os.path.dirname(path) for path in found}:
                try:
                    self._writes.watch(folder)
                except OSError as exc:  # e.g. the inotify watch limit: the rescan still reads
                    unwatched = True
                    log.warning("cannot watch %s for writes (%s); relying on the periodic rescan",
                                folder, exc)
        # A write through a symbolic link is reported in the target's folder, not watched here.
        self.writes_reported = not unwatched and not any(os.path.islink(path) for path in found)
        self._found = sorted(found)
        return self._found

    def wait(self, timeout: float) -> bool:
        """Sleep until a change is reported or ``timeout`` passes; True if woken by a change.

        Writes wake it no sooner than :data:`COALESCE` after the last look; :meth:`wake`, signals
        and new files at once."""
        if self._writes is None:
            return self.waker.wait(timeout)
        now = time.monotonic()
        deadline = now + timeout
        settle = min(self._last_take + COALESCE, deadline)
        if now < settle and self.waker.wait(settle - now):
            return True
        return self.waker.wait(max(0.0, deadline - time.monotonic()), also=self._writes.fd)

    def wake(self) -> None:
        """Wake a waiting follower (used on shutdown and reload)."""
        self.waker.wake()
