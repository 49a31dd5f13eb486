"""Bytes to lines: the one place where log data is split and decoded.

Chunks of bytes go in, complete lines come out as ``str``: without the
newline, without a trailing ``\\r`` (CRLF logs), decoded once per chunk as
UTF-8 with invalid bytes replaced (never an exception). A partial last line
waits for the rest. A line longer than ``max_line`` keeps its first
``max_line`` bytes and the excess is dropped as it arrives, so memory stays
bounded by the chunk size even for a 100 MB line.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The longest line kept whole; the excess is dropped and counted.
DEFAULT_MAX_LINE = 1 << 20


@dataclass
class LineStats:
    """What the splitter has seen."""

    lines: int = 0
    bytes: int = 0
    invalid_utf8: int = 0
    nul_lines: int = 0
    overlong: int = 0


class LineSplitter:
    """Turns a stream of byte chunks into lines.

    >>> s = LineSplitter()
    >>> s.feed(b"a\\r\\nb")
    ['a']
    >>> s.feed(b"c\\n")
    ['bc']
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.stats = LineStats()
        self._partial = b""
        self._dropping = False  # the current line is over max_line: drop until its newline

    @property
    def pending(self) -> int:
        """Bytes held of a line not yet complete."""
        return len(self._partial)

    def skip_line(self) -> None:
        """Drop what comes up to the next newline: the rest of a line whose start was not read."""
        self._partial = b""
        self._dropping = True

    def feed(self, chunk: bytes) -> list[str]:
        """Add a chunk; returns the lines it completed."""
        self.stats.bytes += len(chunk)
        if self._dropping:
            end = chunk.find(b"\n")
            if end < 0:
                return []
            self._dropping = False
            chunk = chunk[end + 1 :]
        last = chunk.rfind(b"\n")
        if last < 0:
            self._partial += chunk
            if len(self._partial) > self.max_line:
                # An overlong line in progress: keep its head, drop the rest as it comes.
                head, self._partial = self._partial[: self.max_line], b""
                self._dropping = True
                self.stats.overlong += 1
                return self._decode(head)
            return []
        data = self._partial + chunk[:last] if self._partial else chunk[:last]
        self._partial = chunk[last + 1 :]
        lines = self._decode(data)
        if len(self._partial) > self.max_line:
            head, self._partial = self._partial[: self.max_line], b""
            self._dropping = True
            self.stats.overlong += 1
            lines += self._decode(head)
        return lines

    def flush(self) -> list[str]:
        """The last line of a stream that does not end with a newline."""
        if not self._partial:
            return []
        data, self._partial = self._partial, b""
        return self._decode(data)

    def _decode(self, data: bytes) -> list[str]:
        """Complete lines (joined by newlines, without the last one) to strings.

        The whole run is decoded and split at once: the common case costs one
        decode and one split, whatever the number of lines.
        """
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            self.stats.invalid_utf8 += sum(1 for p in data.split(b"\n") if not _valid_utf8(p))
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if len(data) > self.max_line and max(map(len, lines)) > self.max_line:  # one pass in C
            cut = self.max_line
            long = [i for i, line in enumerate(lines) if len(line) > cut]
            for i in long:
                lines[i] = lines[i][:cut]
            self.stats.overlong += len(long)
        if "\0" in text:
            self.stats.nul_lines += sum(1 for line in lines if "\0" in line)
        self.stats.lines += len(lines)
        return lines


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
