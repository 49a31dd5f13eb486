"""Named pipes (FIFOs) matched by ``--logs``, read as mtail reads them.

A FIFO is opened without blocking (``O_NONBLOCK``: opening one for reading
never waits for a writer), read as its writers write, and reopened when the
last writer closes, so that the next writer is read too. On Linux, a FIFO
opened afresh reports nothing until a writer comes, so a pipe with no writer
costs nothing. A FIFO has no position: lines written while logmetrics is down
are not there to read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat

from logmetrics.sources.stream import Endpoint, Stream, StreamHost, read_pipe

log = logging.getLogger(__name__)


def is_fifo(path: str) -> bool:
    """True if ``path`` is a named pipe (following symlinks)."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class FifoStream(Stream):
    """One named pipe; see the module docstring."""

    def __init__(self, path: str, endpoint: Endpoint) -> None:
        self.path = path
        self.endpoint = endpoint
        self.fd = self._open()
        self.splitter = endpoint.splitter()

    def _open(self) -> int:
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):  # replaced between the scan and the open
            os.close(fd)
            raise OSError(f"{self.path} is no longer a named pipe")
        self.endpoint.stats.connections += 1
        self.endpoint.stats.open_connections = 1
        return fd

    def fileno(self) -> int:
        return self.fd

    def on_ready(self, reader: StreamHost) -> None:
        lines, eof = read_pipe(self.fd, self.splitter, self.endpoint.stats)
        self.endpoint.deliver(lines)
        if not eof:
            return
        # The last writer left: reopen, so that the next one is read (and the end-of-file
        # state, which would make the descriptor readable forever, is gone).
        reader.remove(self)
        try:
            reopened = FifoStream(self.path, self.endpoint)
        except OSError as exc:
            log.info("%s: not reopened (%s); the next scan picks it up again", self.path, exc)
            return
        reader.add(reopened)

    def close(self) -> None:
        self.endpoint.stats.open_connections = 0
        with contextlib.suppress(OSError):
            os.close(self.fd)
