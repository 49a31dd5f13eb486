"""Container log files: the server's own lines out of the CRI and Docker json-file formats.

CRI (containerd, CRI-O; what the kubelet keeps under ``/var/log/pods``)::

    2026-11-28T10:00:00.123456789Z stdout F 127.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET / ...
    2026-11-28T10:00:00.123456789Z stdout P the first 16 KiB of a long line
    2026-11-28T10:00:00.123456789Z stdout F and its end

Docker's json-file driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

    {"log":"127.0.0.1 - - [...] \\"GET / HTTP/1.1\\" 200 ...\\n","stream":"stdout","time":"..."}

A line cut into parts (``P``, or a ``log`` without its final newline) is joined
before programs see it, per stream. The pod's namespace and name and the
container's name come from the path, as Promtail takes them:
``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`` or
``/var/log/containers/<pod>_<namespace>_<container>-<id>.log``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from logmetrics.sources.envelope import Envelope

_PODS = re.compile(r"/(?P<namespace>[^/_]+)_(?P<pod>[^/_]+)_[^/]+/(?P<container>[^/]+)/[^/]+$")
_CONTAINERS = re.compile(r"/(?P<pod>[^/_]+)_(?P<namespace>[^/_]+)_(?P<container>[^/]+)-[0-9a-f]{64}\.log$")


def path_envelope(path: str) -> Envelope:
    """The namespace, pod and container named by a kubelet log path (empty for other paths)."""
    found = _PODS.search(path) or _CONTAINERS.search(path)
    if found is None:
        return Envelope()
    return Envelope(namespace=found["namespace"], pod=found["pod"], container=found["container"])


@dataclass
class UnwrapStats:
    """Lines of a container log that were not in its format, and lines cut at the limit."""

    malformed: int = 0
    overlong: int = 0


@dataclass
class ContainerLog:
    """Unwraps the lines of one container log file (``fmt``: ``cri`` or ``docker``)."""

    fmt: str
    max_line: int
    stats: UnwrapStats = field(default_factory=UnwrapStats)
    _parts: dict[str, list[str]] = field(default_factory=dict)  # stream -> parts of a cut line
    _held: dict[str, int] = field(default_factory=dict)  # stream -> characters held in _parts

    def unwrap(self, lines: list[str]) -> list[str]:
        """The server's lines inside ``lines``; a line still cut at the end waits for its rest."""
        out: list[str] = []
        self._unwrap(lines, lambda _stream: out)
        return out

    def unwrap_streams(self, lines: list[str]) -> dict[str, list[str]]:
        """Like :meth:`unwrap`, the lines kept apart per stream (``stdout``, ``stderr``), in order."""
        outs: dict[str, list[str]] = {}

        def out_of(stream: str) -> list[str]:
            out = outs.get(stream)
            if out is None:
                out = outs[stream] = []
            return out

        self._unwrap(lines, out_of)
        return {stream: out for stream, out in outs.items() if out}

    def _unwrap(self, lines: list[str], out_of: Callable[[str], list[str]]) -> None:
        read = self._cri if self.fmt == "cri" else self._docker
        for line in lines:
            parsed = read(line)
            if parsed is None:
                self.stats.malformed += 1
                continue
            stream, text, complete = parsed
            self._join(stream, text, complete, out_of(stream))

    def _join(self, stream: str, text: str, complete: bool, out: list[str]) -> None:
        parts = self._parts.get(stream)
        if parts is None and complete:
            out.append(text)  # the common case: a whole line
            return
        held = self._held.get(stream, 0)
        if held < self.max_line:
            parts = self._parts.setdefault(stream, [])
            parts.append(text[: self.max_line - held])
            self._held[stream] = held + len(text)
        else:
            self._held[stream] = held + len(text)  # over the limit: the rest is dropped
        if complete:
            if self._held[stream] > self.max_line:
                self.stats.overlong += 1
            out.append("".join(self._parts.pop(stream, [])))
            del self._held[stream]

    @staticmethod
    def _cri(line: str) -> tuple[str, str, bool] | None:
        fields = line.split(" ", 3)
        if len(fields) < 3 or fields[1] not in ("stdout", "stderr"):
            return None
        tag = fields[2]
        # The tag is P or F, possibly followed by ":"-separated flags (F, P first).
        if tag[:1] not in ("P", "F"):
            return None
        return fields[1], fields[3] if len(fields) == 4 else "", tag[0] == "F"

    @staticmethod
    def _docker(line: str) -> tuple[str, str, bool] | None:
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("log"), str):
            return None
        text: str = entry["log"]
        stream = entry.get("stream")
        complete = text.endswith("\n")
        if complete:
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
        return stream if isinstance(stream, str) else "", text, complete
