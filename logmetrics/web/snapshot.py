"""One consistent picture of the daemon for the status page, the inspector and ``/status.json``.

The picture is plain data (dicts, lists, numbers, strings) so that the HTML,
plain-text and JSON renderings are three views of the same numbers, and so
that those numbers are the self-metrics' own: lines matched are the
program's ``lines_matched`` that ``logmetrics_program_lines_matched_total``
exports, file counters are the tailers' ``TailStats``, refusals are the
metrics' ``overflow``.

Rates are per second over the last minute, from earlier pictures kept by
:class:`RateTracker` (over the uptime until a minute has passed).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logmetrics import __version__
from logmetrics.pathnames import display
from logmetrics.runtime.activity import FileActivity
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import LoadCounts
from logmetrics.sources.stream import StreamStats
from logmetrics.sources.tail import TailStats

#: The window rates are taken over, in seconds.
RATE_WINDOW = 60.0
#: Pictures closer together than this keep only the first for rates.
RATE_SAMPLE_EVERY = 5.0


@dataclass
class StatusInputs:
    """Where the pages read from: the daemon's runtime, follower, loader and activity record."""

    runtime: Runtime
    file_stats: Callable[[], dict[str, TailStats]]
    loads: LoadCounts
    activity: FileActivity = field(default_factory=FileActivity)
    started: float = field(default_factory=time.time)
    listen: str = ""
    stream_stats: Callable[[], dict[str, StreamStats]] = dict


#: Seconds the files' statistics are reused between pages: reading them copies every file's, and
#: with thousands of files that waits for the interpreter lock the main loop holds.
FILE_STATS_TTL = 2.0


class CachedStats:
    """A statistics function whose result is reused for :data:`FILE_STATS_TTL` seconds."""

    def __init__(self, read: Callable[[], dict[str, TailStats]], ttl: float = FILE_STATS_TTL) -> None:
        self.read = read
        self.ttl = ttl
        self._taken = -float("inf")
        self._value: dict[str, TailStats] = {}
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, TailStats]:
        with self._lock:  # one reader at a time: concurrent pages share one reading
            now = time.monotonic()
            if now - self._taken >= self.ttl:
                self._value = self.read()
                self._taken = time.monotonic()
            return self._value


