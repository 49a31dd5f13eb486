"""A wake-up pipe: how other threads and signal handlers wake the reading thread.

Writing a byte to a non-blocking pipe takes no Python lock, so it is safe
from a signal handler (``signal.set_wakeup_fd`` writes to the same pipe from
C) and from watchdog's threads. A ``threading.Event`` is not: ``set()`` takes
the lock that the reading thread holds inside ``wait()``, and a signal
delivered there deadlocks the process.
"""

from __future__ import annotations

import contextlib
import os
import select


class Waker:
    """A self-pipe; :meth:`wake` from anywhere, :meth:`wait` in the reading thread."""

    def __init__(self) -> None:
        self._read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        """Make the next (or current) :meth:`wait` return at once."""
        # A full pipe already holds a wake-up; a closed one means we are shutting down.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.write_fd, b"\0")

    def wait(self, timeout: float, also: int | None = None) -> bool:
        """Sleep until woken, ``also`` (a descriptor) is readable, or ``timeout`` passes; True if
        woken either way. Pending wake-ups are drained; ``also`` is left for its owner to read."""
        fds = [self._read_fd] if also is None else [self._read_fd, also]
        ready, _, _ = select.select(fds, [], [], max(0.0, timeout))
        if self._read_fd in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read_fd, 4096):
                    pass
        return bool(ready)

    def close(self) -> None:
        for fd in (self._read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
