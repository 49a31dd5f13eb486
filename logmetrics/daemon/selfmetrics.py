"""logmetrics' own metrics: what it read, matched, failed at, and how far behind it is.

The ``file`` label is the file name as :func:`logmetrics.pathnames.display` shows
it: bytes that are not UTF-8 as ``\\xNN``, since a label value must be UTF-8.

Per-file series are bounded (``--max-file-metrics``): nine series per file are
45,000 for 5,000 files, seconds to render at every scrape and a cardinality no
dashboard wants. The first files followed keep their own series for as long as
they are followed; the others are summed under ``file="other"`` (every followed
path is absolute, so no file is called that). Each family's sum over ``file`` is
exact, and the ``other`` counters never go back: a summed file that stops being
followed leaves its counts in them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields

from logmetrics import __version__
from logmetrics.defaults import DEFAULT_MAX_FILE_METRICS
from logmetrics.exposition.families import MetricFamily, counter, gauge
from logmetrics.pathnames import display
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import LoadCounts
from logmetrics.sources.tail import TailStats

#: The ``file`` label of the series summing the files beyond the bound.
OTHER_FILES = "other"
#: Per-file counters, by family: (help, TailStats field).
_FILE_COUNTERS = {
    "logmetrics_log_lines": ("Lines read from the log file", "lines"),
    "logmetrics_log_bytes": ("Bytes read from the log file", "bytes"),
    "logmetrics_log_rotations": ("Rotations seen (rename, truncation, replacement)", "rotations"),
    "logmetrics_log_read_errors": ("Problems opening or reading the log file (missing, permission "
                                   "denied, ...)", "errors"),
    "logmetrics_log_generations_lost": ("Rotated generations of the log found nowhere (deleted or "
                                        "overwritten before they were read to their end)",
                                        "generations_lost"),
    "logmetrics_log_invalid_utf8_lines": ("Lines with bytes that are not UTF-8 (replaced)", "invalid_utf8"),
    "logmetrics_log_nul_lines": ("Lines holding NUL bytes", "nul_lines"),
    "logmetrics_log_overlong_lines": ("Lines cut at the maximum line length", "overlong"),
}
#: TailStats fields that are gauges (a file's present state), not counts to keep when it goes.
_GAUGES = frozenset({"size", "lag"})


class FileSeries:
    """Which files have series of their own, and the sums of the others (see the module docstring).

    Safe to call from several scraping threads at once."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self._own: dict[str, None] = {}  # files with their own series, in the order they got them
        self._summed: dict[str, TailStats] = {}  # the other files, as last seen
        self._retired = TailStats()  # counts of summed files no longer followed
        self._lock = threading.Lock()  # the choice above is shared by concurrent scrapes

    def split(self, files: dict[str, TailStats]) -> tuple[dict[str, TailStats], TailStats | None]:
        """``files`` (in the order they were followed) as the series to show: those of their own,
        and the sum of the rest (None while there is no other file, nor ever was)."""
        with self._lock:
            for path in [p for p in self._own if p not in files]:
                del self._own[path]  # its series goes with it, as before any bound
            for path in [p for p in self._summed if p not in files]:
                _add(self._retired, self._summed.pop(path), counters_only=True)
            for path, stats in files.items():
                if path in self._own:
                    continue
                if path not in self._summed and len(self._own) < self.limit:
                    self._own[path] = None  # a free place; a summed file stays summed
                else:
                    self._summed[path] = stats
            own = {path: files[path] for path in self._own}
            if not self._summed and self._retired == TailStats():
                return own, None
            other = TailStats(**vars(self._retired))
            for stats in self._summed.values():
                _add(other, stats, counters_only=False)
            return own, other


def _add(total: TailStats, stats: TailStats, *, counters_only: bool) -> None:
    for name in _STAT_FIELDS:
        if not (counters_only and name in _GAUGES):
            setattr(total, name, getattr(total, name) + getattr(stats, name))


