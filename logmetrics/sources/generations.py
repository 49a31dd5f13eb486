"""A log's generations: the file at its path and the rotated files beside it.

Rotation tools give old generations names built from the log's own:
``access.log.1``, ``access.log.2.gz`` (logrotate, where ``delaycompress``
leaves ``.1`` plain), ``access.log-20240101`` (``dateext``),
``access.log.2024-01-01``. :func:`rotated_files` lists them oldest first;
:func:`locate` finds the one holding a known position by identity (device,
inode and first bytes, or for a copy or a compressed file, the first bytes
alone); :class:`Generation` reads one of them, plain or compressed.

Opening never blocks: the type is checked before ``open()`` (a FIFO there
would block until a writer came) and ``O_NONBLOCK`` covers a swap between the
check and the open.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import itertools
import logging
import lzma
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass

from logmetrics.sources.lines import LineSplitter
from logmetrics.sources.positions import FINGERPRINT_BYTES, FileId, Position

log = logging.getLogger(__name__)

#: Compressed generations this reader decompresses as it streams (standard library only).
_DECOMPRESSORS: dict[str, Callable[..., io.BufferedIOBase]] = {
    ".gz": gzip.GzipFile, ".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile,
}
#: Compressed names it recognises but cannot read (never mistaken for plain text).
_UNREADABLE = (".zst", ".lz4", ".Z", ".zip")
#: Bytes kept from just before the read position, to tell an append from a rewrite.
TAIL_BYTES = 64
_NUMBERED = re.compile(r"[.\-_](\d{1,4})")
_DATED = re.compile(r"[.\-_](\d[\d\-_.]{5,})")


class NotRegular(OSError):
    """The path is a FIFO, a socket, a device or a directory: not followed as a log file."""


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """Open a regular file for reading without ever blocking; raises OSError or :class:`NotRegular`."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegular(f"not a regular file ({_kind(before.st_mode)})")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped between the check and the open
        os.close(fd)
        raise NotRegular(f"not a regular file ({_kind(st.st_mode)})")
    return fd, st


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "special"


@dataclass
class Rotated:
    """A rotated file beside a log."""

    path: str
    st: os.stat_result
    compression: str  # "" for a plain file, else the suffix (".gz")

    @property
    def key(self) -> tuple[int, int]:
        return (self.st.st_dev, self.st.st_ino)


def is_rotated_name(log_path: str, other: str) -> bool:
    """True if ``other`` is a name rotation tools give an old generation of ``log_path``."""
    folder, name = os.path.split(log_path)
    other_folder, other_name = os.path.split(other)
    return (other_folder == folder and other_name != name and other_name.startswith(name)
            and other_name[len(name)] in ".-_")


def rotated_files(path: str) -> list[Rotated]:
    """The rotated generations of ``path`` that are regular files, oldest first.

    Numbered suffixes order them (``.3`` before ``.1``) when every one has one,
    else date suffixes (``-20240101``), else modification times. A compressed
    file's time is when it was compressed, so the suffixes come first; but a
    suffix order that the plain files' times contradict (names given by hand,
    upwards) yields to the times. An empty file's time is when it was created,
    not when it was last written, so empty files take no part in that check.

    The names are listed, then each is looked at: a rotation in between (every
    ``.N`` renamed to ``.N+1``) would pair a name with the file that had the
    next one, missing one generation and listing another twice. So the folder
    is listed until two listings in a row agree.
    """
    listing = _listing(path)
    for _ in range(_LISTING_ATTEMPTS):
        again = _listing(path)
        if [(r.path, r.key) for r, _ in again] == [(r.path, r.key) for r, _ in listing]:
            break
        listing = again
    else:
        log.info("%s: its rotated files kept changing while being listed", path)
    return _in_order(listing)


#: Listings of a folder taken at most, waiting for two in a row to agree (a rotation in progress).
_LISTING_ATTEMPTS = 20


def _listing(path: str) -> list[tuple[Rotated, str]]:
    """The rotated files of ``path`` as found now, each with its suffix (compression removed)."""
    folder, name = os.path.split(path)
    try:
        entries = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    found: list[tuple[Rotated, str]] = []
    for entry in entries:
        full = os.path.join(folder, entry)
        if not is_rotated_name(path, full):
            continue
        suffix = entry[len(name):]
        compression = next((c for c in _DECOMPRESSORS if suffix.endswith(c)), "")
        if not compression and suffix.endswith(_UNREADABLE):
            continue
        try:
            st = os.stat(full)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            log.info("%s: %s, skipped as a rotated generation", full, _kind(st.st_mode))
            continue
        found.append((Rotated(full, st, compression), suffix[: len(suffix) - len(compression)]))
    return found


