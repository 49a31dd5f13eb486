"""Reading whole files from start to end, for dry-run.

    reader = read_batches("access.log.gz")
    for lines in reader:          # lists of str, a few thousand at a time
        ...
    reader.bytes_read, reader.total_bytes, reader.stats.lines

A plain path, a ``.gz`` file (decompressed as it streams) or ``-`` for
standard input. Reading is in 64 KiB binary chunks, each split and decoded once.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from logmetrics.errors import LogmetricsError
from logmetrics.sources.lines import DEFAULT_MAX_LINE, LineSplitter, LineStats

#: Bytes read at a time. Below glibc's mmap threshold (128 KiB), so the chunk, its text and its
#: lines reuse the same heap memory instead of fresh pages each time: on the 345,562-line Apache
#: log, 64 KiB takes 0.01-0.03 s of system time where 1 MiB took 0.10 s (about 10% of the run).
CHUNK = 1 << 16


class SourceError(LogmetricsError):
    """A log file cannot be read."""


class BatchReader:
    """Iterates over batches of lines of one file; see the module docstring."""

    def __init__(self, source: str, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.source = source
        self.splitter = LineSplitter(max_line)
        self.bytes_read = 0  # compressed bytes for a .gz file, to compare with total_bytes
        self.total_bytes: int | None = None

    @property
    def stats(self) -> LineStats:
        return self.splitter.stats

    def _open(self) -> tuple[BinaryIO, BinaryIO]:
        """(the raw file, the stream of log bytes)."""
        if self.source == "-":
            return sys.stdin.buffer, sys.stdin.buffer
        try:
            raw = open(self.source, "rb")  # noqa: SIM115 - closed by __iter__
        except FileNotFoundError:
            raise SourceError(f"{self.source}: no such file") from None
        except IsADirectoryError:
            raise SourceError(f"{self.source}: is a directory, not a log file") from None
        except PermissionError:
            raise SourceError(f"{self.source}: permission denied") from None
        except OSError as exc:
            raise SourceError(f"{self.source}: cannot open: {exc.strerror}") from None
        try:
            self.total_bytes = os.fstat(raw.fileno()).st_size
        except OSError:
            self.total_bytes = None
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if head == b"\x1f\x8b":
            return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw, raw

    def __iter__(self) -> Iterator[list[str]]:
        raw, stream = self._open()
        try:
            while True:
                try:
                    chunk = stream.read(CHUNK)
                except (OSError, EOFError, zlib.error) as exc:
                    raise SourceError(f"{self.source}: read error: {exc}") from None
                if not chunk:
                    break
                self.bytes_read = raw.tell() if raw is not stream and raw.seekable() else (
                    self.bytes_read + len(chunk)
                )
                lines = self.splitter.feed(chunk)
                if lines:
                    yield lines
            last = self.splitter.flush()
            if last:
                yield last
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()


def read_batches(source: str, max_line: int = DEFAULT_MAX_LINE) -> BatchReader:
    """Batches of lines of ``source`` (a path, a ``.gz`` file, or ``-`` for stdin)."""
    return BatchReader(source, max_line)