_STAT_FIELDS = tuple(f.name for f in fields(TailStats))


class SelfCollector:
    """Families named ``logmetrics_*``, read from the runtime, the follower and the loader."""

    def __init__(self, runtime: Runtime, file_stats: Callable[[], dict[str, TailStats]],
                 loads: LoadCounts, glob_files: Callable[[], dict[str, int]] = dict,
                 max_file_metrics: int = DEFAULT_MAX_FILE_METRICS) -> None:
        self.runtime = runtime
        self.series = FileSeries(max_file_metrics)
        self.file_stats = file_stats
        self.loads = loads
        self.glob_files = glob_files

    def collect(self) -> Iterator[MetricFamily]:
        info = gauge("logmetrics_build_info", "logmetrics version and Python version",
                     ["version", "python"])
        # What platform.python_version() reads (e.g. 3.13.0rc1), without importing platform at start.
        info.add([__version__, sys.version.split()[0]], 1)
        yield info

        files = self.file_stats()
        own, other = self.series.split(files)
        rows = [(display(path), stats) for path, stats in sorted(own.items())]
        if other is not None:
            rows.append((OTHER_FILES, other))
        for name, (doc, attribute) in _FILE_COUNTERS.items():
            family = counter(name, doc, ["file"])
            for label, stats in rows:
                family.add([label], getattr(stats, attribute))
            yield family
        globs = gauge("logmetrics_log_glob_files",
                      "Files each --logs glob matches (0: a typo, or a log not created yet)",
                      ["glob"])
        for pattern, count in sorted(self.glob_files().items()):
            globs.add([display(pattern)], count)
        yield globs
        lag = gauge("logmetrics_log_lag_bytes", "File size minus the position read so far",
                    ["file"])
        for label, stats in rows:
            lag.add([label], stats.lag)
        yield lag
        followed = gauge("logmetrics_log_files",
                         "Files followed now (each with series of its own, up to "
                         "--max-file-metrics; the rest summed under file=\"other\")")
        followed.add([], len(files))
        yield followed

        programs = list(self.runtime.programs)
        matched = counter("logmetrics_program_lines_matched", "Lines a program matched",
                          ["prog"])
        errors = counter("logmetrics_program_runtime_errors",
                         "Lines on which a program failed at run time", ["prog"])
        timeouts = counter("logmetrics_program_regex_timeouts",
                           "Lines given up because a regex ran out of its time budget",
                           ["prog"])
        overflow = counter("logmetrics_metric_label_sets_refused",
                           "New label sets refused: the metric held too many (too_many), a "
                           "value was too long (value_too_long), or the metric's label values "
                           "took too many bytes (series_bytes)",
                           ["prog", "metric", "reason"])
        for program in programs:
            matched.add([program.name], program.stats.lines_matched)
            errors.add([program.name], program.stats.runtime_errors)
            timeouts.add([program.name], program.stats.regex_timeouts)
            for metric in program.metrics.values():
                for reason, count in (("too_many", metric.overflow), ("value_too_long", metric.refused_long),
                                      ("series_bytes", metric.refused_bytes)):
                    if count:
                        overflow.add([program.name, metric.name, reason], count)
        yield matched
        yield errors
        yield timeouts
        yield overflow

        loads = counter("logmetrics_program_loads", "Program (re)loads, by result",
                        ["prog", "result"])
        for name, count in sorted(self.loads.ok.items()):
            loads.add([name, "ok"], count)
        for name, count in sorted(self.loads.failed.items()):
            loads.add([name, "error"], count)
        yield loads
        failing = gauge("logmetrics_program_load_failing",
                        "1 while the newest version of a program does not compile",
                        ["prog"])
        for name in sorted(set(self.loads.ok) | set(self.loads.failed)):
            failing.add([name], 1 if name in self.loads.last_error else 0)
        yield failing
        total = counter("logmetrics_lines", "Lines read from every log")
        total.add([], self.runtime.lines_read)
        yield total