def _in_order(found: list[tuple[Rotated, str]]) -> list[Rotated]:
    """Oldest first: by number or date suffix unless the plain files' times contradict it."""
    for pattern, key in ((_NUMBERED, _newest_number_last), (_DATED, _date_digits)):
        if found and all(pattern.fullmatch(core) for _, core in found):
            by_name = [r for r, _ in sorted(found, key=lambda item: (key(item[1]), item[0].st.st_mtime_ns))]
            times = [r.st.st_mtime_ns for r in by_name if not r.compression and r.st.st_size]
            if all(older <= newer for older, newer in itertools.pairwise(times)):
                return by_name
    return [r for r, _ in sorted(found, key=lambda item: (item[0].st.st_mtime_ns, item[0].path))]


def _newest_number_last(core: str) -> int:
    return -int(core[1:])


def _date_digits(core: str) -> str:
    return re.sub(r"\D", "", core)


def open_rotated(rotated: Rotated) -> tuple[int, os.stat_result, str]:
    """Open the file ``rotated`` was listed as, by identity: a rotation may have renamed it since
    (``.1`` to ``.2``), and what has its old name now is another generation. Returns the
    descriptor, the file's status and its name now; raises OSError if it is gone."""
    path = rotated.path
    for _ in range(_LISTING_ATTEMPTS):
        try:
            fd, st = open_regular(path)
        except FileNotFoundError:
            pass
        else:
            if (st.st_dev, st.st_ino) == rotated.key:
                return fd, st, path
            os.close(fd)
        folder = os.path.dirname(path)
        try:
            with os.scandir(folder or ".") as entries:
                moved = next((os.path.join(folder, e.name) for e in entries
                              if e.inode() == rotated.st.st_ino), None)
        except OSError as exc:
            raise FileNotFoundError(exc.errno, exc.strerror, rotated.path) from exc
        if moved is None:
            break
        path = moved
    raise FileNotFoundError(2, "no longer there", rotated.path)


def _head(rotated: Rotated) -> bytes | None:
    """The first bytes of a generation, decompressed; None if it cannot be read."""
    try:
        fd, _, _ = open_rotated(rotated)
    except OSError:
        return None
    try:
        if not rotated.compression:
            return os.pread(fd, FINGERPRINT_BYTES, 0)
        with _DECOMPRESSORS[rotated.compression](fileobj=os.fdopen(os.dup(fd), "rb")) as stream:
            return stream.read(FINGERPRINT_BYTES)
    except (OSError, EOFError, ValueError, lzma.LZMAError):
        return None
    finally:
        os.close(fd)


def _head_is(head: bytes | None, known: FileId) -> bool:
    return (head is not None and len(head) >= known.head_len
            and hashlib.sha1(head[: known.head_len]).hexdigest() == known.head)


def locate(position: Position, candidates: list[Rotated], tail: bytes = b"") -> int | None:
    """The index in ``candidates`` of the file ``position`` was taken in, or None.

    First the same file (device and inode, and the same first bytes unless only
    the inode is known); then a copy (copytruncate's, or a compressed one): the
    same first bytes, long enough for the offset, and for a plain copy the same
    ``tail`` bytes just before the offset when they are known.
    """
    known = position.file
    for i, c in enumerate(candidates):
        if c.compression or c.st.st_ino != known.ino:
            continue
        if known.dev == -1 or (c.st.st_dev == known.dev and _head_is(_head(c), known)):
            return i
    if known.head_len == 0:  # an empty file's identity fits every file: no copy can be told apart
        return None
    for i, c in enumerate(candidates):
        if not c.compression and c.st.st_size < position.offset:
            continue
        if not _head_is(_head(c), known):
            continue
        if tail and not c.compression and _bytes_at(c, position.offset - len(tail), len(tail)) != tail:
            continue
        return i
    return None


def _bytes_at(rotated: Rotated, offset: int, length: int) -> bytes | None:
    try:
        fd, _, _ = open_rotated(rotated)
    except OSError:
        return None
    try:
        return os.pread(fd, length, max(0, offset))
    except OSError:
        return None
    finally:
        os.close(fd)


