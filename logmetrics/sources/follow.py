"""The daemon's source of lines: every file the globs match, followed and persisted.

    follower = Follower(["/var/log/apache2/*.log"], positions=saved)
    follower.start()
    while running:
        for path, lines in follower.poll():
            process(path, lines)
        save(follower.handed_out())  # positions of what was processed (the daemon's checkpoint)
        follower.wait(0.5)
    follower.stop()

Where reading starts:

- a file with a saved position resumes there (and its rotated generations
  are found by identity, see tail.py);
- ``from_end=True`` (``--from end``) applies to the **first start only**, when
  nothing is saved at all (``positions=None``): files present then are read
  from their end. Once there is state, a file without a saved position is read
  from its beginning, since it appeared while nobody was reading it;
- a file that appears while running is read from its beginning.

When to look: a file is read when inotify reports a change to it (or to one
of its rotated names), when it is behind or still draining an older
generation, and at every rescan (``rescan_interval``), which also finds new
files; when every write is reported (see ``LogWatcher.writes_reported``),
every file is looked at only every :data:`LOOK_ALL_INTERVAL` seconds, so that
thousands of quiet files cost next to nothing. A create or move event in a
watched folder scans at once, so a file created, written and renamed away
within the rescan interval is still read.
A file quiet for ``idle_close`` seconds is closed and reopened by identity
when it changes, so that thousands of quiet logs hold no file descriptors.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Protocol

from logmetrics.sources.generations import is_rotated_name
from logmetrics.sources.lines import DEFAULT_MAX_LINE
from logmetrics.sources.positions import Position
from logmetrics.sources.tail import FileTailer, TailStats
from logmetrics.sources.watch import LogWatcher

log = logging.getLogger(__name__)

#: A file unchanged for this long gives its file descriptor back.
IDLE_CLOSE_SECONDS = 60.0
#: Lines one :meth:`Follower.poll` hands out at most (plus one file's read): thousands of files
#: with a backlog are read over several turns, so that the caller sees a stop request, a reload
#: and its checkpoint between them (a stop took 23 s with 5,000 files of 90 kB to catch up on).
TURN_LINES = 50_000
#: With every write reported by inotify, every file is still looked at this often: a safety net
#: (a file missing for RETIRE_SECONDS is let go at a look); else at every rescan.
LOOK_ALL_INTERVAL = 10.0
#: A scan that finds more new files than this logs one line for them all, not one each.
LOG_EACH_UP_TO = 20
#: Saved positions of files not found at start stay in the checkpoint this long (a file
#: briefly missing, between a rename and the creation of the next one).
UNCLAIMED_SECONDS = 60.0


class SavedPositions(Protocol):
    """Where to resume each file: a dict, or the offset files of an older version."""

    def get(self, path: str, /) -> Position | None: ...


class Follower:
    """Follows every file matching ``globs``; see the module docstring."""

    def __init__(self, globs: list[str], *, from_end: bool = True, poll: bool = False,
                 rescan_interval: float = 1.0, max_line: int = DEFAULT_MAX_LINE,
                 positions: SavedPositions | None = None,
                 idle_close: float = IDLE_CLOSE_SECONDS, turn_lines: int = TURN_LINES) -> None:
        """``positions`` are where to resume (the checkpoint's, as :meth:`handed_out` gave
        them), or None when nothing is saved at all (a first start). The follower persists
        nothing itself: :meth:`handed_out` tells the caller what to save."""
        self.watcher = LogWatcher(globs, poll=poll)
        # --from end is for a first start only: with any saved state, nothing is skipped.
        self.from_end = from_end and positions is None
        self.rescan_interval = rescan_interval
        self.max_line = max_line
        self.idle_close = idle_close
        self.turn_lines = turn_lines
        self._deferred: list[FileTailer] = []  # due files the last turn's budget left unread
        self.tailers: dict[str, FileTailer] = {}
        self._resume: SavedPositions = positions if positions is not None else {}
        # A checkpoint's positions, names of rotated generations included, until a file claims them.
        self._unclaimed: dict[str, Position] = dict(positions) if isinstance(positions, dict) else {}
        #: Each saved name under every path it could belong to (itself, and what it is a rotated
        #: name of), so that claiming is a lookup per file, not a pass over every saved name.
        self._owners: dict[str, list[str]] = {}
        for name in self._unclaimed:
            for owner in _possible_owners(name):
                self._owners.setdefault(owner, []).append(name)
        self._started = time.monotonic()
        self._last_scan = -float("inf")
        self._last_look_all = -float("inf")
        self._first_scan = True
        self._unmatched_reported: set[str] = set()
        self._lock = threading.Lock()  # guards self.tailers against the stats reader
        self._sizes: dict[str, int] = {}  # each file's size at the last stats(), for closed quiet files
        #: Some file has more to read than one poll takes (a burst, or a long line being dropped).
        self.behind = False
        #: Positions that no checkpoint holds yet (files just followed): save soon even with no lines.
        #: The caller clears it once it has taken :meth:`handed_out` into a checkpoint.
        self.unsaved = False

    def start(self) -> None:
        self.watcher.start()
        self._scan()

    def _scan(self) -> list[FileTailer]:
        """Follow files the globs match that are not followed yet; returns their tailers."""
        matched = self.watcher.files()
        known = set(matched)
        added = []
        for path in itertools.chain(matched, self._missing_with_saved(known)):
            if path in self.tailers:  # folders the globs match are left out by the watcher
                continue
            if path not in known and not any(name in self._unclaimed for name in self._owners.get(path, ())):
                continue  # its saved positions were claimed meanwhile, by a file followed
            saved: dict[str, Position] = {}
            for name in self._owners.pop(path, ()):
                if name in self._unclaimed and (name == path or (is_rotated_name(path, name)
                                                                 and name not in known)):
                    saved[name] = self._unclaimed.pop(name)
            if not isinstance(self._resume, dict):  # an older version's offset files
                legacy = self._resume.get(path)
                if legacy is not None:
                    saved[path] = legacy
            # --from end: files present at the first start; later ones are new, read from the start.
            tailer = FileTailer(path, saved, self.from_end and self._first_scan, max_line=self.max_line)
            tailer.open()  # its position goes in the next checkpoint, even before any line is read
            with self._lock:
                self.tailers[path] = tailer
            added.append(tailer)
            self.unsaved = True
        # One line per file for a few; thousands of lines at start would say less and take long.
        for tailer in added if len(added) <= LOG_EACH_UP_TO else ():
            log.info("following %s", tailer.path)
        if len(added) > LOG_EACH_UP_TO:
            log.info("following %d files, %s to %s (each named at --log-level debug)",
                     len(added), added[0].path, added[-1].path)
            for tailer in added:
                log.debug("following %s", tailer.path)
        for pattern, count in self.watcher.matches.items():
            if count == 0 and pattern not in self._unmatched_reported:
                self._unmatched_reported.add(pattern)  # once: a log may well appear later
                log.warning("%s matches no file yet; it is watched, and a file that appears is read "
                            "from its beginning (logmetrics_log_glob_files counts the matches)", pattern)
        self._first_scan = False
        return added

    def _missing_with_saved(self, known: set[str]) -> Iterator[str]:
        """Paths the globs match by name that are missing now (renamed away, not created again
        yet) and have saved positions, their own or of generations rotated from them: those
        generations may still hold lines to read. Looked for once the files found have claimed
        theirs (a generator)."""
        if not self._unclaimed:
            return
        patterns = [os.path.abspath(pattern) for pattern in self.watcher.globs]
        missing = set()
        for name in self._unclaimed:
            # The longest name it may be a rotated name of that a glob matches: app.log for app.log.1
            owner = max((o for o in _possible_owners(name)
                         if any(fnmatch.fnmatchcase(o, p) for p in patterns)), key=len, default=None)
            if owner is not None and owner not in known:
                missing.add(owner)
        yield from sorted(missing)

    def poll(self) -> list[tuple[str, list[str]]]:
        """Lines written since the last poll, by file: about :attr:`turn_lines` at most, and
        :attr:`behind` set when more is due (call again at once)."""
        now = time.monotonic()
        changes = self.watcher.take_changes()
        sweep = now - self._last_scan >= self.rescan_interval
        added = self._scan() if sweep or changes.created else []
        if sweep:
            self._last_scan = now
        # Every file is looked at on each rescan, or less often when every write is reported.
        look_all = sweep and (not self.watcher.writes_reported
                              or now - self._last_look_all >= LOOK_ALL_INTERVAL)
        if look_all:
            self._last_look_all = now
        if look_all or changes.overflow:
            due = list(self.tailers.values())
        else:
            due = [t for t in self.tailers.values() if t.busy] + added
            for path in changes.paths:
                owner = self._owner(path)
                if owner is not None and not owner.busy:
                    due.append(owner)
        # Files left over by the last turn's budget come first (their change events are spent).
        due = [t for t in self._deferred if self.tailers.get(t.path) is t] + due
        self._deferred = []
        out = []
        behind = False
        taken = 0
        order = list(dict.fromkeys(due))
        for index, tailer in enumerate(order):
            if taken >= self.turn_lines:
                self._deferred = order[index:]
                behind = True
                break
            lines = tailer.read()
            taken += len(lines)
            behind = behind or tailer.behind
            if lines:
                out.append((tailer.path, lines))
        self.behind = behind
        if sweep:
            self._tidy(now)
        return out

    def _owner(self, path: str) -> FileTailer | None:
        """The tailer of ``path``, or of the log ``path`` is a rotated name of."""
        for owner in _possible_owners(path):
            tailer = self.tailers.get(owner)
            if tailer is not None:
                return tailer
        return None

    def _tidy(self, now: float) -> None:
        """Close quiet files, drop finished ones, forget saved positions nobody claimed."""
        for path, tailer in list(self.tailers.items()):
            if tailer.done():
                with self._lock:
                    del self.tailers[path]
                tailer.close()
                log.info("no longer following %s (gone)", path)
            elif now - tailer.last_active >= self.idle_close:
                tailer.close_idle()
        if self._unclaimed and now - self._started >= UNCLAIMED_SECONDS:
            for name in self._unclaimed:
                log.warning("%s: saved position not claimed by any followed file; forgotten", name)
            self._unclaimed.clear()

    def handed_out(self) -> dict[str, Position]:
        """Every position a checkpoint must hold to resume exactly, by name.

        A dict ``name -> Position`` meaning "every line before this offset of this
        file was handed out". The names are the followed paths (the file now at
        the path), and the rotated names (``/var/log/app.log.1``) of older
        generations still being read: a file rotated away and not drained yet,
        or one found rotated while stopped. Saved positions not yet claimed by a
        followed file are passed on for a while. Store it as it is, and give it
        back as ``positions=`` at the next start: names are hints, files are
        found by the identity in each position.
        """
        out = dict(self._unclaimed)
        for tailer in list(self.tailers.values()):
            out.update(tailer.positions())
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

    def glob_files(self) -> dict[str, int]:
        """How many files each glob matched at the last scan (safe from another thread)."""
        return dict(self.watcher.matches)

    def stats(self) -> dict[str, TailStats]:
        """A snapshot of per-file statistics, in the order files were followed (safe from another thread).

        ``size`` is the file's size at the last look, not a ``stat()`` of every file at each
        call: a written file is looked at within a turn, every file at each rescan."""
        with self._lock:
            tailers = dict(self.tailers)
        sizes = {}
        out = {}
        for path, tailer in tailers.items():
            stats = TailStats(**vars(tailer.stats))
            current = tailer.current
            position = current.position if current is not None else tailer.position
            if current is not None:
                stats.size = current.size
            elif path in self._sizes:  # closed while quiet: unchanged since, or it would be open
                stats.size = self._sizes[path]
            else:
                with contextlib.suppress(OSError):
                    stats.size = os.stat(path).st_size
            sizes[path] = stats.size
            stats.lag = max(0, stats.size - (position.offset if position else 0))
            out[path] = stats
        self._sizes = sizes
        return out


def _possible_owners(name: str) -> list[str]:
    """``name`` itself, and every path ``name`` could be a rotated name of (``a.log.1``: ``a``, ``a.log``)."""
    folder, base = os.path.split(name)
    return [name] + [os.path.join(folder, base[:i]) for i, char in enumerate(base) if i and char in ".-_"]
