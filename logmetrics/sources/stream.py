"""The interface every kind of log stream implements, and what streams hand out.

A stream kind is one module (``stdin``, ``fifo``, ``sockets``) with a class that
implements :class:`Stream`: it has a file descriptor, and when that is readable the
reader (``sources/streams.py``) calls :meth:`Stream.on_ready`, which reads what is
there without blocking and hands complete lines to its :class:`Endpoint`. The
endpoint owns what is common to every kind: decoding, syslog headers, tag filters,
batching, and the per-source statistics. Files are the other kind of source
(``sources/follow.py``): they have positions, streams do not.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logmetrics.sources.envelope import NO_ENVELOPE, Envelope
from logmetrics.sources.lines import LineSplitter
from logmetrics.sources.unwrap import syslog

log = logging.getLogger(__name__)

#: The longest line or syslog message a socket source keeps (a UDP datagram is at most 64 KiB).
#: It bounds what each connection may hold: 1,000 connections stay under 64 MiB.
STREAM_MAX_LINE = 1 << 16


@dataclass(slots=True)
class Batch:
    """Lines from one source, with the envelope they share."""

    name: str  # the --logs value they came through: programs are routed on it, getfilename() gives it
    lines: list[str]
    envelope: Envelope = NO_ENVELOPE


@dataclass
class StreamStats:
    """What one stream source has done, for self-metrics."""

    lines: int = 0
    bytes: int = 0
    connections: int = 0  # accepted (stream sockets) or opened (pipes)
    open_connections: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> messages or connections
    malformed_syslog: int = 0

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count


@dataclass(frozen=True)
class Subscriber:
    """One ``--logs`` value reading an endpoint: its name, and the syslog tags it takes (none: all)."""

    name: str
    tags: frozenset[str] = frozenset()


class Endpoint:
    """Where one source's lines go: decoded, unwrapped, filtered, batched, counted.

    Several ``--logs`` values may name one socket (``syslog+udp://:514?tag=a`` and ``?tag=b``):
    the socket is opened once and each message goes to the subscribers that take its tag.
    """

    def __init__(self, text: str, syslog_framed: bool, subscribers: Sequence[Subscriber],
                 emit: Callable[[Batch], None], max_line: int = STREAM_MAX_LINE) -> None:
        self.text = text
        self.syslog = syslog_framed
        self.subscribers = list(subscribers)
        self.max_line = max_line
        self.stats = StreamStats()
        self._emit = emit
        self._malformed_logged = False

    def splitter(self) -> LineSplitter:
        """A splitter with this source's line limit (one per connection)."""
        return LineSplitter(self.max_line)

    def deliver(self, frames: list[str]) -> None:
        """Hand out complete lines (plain sources) or syslog frames (syslog sources)."""
        if not frames:
            return
        if not self.syslog:
            self.stats.lines += len(frames)
            for subscriber in self.subscribers:
                self._emit(Batch(subscriber.name, frames))
            return
        self._deliver_syslog(frames)

    def _deliver_syslog(self, frames: list[str]) -> None:
        # Consecutive messages with the same envelope go out as one batch.
        run: list[str] = []
        envelope: Envelope | None = None
        for frame in frames:
            try:
                message = syslog.parse(frame)
            except syslog.MalformedSyslog as exc:
                self.malformed(str(exc), frame)
                continue
            if message.envelope is not envelope:  # shared per header (see syslog.parse)
                if run and envelope is not None:
                    self._send(run, envelope)
                run, envelope = [], message.envelope
            # A message may hold several lines (a stack trace): programs see each.
            if "\n" in message.text:
                run.extend(message.text.rstrip("\n").split("\n"))
            else:
                run.append(message.text)
        if run and envelope is not None:
            self._send(run, envelope)

    def _send(self, lines: list[str], envelope: Envelope) -> None:
        self.stats.lines += len(lines)
        for subscriber in self.subscribers:
            if not subscriber.tags or envelope.tag in subscriber.tags:
                self._emit(Batch(subscriber.name, lines, envelope))

    def malformed(self, why: str, frame: str) -> None:
        """Count a frame that is not syslog; the first one is logged."""
        self.stats.malformed_syslog += 1
        if not self._malformed_logged:
            self._malformed_logged = True
            log.warning("%s: a frame that is not syslog (%s), skipped and counted; first one: %r",
                        self.text, why, frame[:200])


class Stream(ABC):
    """One readable thing of a stream kind: a listening socket, a connection, a pipe, stdin."""

    #: A finite stream (stdin) ends the daemon when it ends; the others come back.
    finite = False

    @abstractmethod
    def fileno(self) -> int:
        """The descriptor the reader waits on."""

    @abstractmethod
    def on_ready(self, reader: StreamHost) -> None:
        """Read what is there without blocking; hand lines to the endpoint; add or remove streams
        through ``reader``."""

    @abstractmethod
    def close(self) -> None:
        """Release the descriptor (and a unix socket's file)."""


class StreamHost(ABC):
    """What a stream may ask of the reader that runs it."""

    @abstractmethod
    def add(self, stream: Stream) -> None:
        """Start waiting on a new stream (an accepted connection, a reopened pipe)."""

    @abstractmethod
    def remove(self, stream: Stream) -> None:
        """Stop waiting on ``stream`` and close it."""

    @abstractmethod
    def pause(self, stream: Stream, seconds: float) -> None:
        """Stop waiting on ``stream`` for a while (out of descriptors: accept later)."""

    @abstractmethod
    def ended(self, stream: Stream) -> None:
        """A finite stream reached its end."""


def decode_datagram(splitter: LineSplitter, data: bytes) -> list[str]:
    """The lines of one datagram: a datagram ends its last line, newline or not."""
    return splitter.feed(data) + splitter.flush()


#: Bytes read at a time, and at most this many reads per stream per turn (fairness).
READ_CHUNK = 1 << 16
READS_PER_TURN = 16


def read_pipe(fd: int, splitter: LineSplitter, stats: StreamStats, reads: int = READS_PER_TURN
              ) -> tuple[list[str], bool]:
    """Lines readable now from a pipe, FIFO or connection fd, and whether the writer is gone.

    A read error counts as the end (the caller closes or reopens).
    """
    lines: list[str] = []
    overlong = splitter.stats.overlong
    eof = False
    for _ in range(reads):
        try:
            chunk = os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            log.warning("read error (%s): the stream is closed", exc.strerror or exc)
            eof = True
            break
        if not chunk:
            eof = True
            break
        stats.bytes += len(chunk)
        lines.extend(splitter.feed(chunk))
        if len(chunk) < READ_CHUNK:
            break  # drained: do not pay for a read that would block
    if eof:
        lines.extend(splitter.flush())  # the writer ended its last line by leaving
    if splitter.stats.overlong > overlong:
        stats.drop("overlong", splitter.stats.overlong - overlong)
    return lines, eof
