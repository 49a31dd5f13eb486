"""Following one log file through rotations, losing and repeating no line.

A :class:`FileTailer` reads a path in binary bulk and hands out complete
lines. It follows the file at the path (the *current* generation) and, while
they still matter, *older* generations: a file just rotated away (servers
write to it until they reopen their logs), a generation that was created and
rotated away between two looks (a stall, or while the daemon was down), and
the rest of a file found under a rotated name after a restart. Older
generations are read oldest first, each to its end, before the current file.
:meth:`FileTailer.positions` gives the position of every generation still
held, so that a checkpoint taken at any moment resumes all of them.

pygtail is not used to read: its iterator ran at 230k lines/s on the real
Apache log where this reader runs at 1.4M (benchmarks/bench_read_path.py),
and a long-lived pygtail instance misses copytruncate and raises on a missing
file (it is built to be constructed anew per cron run).

What it tells apart, and how (see docs/following.md for the user's view):

- **rename + create** (logrotate's default): a new inode at the path. The old
  file is read to its end and for ``RETIRE_SECONDS`` more; rotated files newer
  than it that were never seen are read whole, in order; then the new file
  from its start.
- **copytruncate**: the file is shorter than what was read, or its first
  bytes, or the bytes just before the read position, changed. This is checked
  *before* reading on, and the bytes read are checked again *after* (see
  ``Generation.read``), so that new bytes past the old offset are never taken
  for the old file's, even when the change falls between the look and the
  read. The old file's rest is read from the copy (same first
  bytes, long enough, same bytes before the offset), then the file from 0.
- **a file cut in place**, keeping its first part (``truncate -s``, or a
  rewrite that keeps the first bytes) with no copy anywhere: the kept lines
  were counted already; reading goes on after the last complete line at the
  size seen. Not decidable from the file alone: where exactly it was cut, so
  lines appended between the cut and the next look (normally under a second)
  are not counted. They are never counted twice.
- **a rotated file overwritten in place** while it is still being read (first
  bytes or bytes before the read position changed, or shorter): its rest is
  gone; it is closed rather than read as if it were the old content.
- **restart** with saved positions: each generation is found by identity
  among the path and its rotated names (``.1``, ``.2.gz``, dated suffixes);
  the oldest one found is read from its offset, every newer one in order,
  then the current file. A saved generation found nowhere is reported and
  counted (``generations_lost``): its unread lines are gone.
- a file **missing, unreadable, or not a regular file** (a FIFO would block
  ``open()``): reported once per change of state, counted in ``errors``,
  retried, never an exception; once it can be opened it is read from its
  start.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from logmetrics.sources.generations import (
    Generation,
    NotRegular,
    Rotated,
    end_position,
    locate,
    open_generation,
    open_regular,
    rotated_files,
)
from logmetrics.sources.lines import DEFAULT_MAX_LINE, LineStats
from logmetrics.sources.positions import Position, head_matches

log = logging.getLogger(__name__)

#: Bytes read at a time, and 16 of them at most per file per poll. Small enough to stay below
#: glibc's mmap threshold (memory is reused, not faulted in afresh) and to keep batches short:
#: 64 KiB / 1 MiB read 3.2M lines/s at 24 MB peak RSS where 1 MiB / 16 MiB read 1.5M at 71 MB.
READ_CHUNK = 1 << 16
#: How long a rotated-away file is still read: servers write to it until they reopen their logs.
RETIRE_SECONDS = 5.0


@dataclass
class TailStats(LineStats):
    """What one file's tailer has done, for self-metrics: its lines (over every generation
    it read) and what following the file took."""

    rotations: int = 0
    errors: int = 0
    generations_lost: int = 0  # saved or rotated generations found nowhere: their unread lines are gone
    size: int = 0
    lag: int = 0  # bytes written but not yet handed out


class FileTailer:
    """Follows ``path``; see the module docstring.

    ``saved`` holds where to resume: the position of the file at ``path``, and
    of older generations under the rotated names they were last seen at (what
    :meth:`positions` returned before a restart). ``start_at_end``: with
    nothing saved, the first opening of the file starts after its last
    complete line; a file that could not be opened then is read from its start.
    """

    def __init__(self, path: str, saved: dict[str, Position] | Position | None, start_at_end: bool,
                 max_line: int = DEFAULT_MAX_LINE, read_limit: int = 16 * READ_CHUNK) -> None:
        self.path = path
        if isinstance(saved, Position):
            saved = {path: saved}
        #: Positions not yet resolved to files (at start, and after an idle close).
        self._saved: dict[str, Position] | None = dict(saved) if saved else None
        self.start_at_end = start_at_end and not saved
        self.max_line = max_line
        self.read_limit = read_limit
        #: The last read stopped at its budget, not at the end of the file: read again at once.
        self.behind = False
        self.current: Generation | None = None
        self.older: list[Generation] = []
        self.stats = TailStats()
        self.last_active = time.monotonic()
        self._ever_opened = bool(saved)
        self._missing_since: float | None = None
        #: The file let go when the path stayed missing: files rotated after it are still to read.
        self._retired: tuple[int, int] | None = None
        self._closed_as: tuple[int, int, int, int] | None = None
        self._last_problem: str | None = None

    # --- public -------------------------------------------------------------------

    @property
    def position(self) -> Position | None:
        """Where the lines handed out so far end, in the file at the path."""
        if self.current is not None:
            return self.current.position
        return self._saved.get(self.path) if self._saved else None

    @property
    def busy(self) -> bool:
        """True while it must be read at every turn: behind, or older generations still held."""
        return self.behind or bool(self.older)

    def positions(self) -> dict[str, Position]:
        """The position of every generation held, by the name it was last seen at.

        The file at the path is under ``path``; an older generation still being
        read is under its rotated name (``access.log.1``, with ``#inode`` added
        if a rotation in progress gave two the same name); saved positions not
        yet resolved are passed on as they came.
        """
        out: dict[str, Position] = dict(self._saved) if self._saved else {}
        anchor: tuple[int, int] | None = None
        if self.current is not None:
            out[self.path] = self.current.position
            if self.current.file_id.head_len == 0 and self.current.pos == 0:
                # Nothing read of it, and nothing to know it by once copied and truncated: saved
                # as where the generation before it was read to, a restart reads every file
                # newer than that one, the copies and this one included, from their start.
                position = self._prev_position()
                if position is not None:
                    out[self.path] = position
                    anchor = (position.file.dev, position.file.ino)
        for old in self.older:
            if (old.file_id.dev, old.file_id.ino) == anchor:
                continue
            name = self._name_of(old)
            if name in out:  # caught in the middle of a rotation (names are hints: keep both)
                name = f"{name}#{old.file_id.ino}"
            out[name] = old.position
        return out

    def _prev_position(self) -> Position | None:
        """Where the generation before the current file was read to, if it is known."""
        current = self.current
        if current is None or current.prev is None:
            return None
        for old in self.older:
            if (old.file_id.dev, old.file_id.ino) == current.prev:
                return old.position
        return current.prev_position

    def _set_prev(self, candidates: list[Rotated]) -> None:
        """The newest of ``candidates`` becomes the current file's ``prev`` (see Generation)."""
        current = self.current
        if current is None or not candidates:
            return
        newest = candidates[-1]
        current.prev = newest.key
        held = any((g.file_id.dev, g.file_id.ino) == newest.key for g in self.older)
        current.prev_position = None if held else end_position(newest)

    def read(self) -> list[str]:
        """Complete lines written since the last call (possibly none)."""
        was_behind, self.behind = self.behind, False
        if self.current is None:
            if self._saved is not None:
                if self._closed_as is not None and self._closed_as == _stat_key(self.path):
                    return []  # closed while idle, and still untouched
                self._resume()
            else:
                self._open_current()
                if self.current is not None and (self.older or self._retired is not None):
                    # Back at the path after a rotation: files put there and rotated away again
                    # since the last one let go come before it.
                    candidates = rotated_files(self.path)
                    if self._retired is not None:
                        self._take_newer(candidates, self._retired, "created and rotated away unseen")
                        self._retired = None
                    self._set_prev(candidates)
        else:
            changed = self._check_current()
            self._check_path()
            current = self.current
            if not (changed or was_behind or self.older) and current is not None and current.at_end:
                return []  # the usual idle look: one fstat and one stat
        self._check_older()
        lines = self._read_in_order()
        if lines:
            self.last_active = time.monotonic()
        return lines

    def open(self) -> None:
        """Open the file and fix its position now, without reading: when it is first followed,
        so that its position (its end, for ``start_at_end``) is in the next checkpoint."""
        if self.current is None:
            if self._saved is not None:
                self._resume()
            else:
                self._open_current()

    def close_idle(self) -> None:
        """Release the file descriptor of a quiet file; it is reopened by identity when it changes."""
        if self.current is None or self.older or self.behind:
            return
        position = self.current.position
        try:
            st = os.fstat(self.current.fd)
        except OSError:
            return
        self.current.close()
        self.current = None
        self._saved = {self.path: position}
        self._closed_as = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        log.debug("%s: idle, closed at offset %d", self.path, position.offset)

    def done(self) -> bool:
        """True when nothing is held and the path is gone: the tailer can be dropped."""
        return self.current is None and not self.older and not self._saved and not os.path.lexists(self.path)

    def close(self) -> None:
        for old in self.older:
            old.close()
        self.older.clear()
        if self.current is not None:
            self.current.close()
            self.current = None

    # --- problems -----------------------------------------------------------------

    def _problem(self, message: str | None) -> None:
        """Log a problem once per change of state (no log storm on every poll)."""
        if message != self._last_problem:
            if message is not None:
                self.stats.errors += 1
                log.warning("%s: %s; retrying", self.path, message)
            elif self._last_problem is not None:
                log.info("%s: readable again", self.path)
            self._last_problem = message

    def _open_path(self) -> tuple[int, os.stat_result] | None:
        try:
            opened = open_regular(self.path)
        except FileNotFoundError:
            self._problem("missing" if self._ever_opened else None)
            return None
        except PermissionError:
            self._problem("permission denied")
            return None
        except NotRegular as exc:
            self._problem(str(exc))
            return None
        except OSError as exc:
            self._problem(exc.strerror or str(exc))
            return None
        self._problem(None)
        self._ever_opened = True
        return opened

    # --- opening ------------------------------------------------------------------

    def _open_current(self) -> None:
        """Open the file at the path, with no position saved for it."""
        at_end, self.start_at_end = self.start_at_end, False  # only the very first attempt
        opened = self._open_path()
        if opened is None:
            return
        fd, st = opened
        start = _end_of_last_line(fd, st.st_size, self.max_line) if at_end else 0
        self.current = Generation(fd, st, self.path, start, self.max_line)
        if at_end and start == st.st_size and st.st_size and os.pread(fd, 1, start - 1) != b"\n":
            self.current.splitter.skip_line()  # an overlong last line: its rest is not a line
        self._missing_since = None

    def _resume(self) -> None:
        """Resolve saved positions to files: the path and its rotated names, by identity."""
        saved = self._saved or {}
        try:
            opened: tuple[int, os.stat_result] | None = open_regular(self.path)
        except FileNotFoundError:
            opened = None
        except OSError:
            self._open_path()  # reports it; positions stay saved until the file can be opened
            return
        self._problem(None)
        self._saved = None
        self._closed_as = None
        mine = saved.get(self.path)
        if opened is not None and mine is not None and len(saved) == 1 and _same(*opened, mine):
            fd, st = opened  # the common case: the same file, nothing rotated
            self.current = Generation(fd, st, self.path, mine.offset, self.max_line, known=mine.file)
            return
        candidates = rotated_files(self.path)
        if opened is not None:  # renamed since it was opened: it is the current file, not an older one
            current_key = (opened[1].st_dev, opened[1].st_ino)
            candidates = [c for c in candidates if c.key != current_key]
        found: dict[int, Position] = {}
        current_offset: int | None = None
        for name, position in sorted(saved.items(), key=lambda item: item[0] != self.path):
            if opened is not None and name == self.path and _same(*opened, position):
                current_offset = position.offset
                continue
            free = [c for i, c in enumerate(candidates) if i not in found]
            index = locate(position, free)
            if index is None:
                self._lost(name, position)
                continue
            found[candidates.index(free[index])] = position
        if found:
            # Saved generations resume at their offsets; files between them were read to their end
            # before (else they would be saved too); files newer than the newest saved one were
            # rotated while nobody read them, unless the saved current file is still at the path.
            self.stats.rotations += 1
            self._take_older([candidates[i] for i in sorted(found)],
                             {candidates[i].key: p.offset for i, p in found.items()}, "")
            if current_offset is None:
                self._take_older(candidates[max(found) + 1:], {}, "rotated while stopped")
        if opened is not None:
            fd, st = opened
            if current_offset is not None and mine is not None:
                self.current = Generation(fd, st, self.path, current_offset, self.max_line, known=mine.file)
            else:
                # Never read: a copy of it made since the listing (copytruncate) is newer than
                # every file listed.
                self.current = Generation(fd, st, self.path, 0, self.max_line)
                self._set_prev(candidates)
            self._ever_opened = True
            self._take_unread_copies()

    def _take_older(self, candidates: list[Rotated], found_offsets: dict[tuple[int, int], int],
                    why: str) -> None:
        """Queue rotated files to read, oldest first: from a known offset, or whole."""
        held = {(g.file_id.dev, g.file_id.ino) for g in self.older}
        if self.current is not None:
            held.add((self.current.file_id.dev, self.current.file_id.ino))
        now, wall = time.monotonic(), time.time()
        for c in candidates:
            if c.key in held:
                continue
            offset = found_offsets.get(c.key, 0)
            gen = open_generation(c, offset, self.max_line)
            if gen is None:
                self.stats.generations_lost += 1
                continue
            if c.key not in found_offsets:
                log.warning("%s: reading %s, a generation that was %s", self.path, c.path, why)
            else:
                log.info("%s: reading the rest of %s from offset %d", self.path, c.path, offset)
            # Written to until the server reopened its log: RETIRE_SECONDS after its last write,
            # not after now. A generation found again at each of many quick restarts is let go
            # once read, instead of being held (and saved) by every life anew.
            gen.until = now + max(0.0, RETIRE_SECONDS - max(0.0, wall - gen.mtime / 1e9))
            self.older.append(gen)
            held.add(c.key)

    def _take_newer(self, candidates: list[Rotated], key: tuple[int, int], why: str) -> None:
        """Queue the candidates newer than the file ``key`` (when it is among them), whole."""
        keys = [c.key for c in candidates]
        if key in keys:
            self._take_older(candidates[keys.index(key) + 1:], {}, why)

    def _lost(self, name: str, position: Position) -> None:
        self.stats.generations_lost += 1
        log.warning("%s: the generation read up to offset %d (%s) is gone: lines written to it "
                    "after that are not counted", self.path, position.offset, name)

    # --- changes to what we hold ----------------------------------------------------

    def _check_current(self) -> bool:
        """Look at the file at hand before reading on; True if it changed."""
        assert self.current is not None
        try:
            st = self.current.changed()
        except OSError:
            return True
        if st is None:
            return False
        if self.current.file_id.head_len == 0:  # nothing to tell a copy by
            self._take_unread_copies()
        if self.current.still_same(st):
            self.current.seen(st)
            self.current.refingerprint()
        else:
            self._rewritten(st)
        return True

    def _take_unread_copies(self) -> None:
        """Read the copies made of the current file before any of it was read, before it.

        A file seen empty has no first bytes to know it by, and no offset to
        find shorter: copied and truncated (copytruncate) before the next look,
        it looks as if only appended to; and a file copied and truncated between
        its opening and its first look is known by what it holds after. Such a
        copy is a rotated file newer than every one there was when the file was
        opened (``prev``), and not a generation held here: it is read whole,
        before the file itself.
        """
        current = self.current
        if current is None or current.prev is None:
            return
        candidates = rotated_files(self.path)
        keys = [c.key for c in candidates]
        if current.prev not in keys:
            return  # the reference is gone (deleted): nothing can be decided
        newer = candidates[keys.index(current.prev) + 1:]
        if newer:
            self._take_older(newer, {}, "copied from the file at the path before any of it was read")
            self._set_prev(newer)

    def _rewritten(self, st: os.stat_result) -> None:
        """The file at the path is no longer only appended to: copytruncate, or cut in place."""
        old = self.current
        assert old is not None
        self.stats.rotations += 1
        candidates = rotated_files(self.path)
        index = locate(Position(old.file_id, old.pos), candidates, old.tail)
        if index is not None:
            log.info("%s: truncated (copytruncate): reading the rest from %s", self.path,
                     candidates[index].path)
            held = any((g.file_id.dev, g.file_id.ino) == candidates[index].key for g in self.older)
            # A copy already held was taken whole before any of the file was read: nothing to add.
            copy = None if held else open_generation(candidates[index], old.pos, self.max_line, old.splitter)
            if copy is not None:
                copy.tail = old.tail
                copy.until = time.monotonic()  # a copy is not written to
                self.older.append(copy)
                self._take_older(candidates[index + 1:], {}, "copied and truncated unseen")
        elif old.file_id.head_len and head_matches(old.fd, old.file_id):
            start = _end_of_last_line(old.fd, st.st_size, self.max_line)
            log.warning("%s: cut in place from %d to %d bytes; reading on after its last complete line "
                        "(lines written between the cut and now are not counted)", self.path, old.pos, start)
            self.current = Generation(old.fd, st, self.path, start, self.max_line)
            return
        else:
            if old.size > old.pos:
                self.stats.generations_lost += 1
            log.warning("%s: truncated, and its rotated copy was not found: lines written just before "
                        "may be missing", self.path)
        self.current = Generation(old.fd, st, self.path, 0, self.max_line)
        self._set_prev(candidates)

    def _check_path(self) -> None:
        """A new file at the path (rename + create, delete + create): the held one becomes older."""
        assert self.current is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            now = time.monotonic()
            if self._missing_since is None:
                self._missing_since = now
            elif now - self._missing_since > RETIRE_SECONDS:  # renamed or deleted, and nothing came back
                old = self.current
                self._retire_current(now)
                # Files put at the path and rotated away again meanwhile (a slow turn) come after it;
                # the newest of them is where to go on from when the path comes back.
                candidates = rotated_files(self.path)
                self._take_newer(candidates, (old.file_id.dev, old.file_id.ino),
                                 "created and rotated away unseen")
                self._retired = candidates[-1].key if candidates else None
            return
        except OSError:
            return
        self._missing_since = None
        if (st.st_dev, st.st_ino) == (self.current.file_id.dev, self.current.file_id.ino):
            return
        log.info("%s: rotated (new file at the path)", self.path)
        self.stats.rotations += 1
        old = self.current
        candidates = rotated_files(self.path)
        key = (old.file_id.dev, old.file_id.ino)
        where = next((i for i, c in enumerate(candidates) if c.key == key), None)
        self._retire_current(time.monotonic() + RETIRE_SECONDS)
        if where is not None:
            old.name = candidates[where].path
            self._take_older(candidates[where + 1:], {}, "created and rotated away unseen")
        self._open_current()
        # Rotated between the listing and the opening, or copied before the first read: newer
        # than the newest file listed.
        self._set_prev(candidates)
        self._take_unread_copies()

    def _retire_current(self, until: float) -> None:
        assert self.current is not None
        self.current.until = until
        self.older.append(self.current)
        self.current = None

    def _check_older(self) -> None:
        """A rotated file rewritten while being read: what is there now is not its rest."""
        for old in list(self.older):
            try:
                st = old.changed()
            except OSError:
                continue
            if st is None:
                continue
            if old.still_same(st):
                old.seen(st)
                continue
            self._overwritten(old)

    def _overwritten(self, old: Generation) -> None:
        log.warning("%s: %s was overwritten while being read; its rest is gone", self.path, old.name)
        self.stats.generations_lost += 1
        old.close()
        self.older.remove(old)

    # --- reading ------------------------------------------------------------------

    def _read_in_order(self) -> list[str]:
        lines: list[str] = []
        budget = self.read_limit
        now = time.monotonic()
        for old in list(self.older):
            more, used = self._read(old, budget)
            if old.rewritten:
                self._overwritten(old)
                continue
            lines.extend(more)
            budget -= used
            if not old.at_end:
                self.behind = True
                return lines  # newer generations wait until this one is read to its end
            if now >= old.until:
                lines.extend(self._count(old.splitter.flush()))
                current = self.current
                if current is not None and current.prev == (old.file_id.dev, old.file_id.ino):
                    current.prev_position = old.position
                old.close()
                self.older.remove(old)
        if self.current is not None and budget > 0:
            more, _ = self._read(self.current, budget)
            if self.current.rewritten:  # changed since it was looked at: what is it now?
                try:
                    self._rewritten(os.fstat(self.current.fd))
                except OSError as exc:
                    self._problem(f"read error in {self.current.name}: {exc.strerror or exc}")
                self.behind = True  # read on at once from where that leaves it
                return lines
            lines.extend(more)
            if not self.current.at_end:
                self.behind = True
            self.current.refingerprint()
        elif self.current is not None:
            self.behind = True
        return lines

    def _read(self, gen: Generation, budget: int) -> tuple[list[str], int]:
        before = (gen.splitter.stats.invalid_utf8, gen.splitter.stats.nul_lines, gen.splitter.stats.overlong)
        try:
            lines, used = gen.read(budget, READ_CHUNK)
        except (OSError, EOFError, ValueError) as exc:  # a damaged compressed file, an I/O error
            self._problem(f"read error in {gen.name}: {exc}")
            gen.at_end = True
            return [], 0
        self.stats.bytes += used
        self.stats.invalid_utf8 += gen.splitter.stats.invalid_utf8 - before[0]
        self.stats.nul_lines += gen.splitter.stats.nul_lines - before[1]
        self.stats.overlong += gen.splitter.stats.overlong - before[2]
        return self._count(lines), used

    def _count(self, lines: list[str]) -> list[str]:
        self.stats.lines += len(lines)
        return lines

    def _name_of(self, gen: Generation) -> str:
        """The name an older generation has now (a later rotation may have renamed it again)."""
        key = (gen.file_id.dev, gen.file_id.ino)
        try:
            st = os.stat(gen.name)
            if (st.st_dev, st.st_ino) == key:
                return gen.name
        except OSError:
            pass
        for c in rotated_files(self.path):
            if c.key == key:
                gen.name = c.path
                return gen.name
        return gen.name


def _stat_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _same(fd: int, st: os.stat_result, position: Position) -> bool:
    """True if the open file is the one ``position`` was taken in, and not shorter than its offset."""
    known = position.file
    if st.st_size < position.offset:
        return False
    if known.dev == -1:  # a pygtail offset file: the inode is all we know
        return st.st_ino == known.ino
    return (st.st_dev, st.st_ino) == (known.dev, known.ino) and head_matches(fd, known)


def _end_of_last_line(fd: int, size: int, max_line: int) -> int:
    """Where reading "from the end" starts: just past the last newline.

    Looks back at most ``max_line`` bytes: a longer last line is overlong
    anyway, and a file with no newline is never scanned whole (a 20 GB one
    would stall every other file). Then ``size`` is returned and the caller
    skips the rest of that line.
    """
    pos = size
    while pos > 0 and size - pos <= max_line:
        start = max(0, pos - 65536)
        data = os.pread(fd, pos - start, start)
        newline = data.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        pos = start
    return 0 if pos == 0 else size
