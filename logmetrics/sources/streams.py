"""The daemon's stream sources: stdin, named pipes and sockets, read by one thread.

    streams = StreamReader(specs, wake_fd=waker.write_fd)
    streams.open()                 # binds every socket now: an unusable address is an error at start
    streams.start()
    while running:
        for batch in streams.poll():   # on the main thread: programs are not thread-safe
            process(batch.name, batch.lines, batch.envelope)
        if streams.exhausted:          # standard input ended
            break
    streams.stop()

One thread waits on every stream with a selector and reads what is ready
(each :class:`~logmetrics.sources.stream.Stream` reads without blocking); the
lines go into a bounded queue and the main loop is woken through its wake-up
pipe. When the queue holds :data:`MAX_QUEUED` bytes, the thread stops reading
until the main loop has caught up: stream senders are slowed down (UDP ones lose
datagrams in the kernel), memory stays bounded. Named pipes matched by the file
globs are found by a rescan every :data:`FIFO_RESCAN` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from logmetrics.sources.address import SourceAddress
from logmetrics.sources.fifo import FifoStream, is_fifo
from logmetrics.sources.globs import GlobLister
from logmetrics.sources.sockets import DatagramSocket, SourceError, open_socket
from logmetrics.sources.stdin import StdinStream
from logmetrics.sources.stream import Batch, Endpoint, Stream, StreamHost, StreamStats, Subscriber

log = logging.getLogger(__name__)

#: Bytes of lines waiting for the main loop before the reader stops reading.
MAX_QUEUED = 8 << 20
#: How often the file globs are searched for named pipes, and how often a path found to be a
#: regular file is checked again.
FIFO_RESCAN = 2.0
FIFO_RECHECK = 30.0


@dataclass(frozen=True)
class StreamSpec:
    """One ``--logs`` value read as a stream (``name`` is what it is routed by)."""

    name: str
    address: SourceAddress


class StreamReader(StreamHost):
    """Reads every stream source on one thread; see the module docstring."""

    def __init__(self, specs: Sequence[StreamSpec], file_globs: Sequence[str], wake_fd: int,
                 max_queued: int = MAX_QUEUED) -> None:
        self.specs = list(specs)
        self.file_globs = list(file_globs)
        self.wake_fd = wake_fd
        self.max_queued = max_queued
        self.endpoints: dict[str, Endpoint] = {}
        self._streams: set[Stream] = set()
        self._selector = selectors.DefaultSelector()
        self._always_ready: set[Stream] = set()  # regular files on stdin: epoll refuses them
        self._paused: dict[Stream, float] = {}
        self._queue: deque[Batch] = deque()
        self._queued = 0
        self._lock = threading.Lock()  # guards the queue's byte count and the endpoint table
        self._room = threading.Event()
        self._stopping = False
        self._stop_read, self._stop_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread: threading.Thread | None = None
        self._datagram_sockets: list[DatagramSocket] = []
        self._finite_open = 0
        self._ended = False
        self._last_fifo_scan = -FIFO_RESCAN
        self._plain: set[str] = set()  # paths the globs match that are not FIFOs
        self._globs = GlobLister()
        self._plain_since = 0.0

    # --- main thread ---------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether there is anything to read: stream specs, or file globs that may name pipes."""
        return bool(self.specs or self.file_globs)

    def open(self) -> None:
        """Open stdin and bind every socket; raises :class:`SourceError` for an unusable one."""
        by_endpoint: dict[str, list[StreamSpec]] = {}
        for spec in self.specs:
            by_endpoint.setdefault(spec.address.endpoint, []).append(spec)
        try:
            for text, specs in by_endpoint.items():
                address = specs[0].address
                framings = {s.address.syslog for s in specs}
                if len(framings) > 1:  # cannot happen: syslog+ is part of the endpoint text
                    raise SourceError(f"--logs {text}: given both as syslog and as plain lines")
                subscribers = [Subscriber(s.name, s.address.tags) for s in specs]
                endpoint = Endpoint(text, address.syslog, subscribers, self._emit)
                if address.kind == "stdin":
                    stream: Stream = StdinStream(endpoint)
                    self._finite_open += 1
                else:
                    stream = open_socket(address, endpoint)
                    log.info("listening on %s", text)
                    if isinstance(stream, DatagramSocket):
                        self._datagram_sockets.append(stream)
                self.endpoints[text] = endpoint
                self.add(stream)
        except SourceError:
            self.close()
            raise

    def start(self) -> None:
        """Read on a thread of its own until :meth:`stop` (no thread when there is nothing to read)."""
        if not self.active:
            return
        self._thread = threading.Thread(target=self._run, name="logmetrics-streams", daemon=True)
        self._thread.start()

    def poll(self) -> list[Batch]:
        """The batches read since the last call (main thread)."""
        if not self._queue:
            return []
        # Under the lock: the reader wakes us when it adds to an empty queue, so "empty" must
        # not change between its check and our taking.
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
            self._queued = 0
        self._room.set()
        return out

    @property
    def queued_bytes(self) -> int:
        """Bytes of lines read and not yet handed out (bounded by ``max_queued`` and one read)."""
        return self._queued

    @property
    def exhausted(self) -> bool:
        """A finite stream (stdin) ended and everything it gave was handed out."""
        return self._ended and not self._queue

    def stats(self) -> dict[str, StreamStats]:
        """A snapshot of per-source statistics (safe from any thread)."""
        with self._lock:
            endpoints = dict(self.endpoints)
        out = {text: replace(e.stats, dropped=dict(e.stats.dropped)) for text, e in endpoints.items()}
        for sock in self._datagram_sockets:  # fixed after open(): safe to read from any thread
            drops = sock.kernel_drops()
            if drops is not None:
                out[sock.endpoint.text].dropped["receive_buffer"] = drops
        return out

    def stop(self) -> None:
        """Stop reading, close every stream (and remove our unix socket files)."""
        if self._thread is not None:
            self._stopping = True
            with contextlib.suppress(OSError):
                os.write(self._stop_write, b"\0")
            self._room.set()
            self._thread.join(timeout=5)
        self.close()

    def close(self) -> None:
        for stream in list(self._streams):
            self.remove(stream)
        self._selector.close()
        for fd in (self._stop_read, self._stop_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- StreamHost (the reader thread, and open() before it starts) -------------------

    def add(self, stream: Stream) -> None:
        self._streams.add(stream)
        try:
            self._selector.register(stream.fileno(), selectors.EVENT_READ, stream)
        except PermissionError:  # a regular file (stdin < file): always readable
            self._always_ready.add(stream)

    def remove(self, stream: Stream) -> None:
        self._streams.discard(stream)
        self._always_ready.discard(stream)
        self._paused.pop(stream, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(stream.fileno())
        stream.close()

    def pause(self, stream: Stream, seconds: float) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(stream.fileno())
        self._paused[stream] = time.monotonic() + seconds

    def ended(self, stream: Stream) -> None:
        self.remove(stream)
        self._finite_open -= 1
        if self._finite_open == 0:
            self._ended = True
            self._wake_main()

    # --- the reader thread ---------------------------------------------------------

    def _emit(self, batch: Batch) -> None:
        size = sum(len(line) for line in batch.lines)
        with self._lock:
            was_empty = not self._queue
            self._queued += size
            self._queue.append(batch)
        if was_empty:
            self._wake_main()

    def _wake_main(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.wake_fd, b"\0")

    def _run(self) -> None:
        self._selector.register(self._stop_read, selectors.EVENT_READ, None)
        while not self._stopping:
            if self._queued >= self.max_queued:
                # The main loop is behind: wait for room instead of reading more.
                self._room.clear()
                if self._queued >= self.max_queued:
                    self._room.wait(0.5)
                continue
            now = time.monotonic()
            self._resume_paused(now)
            if self.file_globs and now - self._last_fifo_scan >= FIFO_RESCAN:
                self._last_fifo_scan = now
                try:
                    self._scan_fifos()
                except Exception:  # a bug here must not stop the sockets being read
                    log.exception("looking for named pipes failed; trying again in %g s", FIFO_RESCAN)
            timeout = 0.0 if self._always_ready else 1.0
            for key, _ in self._selector.select(timeout):
                if key.data is not None and key.data in self._streams:
                    self._ready(key.data)
            for stream in list(self._always_ready):
                self._ready(stream)

    def _ready(self, stream: Stream) -> None:
        try:
            stream.on_ready(self)
        except Exception:  # a bug in one stream must not stop every other one
            log.exception("reading %r failed; it is closed", stream)
            self.remove(stream)

    def _resume_paused(self, now: float) -> None:
        for stream, until in list(self._paused.items()):
            if now >= until:
                del self._paused[stream]
                self._selector.register(stream.fileno(), selectors.EVENT_READ, stream)

    def _scan_fifos(self) -> None:
        known = {s.path for s in self._streams if isinstance(s, FifoStream)}
        now = time.monotonic()
        if now - self._plain_since >= FIFO_RECHECK:
            # A path once a regular file may become a FIFO (mkfifo after a rotation): look again.
            self._plain.clear()
            self._plain_since = now
        for pattern in self.file_globs:
            for path in self._globs.expand(pattern)[0]:  # listed again only when a folder changed
                if path in known or path in self._plain:
                    continue
                if not is_fifo(path):
                    # Known not to be a FIFO: not stat()ed again for a while (thousands of logs).
                    self._plain.add(path)
                    continue
                endpoint = self.endpoints.get(path)
                if endpoint is None:
                    endpoint = Endpoint(path, False, [Subscriber(path)], self._emit)
                    with self._lock:
                        self.endpoints[path] = endpoint
                try:
                    stream = FifoStream(path, endpoint)
                except OSError as exc:
                    log.warning("%s: cannot open the named pipe (%s); retrying", path, exc)
                    continue
                log.info("reading the named pipe %s", path)
                known.add(path)
                self.add(stream)
