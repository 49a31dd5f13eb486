"""Every ``--logs`` source as batches of lines: files, container logs, streams.

Files are followed by :class:`~logmetrics.sources.follow.Follower` (they have
positions, persisted with the checkpoint); the daemon hands what it polled to
:meth:`SourceHub.batches`, which unwraps the container logs among them and adds
what the streams (stdin, named pipes, sockets; no positions) read meanwhile.
Every kind comes out the same way: a :class:`~logmetrics.sources.stream.Batch`
of lines, the name they are routed by, and their envelope.
"""

from __future__ import annotations

import fnmatch
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from logmetrics.sources.address import CONTAINER_FORMATS, CONTAINER_STREAMS, SourceAddress
from logmetrics.sources.envelope import Envelope
from logmetrics.sources.lines import DEFAULT_MAX_LINE
from logmetrics.sources.stream import Batch, StreamStats
from logmetrics.sources.streams import StreamReader, StreamSpec
from logmetrics.sources.unwrap.container import ContainerLog, UnwrapStats, path_envelope

#: Files whose unwrapping state (and envelope) is kept; the least recently read go first.
MAX_TRACKED_FILES = 10_000


@dataclass(frozen=True)
class _Container:
    """A container log file being unwrapped, and the envelope of its lines."""

    log: ContainerLog
    envelope: Envelope
    #: Read by stream (some --logs value has ``?stream=``): the streams read, each with its
    #: envelope. None: every line, in order, with ``envelope``.
    streams: dict[str, Envelope] | None


@dataclass(frozen=True)
class NamedSource:
    """A ``--logs`` value: its routing name (a file glob, or the URL) and what it names."""

    name: str
    address: SourceAddress


class SourceHub:
    """The stream reader and the container unwrapping, beside the daemon's file follower."""

    def __init__(self, sources: Sequence[NamedSource], max_line: int = DEFAULT_MAX_LINE) -> None:
        files = [s for s in sources if not s.address.is_stream]
        #: What the file follower follows: plain globs and container-log globs.
        self.file_globs = [s.name for s in files]
        self._containers = [(os.path.abspath(s.name), s.address) for s in files
                            if s.address.kind in CONTAINER_FORMATS]
        # Pods come and go for months: the state of the least recently read files is let go.
        self._unwrappers: OrderedDict[str, _Container | None] = OrderedDict()
        self.max_line = max_line
        self._streams = [StreamSpec(s.name, s.address) for s in sources if s.address.is_stream]
        self._pipe_globs = [s.name for s in files if s.address.kind == "file"]
        self.reader: StreamReader | None = None

    def open(self, wake_fd: int) -> None:
        """Open stdin and bind every socket, raising ``SourceError`` for an unusable one; the
        reader wakes the main loop through ``wake_fd``."""
        self.reader = StreamReader(self._streams, self._pipe_globs, wake_fd)
        self.reader.open()

    def start(self) -> None:
        """Start reading the streams (and looking for named pipes) on their thread."""
        assert self.reader is not None, "open() first"
        self.reader.start()

    def batches(self, polled: list[tuple[str, list[str]]]) -> list[Batch]:
        """The follower's ``(path, lines)`` as batches (container logs unwrapped), and what the
        streams read since the last call."""
        out = []
        for path, lines in polled:
            container = self._unwrapper(path)
            if container is None:
                out.append(Batch(path, lines))
            elif container.streams is None:
                unwrapped = container.log.unwrap(lines)
                if unwrapped:
                    out.append(Batch(path, unwrapped, container.envelope))
            else:
                for stream, unwrapped in container.log.unwrap_streams(lines).items():
                    envelope = container.streams.get(stream)
                    if envelope is not None:  # a stream no --logs value asked for is not read
                        out.append(Batch(path, unwrapped, envelope))
        if self.reader is not None:
            out.extend(self.reader.poll())
        return out

    def _unwrapper(self, path: str) -> _Container | None:
        """How a container log is unwrapped; None for a plain file."""
        if path in self._unwrappers:
            self._unwrappers.move_to_end(path)
            return self._unwrappers[path]
        matching = [a for pattern, a in self._containers if fnmatch.fnmatchcase(path, pattern)]
        found = None
        if matching:
            envelope = path_envelope(path)
            streams = None
            if any(a.streams for a in matching):
                # Read by stream: each stream's lines go apart, with the stream in their envelope,
                # for the programs bound to it (see LogRouter).
                wanted = CONTAINER_STREAMS if not all(a.streams for a in matching) else \
                    sorted(set().union(*(a.streams for a in matching)))
                streams = {s: replace(envelope, stream=s) for s in wanted}
            found = _Container(ContainerLog(matching[0].kind, self.max_line), envelope, streams)
        self._unwrappers[path] = found
        if len(self._unwrappers) > MAX_TRACKED_FILES:
            self._unwrappers.popitem(last=False)  # at worst, a line cut in parts loses its head
        return found

    @property
    def exhausted(self) -> bool:
        """Standard input ended, and every line it gave was handed out: time to stop."""
        return self.reader is not None and self.reader.exhausted

    def stream_stats(self) -> dict[str, StreamStats]:
        """Per stream source (and named pipe): lines, bytes, connections, drops."""
        return self.reader.stats() if self.reader is not None else {}

    def unwrap_stats(self) -> dict[str, UnwrapStats]:
        """Per container log file: lines not in its format, lines cut at the limit."""
        return {path: u.log.stats for path, u in list(self._unwrappers.items()) if u is not None}

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.stop()