class Generation:
    """One file of a log, open and read from a byte offset: the current file or a rotated one.

    A compressed generation is read as a stream of its decompressed bytes; its
    offset counts those bytes, and an offset to resume from is reached by
    reading and dropping, within the read budget.
    """

    def __init__(self, fd: int, st: os.stat_result, name: str, offset: int, max_line: int,
                 compression: str = "", splitter: LineSplitter | None = None,
                 known: FileId | None = None) -> None:
        """``known``: the identity ``offset`` was saved with, checked already; kept rather than
        taken afresh, so that a rewrite since the check is noticed before reading on."""
        self.fd = fd
        self.name = name
        self.compression = compression
        self.splitter = splitter or LineSplitter(max_line)
        self._stream: io.BufferedIOBase | None = None
        self._stream_pos = 0
        #: The first bytes of the file as this generation knows them (up to FINGERPRINT_BYTES), for
        #: a plain file: what ``file_id`` is the hash of. None when only the hash is known.
        self._head: bytes | None = None
        if known is not None and known.dev != -1:
            self.file_id = known
            # Only a young file's head grows (and a full one is never read again: thousands of
            # files resume at each start).
            young = known.head_len < FINGERPRINT_BYTES
            if young and not compression and known.head_len >= offset:
                # (A position saved by an older version may know fewer bytes than were read
                # before it: such a one is fingerprinted afresh, see refingerprint.)
                head = self._pread(known.head_len, 0)
                self._head = head if _head_is(head, known) else None
        else:
            self.file_id = self._fingerprint(st)
        if compression:
            os.lseek(fd, 0, os.SEEK_SET)  # the duplicate the head was read through shares the offset
            self._stream = _DECOMPRESSORS[compression](fileobj=os.fdopen(os.dup(fd), "rb"))
        self.pos = offset
        self.size = st.st_size
        self.mtime = st.st_mtime_ns
        #: The last bytes read before ``pos``: unchanged in a file that is only appended to.
        self.tail = b""
        #: When a rotated generation may be closed once read to its end (servers still write to it).
        self.until = 0.0
        self.at_end = False
        #: The last read found the file no longer only appended to (see :meth:`read`).
        self.rewritten = False
        #: For a current file: the newest rotated file when it was opened. A rotated file newer
        #: than that one appearing before any byte was read is a copy of it (copytruncate).
        self.prev: tuple[int, int] | None = None
        #: Where ``prev`` was read to, once it is no longer held (see FileTailer.positions).
        self.prev_position: Position | None = None

    def _fingerprint(self, st: os.stat_result) -> FileId:
        if self.compression:
            head = self._stream_head()
        else:
            head = self._head = self._pread(FINGERPRINT_BYTES, 0)
        return FileId(st.st_dev, st.st_ino, hashlib.sha1(head).hexdigest(), len(head))

    def _stream_head(self) -> bytes:
        with _DECOMPRESSORS[self.compression](fileobj=os.fdopen(os.dup(self.fd), "rb")) as stream:
            return stream.read(FINGERPRINT_BYTES)

    def _pread(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    @property
    def position(self) -> Position:
        """Where the complete lines handed out from this file end."""
        return Position(self.file_id, self.pos - self.splitter.pending)

    def refingerprint(self) -> None:
        """Identify a young file by more of its first bytes, once it has them.

        Normally the bytes read do it as they are read (see :meth:`_read_head`). This covers
        a generation resumed from a position whose first bytes could not be checked."""
        young = self.file_id.head_len < FINGERPRINT_BYTES
        if young and self._head is None and not self.compression and self.size > self.file_id.head_len:
            self.file_id = self._fingerprint(os.fstat(self.fd))

    def _read_head(self, start: int, chunk: bytes) -> None:
        """Take the first bytes of the file from what is read, while they are fewer than
        FINGERPRINT_BYTES: the identity saved with a position covers the bytes read before it.

        Fingerprinting the file afresh (a ``pread`` after reading) could see other bytes: a file
        copied and truncated between the read and that look would be saved as the new content,
        read up to the old offset, and its copy never found. Nor may a file with bytes read keep
        the identity of an empty file (taken when it was opened empty): that identity fits every
        file, and means "nothing read" to the rotation checks."""
        head = self._head
        if head is None or len(head) >= FINGERPRINT_BYTES or start > len(head):
            return
        grown = (head[:start] + chunk)[:FINGERPRINT_BYTES]
        if grown != head:
            self._head = grown
            self.file_id = FileId(self.file_id.dev, self.file_id.ino, hashlib.sha1(grown).hexdigest(),
                                  len(grown))

    def changed(self) -> os.stat_result | None:
        """The file's status if its size or time changed since the last look, else None."""
        st = os.fstat(self.fd)
        if st.st_size == self.size and st.st_mtime_ns == self.mtime:
            return None
        return st

    def still_same(self, st: os.stat_result) -> bool:
        """True if the file was only appended to: as long, same first bytes, same bytes before ``pos``."""
        if self.compression:
            return True
        if st.st_size < self.pos:
            return False
        return self._bytes_unchanged()

    def _bytes_unchanged(self) -> bool:
        """The first bytes and the bytes just before ``pos`` are those read: only appended to."""
        head = self._pread(self.file_id.head_len, 0)
        if not _head_is(head, self.file_id):
            return False
        return not self.tail or self._pread(len(self.tail), self.pos - len(self.tail)) == self.tail

    def read(self, budget: int, chunk_size: int) -> tuple[list[str], int]:
        """Complete lines from ``pos`` on, reading at most ``budget`` bytes; and the bytes read.

        A plain file's bytes are checked *after* they are read: its first bytes and the bytes
        before ``pos`` must still be what they were. A check before reading leaves a window (a
        stall, SIGSTOP, between the check and the read) in which the file can be copied,
        truncated and written past ``pos``, and the new bytes would be read as the old file's
        rest. Checked after, bytes that pass were read before any such change. If the check
        fails, nothing is taken and :attr:`rewritten` is set: the caller decides what the file
        is now (a copytruncate, or a rotated file overwritten)."""
        self.at_end = False
        self.rewritten = False
        if self._stream is not None:
            return self._read_decompressed(budget, chunk_size)
        chunks: list[bytes] = []
        used = 0
        while used < budget:
            chunk = self._pread(min(chunk_size, budget - used), self.pos + used)
            if not chunk:
                self.at_end = True
                break
            chunks.append(chunk)
            used += len(chunk)
        if chunks and not self._bytes_unchanged():
            self.at_end = False
            self.rewritten = True
            return [], 0
        lines: list[str] = []
        for chunk in chunks:
            self._read_head(self.pos, chunk)
            self._take(chunk, lines)
        return lines, used

    def _read_decompressed(self, budget: int, chunk_size: int) -> tuple[list[str], int]:
        lines: list[str] = []
        used = 0
        while used < budget:
            chunk = self._read_stream(min(chunk_size, budget - used))
            if not chunk:
                self.at_end = True
                break
            used += len(chunk)
            if self._stream_pos - len(chunk) < self.pos:
                skip = self.pos - (self._stream_pos - len(chunk))  # reaching the resume offset
                if skip >= len(chunk):
                    continue
                chunk = chunk[skip:]
            self._take(chunk, lines)
        return lines, used

    def _take(self, chunk: bytes, lines: list[str]) -> None:
        self.pos += len(chunk)
        self.tail = (self.tail + chunk)[-TAIL_BYTES:] if len(chunk) < TAIL_BYTES else chunk[-TAIL_BYTES:]
        lines.extend(self.splitter.feed(chunk))

    def _read_stream(self, size: int) -> bytes:
        assert self._stream is not None
        data = self._stream.read(size)
        self._stream_pos += len(data)
        return data

    def seen(self, st: os.stat_result) -> None:
        self.size = st.st_size
        self.mtime = st.st_mtime_ns

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError, EOFError):
                self._stream.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def end_position(rotated: Rotated) -> Position | None:
    """The identity of a rotated plain file and its size, or None if it cannot be read now."""
    if rotated.compression:
        return None
    try:
        fd, st, _ = open_rotated(rotated)
    except OSError:
        return None
    try:
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    return Position(FileId(st.st_dev, st.st_ino, hashlib.sha1(head).hexdigest(), len(head)), st.st_size)


def open_generation(rotated: Rotated, offset: int, max_line: int,
                    splitter: LineSplitter | None = None) -> Generation | None:
    """Open a rotated file as a :class:`Generation`, or None if it cannot be opened now."""
    try:
        fd, st, path = open_rotated(rotated)
    except OSError as exc:
        log.warning("%s: cannot open a rotated generation: %s", rotated.path, exc.strerror or exc)
        return None
    try:
        return Generation(fd, st, path, offset, max_line, rotated.compression, splitter)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        os.close(fd)
        log.warning("%s: cannot read a rotated generation: %s", rotated.path, exc)
        return None
