"""Standard input as a log stream (``--logs -``): a pipe from another program or a server.

``journalctl -o cat -f | logmetrics run --logs -``, or Apache's piped logs
(``CustomLog "|logmetrics run --logs - ..." combined``). Its end ends the daemon:
the reader reports it, and the daemon stops after the last line, with a final
checkpoint and textfile. There is no position: what was read before a restart
is not read again.
"""

from __future__ import annotations

import os
import sys

from logmetrics.sources.stream import Endpoint, Stream, StreamHost, read_pipe


class StdinStream(Stream):
    """File descriptor 0 (left blocking: it is shared with whoever started us, and read only
    when the reader has seen it readable)."""

    finite = True

    def __init__(self, endpoint: Endpoint, fd: int | None = None) -> None:
        self.endpoint = endpoint
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.splitter = endpoint.splitter()
        endpoint.stats.connections += 1
        endpoint.stats.open_connections = 1

    def fileno(self) -> int:
        return self.fd

    def on_ready(self, reader: StreamHost) -> None:
        # A regular file or a pipe that is readable returns at once; one read per turn at most
        # blocks nothing, since the reader only calls this for a readable descriptor.
        lines, eof = read_pipe(self.fd, self.splitter, self.endpoint.stats, reads=1)
        self.endpoint.deliver(lines)
        if eof:
            self.endpoint.stats.open_connections = 0
            reader.ended(self)

    def close(self) -> None:
        """Standard input stays open (closing fd 0 would let a later open() take its number)."""
        if self.fd != sys.stdin.fileno():
            os.close(self.fd)
