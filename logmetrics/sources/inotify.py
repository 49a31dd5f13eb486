"""Which followed files were written to: inotify's IN_MODIFY, read by the main loop itself.

watchdog turns every inotify event into Python objects on three threads of its own.
Measured with a log written one line per ``write()``, as Apache and nginx write,
at 1,000 lines/s: 15% of a core in watchdog's threads alone, and the main loop
woken once per line for another 11% (mtail: 3% in all). So watchdog keeps what it
does well (files and folders created, moved and deleted, recursive watches, the
polling fallback) and writes are learnt here: one inotify descriptor watching
the folders of the followed files for IN_MODIFY, read without a thread, at most
once per coalescing interval (see ``watch.COALESCE``). The kernel merges an event
identical to the last unread one, so a file written a thousand times between two
reads costs one event.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import struct

IN_MODIFY = 0x00000002
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
#: wd, mask, cookie, length of the name that follows (padded with NULs).
_HEADER = struct.Struct("iIII")


class ModifyWatch:
    """An inotify descriptor reporting files written in the watched folders.

    Raises OSError where inotify is not available (then watchdog's own events are used).
    """

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        self.fd: int = fd
        self._folders: dict[int, bytes] = {}  # watch descriptor -> folder
        self._watched: set[bytes] = set()

    def watch(self, folder: str) -> None:
        """Report writes to the files of ``folder`` (again and again: a known folder costs nothing)."""
        raw = os.fsencode(folder)
        if raw in self._watched:
            return
        wd = self._libc.inotify_add_watch(self.fd, raw, IN_MODIFY | IN_ONLYDIR)
        if wd < 0:
            code = ctypes.get_errno()
            if code in (errno.ENOENT, errno.ENOTDIR):
                return  # gone already; the rescan finds what replaces it
            raise OSError(code, f"{os.strerror(code)}: {folder}")
        self._folders[wd] = raw
        self._watched.add(raw)

    def read(self) -> tuple[set[str], bool]:
        """Paths written since the last read, and whether the kernel's queue overflowed."""
        written: set[str] = set()
        overflow = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return written, overflow
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size:offset + _HEADER.size + size].rstrip(b"\0")
                offset += _HEADER.size + size
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                elif mask & IN_IGNORED:  # the folder is gone: watch it again if it comes back
                    self._watched.discard(self._folders.pop(wd, b""))
                elif name and wd in self._folders:
                    written.add(os.fsdecode(os.path.join(self._folders[wd], name)))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