class RateTracker:
    """Counters seen at earlier times, to turn counts into per-second rates."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, dict[str, float]]] = collections.deque()
        self._lock = threading.Lock()

    def rates(self, now: float, counts: dict[str, float], uptime: float,
              keep: bool = True) -> dict[str, float]:
        """Per-second rates of ``counts`` over the last minute (keys as given); ``keep`` records
        ``counts`` for later rates (only complete pictures are kept)."""
        with self._lock:
            while self._samples and now - self._samples[0][0] > RATE_WINDOW:
                self._samples.popleft()
            base_time, base = self._samples[0] if self._samples else (now - uptime, {})
            if keep and (not self._samples or now - self._samples[-1][0] >= RATE_SAMPLE_EVERY):
                self._samples.append((now, counts))
        seconds = now - base_time
        out = {}
        for key, value in counts.items():
            before = base.get(key, 0.0)
            if before > value:  # reloaded or rotated: counting restarted
                before = 0.0
            out[key] = (value - before) / seconds if seconds > 0 else 0.0
        return out


def _program_part(inputs: StatusInputs, now: float) -> tuple[list[dict[str, Any]], dict[str, float]]:
    loads = inputs.loads
    programs: list[dict[str, Any]] = []
    counts: dict[str, float] = {}
    running = {p.name: p for p in inputs.runtime.programs}
    for name in sorted(set(running) | set(loads.last_error)):
        program = running.get(name)
        entry: dict[str, Any] = {
            "name": name,
            "path": program.path if program else None,
            "running": program is not None,
            "loaded_at": program.loaded_at if program else None,
            "loads_ok": loads.ok.get(name, 0),
            "loads_failed": loads.failed.get(name, 0),
            "load_error": loads.last_error.get(name),
            "lines_seen": 0, "lines_matched": 0, "runtime_errors": 0, "regex_timeouts": 0,
            "recent_errors": [], "sites": [], "metrics": 0,
        }
        if program is not None:
            stats = program.stats
            entry.update(lines_seen=stats.lines_seen, lines_matched=stats.lines_matched,
                         runtime_errors=stats.runtime_errors, regex_timeouts=stats.regex_timeouts,
                         recent_errors=list(stats.recent_errors), metrics=len(program.metrics))
            hits = list(program.site_hits)
            entry["sites"] = [
                {"where": site.where, "line": site.pos.line, "col": site.pos.col, "text": site.text,
                 "matched": hits[site.number] if site.counted and site.number < len(hits) else None}
                for site in program.sites
            ]
            counts[f"seen:{name}"] = stats.lines_seen
            counts[f"matched:{name}"] = stats.lines_matched
        programs.append(entry)
    return programs, counts


def _file_part(inputs: StatusInputs) -> tuple[list[dict[str, Any]], dict[str, float]]:
    last_read = inputs.activity.last_read()
    files = []
    counts: dict[str, float] = {}
    for path, stats in inputs.file_stats().items():
        shown = display(path)  # a page is UTF-8: bytes that are not are shown as \xNN
        files.append({
            "path": shown, "size": stats.size, "position": max(0, stats.size - stats.lag), "lag": stats.lag,
            "lines": stats.lines, "bytes": stats.bytes, "rotations": stats.rotations,
            "errors": stats.errors, "last_read": last_read.get(path),
        })
        counts[f"file:{shown}"] = stats.lines
    return files, counts


def _stream_part(inputs: StatusInputs, last_read: dict[str, float]) -> list[dict[str, Any]]:
    return [{"source": name, "lines": s.lines, "bytes": s.bytes, "connections": s.connections,
             "open": s.open_connections, "dropped": sum(s.dropped.values()), "dropped_by": dict(s.dropped),
             "malformed_syslog": s.malformed_syslog, "last_read": last_read.get(name)}
            for name, s in sorted(inputs.stream_stats().items())]


def _metric_part(inputs: StatusInputs) -> list[dict[str, Any]]:
    out = []
    for metric in inputs.runtime.store:
        limit = metric.limit
        out.append({
            "program": metric.program, "name": metric.export_name, "kind": metric.kind.value,
            "label_sets": len(metric.values) if metric.labels else None,
            "cap": limit if limit is not None else metric.max_label_sets,
            "cap_is_limit": limit is not None, "refused": metric.overflow, "hidden": metric.hidden,
        })
    return out


def take_snapshot(inputs: StatusInputs, tracker: RateTracker, files: bool = True) -> dict[str, Any]:
    """The daemon as the pages show it, with rates; see the module docstring.

    ``files=False`` leaves out the files and streams (the inspector does not show them, and with
    thousands of files they are most of the work)."""
    now_wall, now = time.time(), time.monotonic()
    uptime = max(0.0, now_wall - inputs.started)
    programs, counts = _program_part(inputs, now_wall)
    file_list, file_counts = _file_part(inputs) if files else ([], {})
    counts.update(file_counts)
    counts["lines"] = inputs.runtime.lines_read
    rates = tracker.rates(now, counts, uptime, keep=files)
    for program in programs:
        program["seen_rate"] = rates.get(f"seen:{program['name']}", 0.0)
        program["matched_rate"] = rates.get(f"matched:{program['name']}", 0.0)
    for entry in file_list:
        entry["lines_rate"] = rates.get(f"file:{entry['path']}", 0.0)
    metrics = _metric_part(inputs)
    streams = _stream_part(inputs, inputs.activity.last_read()) if files else []
    import platform  # at the first status page, not at the daemon's start

    return {
        "version": __version__,
        "python": platform.python_version(),
        "listen": inputs.listen,
        "now": now_wall,
        "started": inputs.started,
        "uptime": uptime,
        "lines": inputs.runtime.lines_read,
        "lines_rate": rates["lines"],
        "keep_unmatched": inputs.activity.keep_unmatched,
        "programs": programs,
        "files": file_list,
        "streams": streams,
        "metrics": metrics,
        "totals": {
            "programs": sum(1 for p in programs if p["running"]),
            "failing": sum(1 for p in programs if p["load_error"]),
            "files": len(file_list),
            "lagging": sum(1 for f in file_list if f["lag"] > 0),
            "read_errors": sum(f["errors"] for f in file_list),
            "runtime_errors": sum(p["runtime_errors"] for p in programs),
            "refused": sum(m["refused"] for m in metrics),
        },
    }
