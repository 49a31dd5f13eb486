"""logmetrics' own metrics: what it read, matched, failed at, and how far behind it is.

The ``file`` label is the file name as :func:`logmetrics.pathnames.display` shows
it: bytes that are not UTF-8 as ``\\xNN``, since a label value must be UTF-8.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as Family
from prometheus_client.registry import Collector

from logmetrics import __version__
from logmetrics.pathnames import display
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import LoadCounts
from logmetrics.sources.tail import TailStats


class SelfCollector(Collector):
    """Families named ``logmetrics_*``, read from the runtime, the follower and the loader."""

    def __init__(self, runtime: Runtime, file_stats: Callable[[], dict[str, TailStats]],
                 loads: LoadCounts, glob_files: Callable[[], dict[str, int]] = dict) -> None:
        self.runtime = runtime
        self.file_stats = file_stats
        self.loads = loads
        self.glob_files = glob_files

    def collect(self) -> Iterator[Family]:
        info = GaugeMetricFamily("logmetrics_build_info", "logmetrics version and Python version",
                                 labels=["version", "python"])
        info.add_metric([__version__, platform.python_version()], 1)
        yield info

        files = self.file_stats()
        per_file = {
            "logmetrics_log_lines": ("Lines read from the log file", lambda s: s.lines),
            "logmetrics_log_bytes": ("Bytes read from the log file", lambda s: s.bytes),
            "logmetrics_log_rotations": ("Rotations seen (rename, truncation, replacement)",
                                         lambda s: s.rotations),
            "logmetrics_log_read_errors": ("Problems opening or reading the log file (missing, "
                                           "permission denied, ...)", lambda s: s.errors),
            "logmetrics_log_generations_lost": ("Rotated generations of the log found nowhere (deleted or "
                                                "overwritten before they were read to their end)",
                                                lambda s: s.generations_lost),
            "logmetrics_log_invalid_utf8_lines": ("Lines with bytes that are not UTF-8 (replaced)",
                                                  lambda s: s.invalid_utf8),
            "logmetrics_log_nul_lines": ("Lines holding NUL bytes", lambda s: s.nul_lines),
            "logmetrics_log_overlong_lines": ("Lines cut at the maximum line length", lambda s: s.overlong),
        }
        for name, (doc, get) in per_file.items():
            family = CounterMetricFamily(name, doc, labels=["file"])
            for path, stats in sorted(files.items()):
                family.add_metric([display(path)], get(stats))
            yield family
        globs = GaugeMetricFamily("logmetrics_log_glob_files",
                                  "Files each --logs glob matches (0: a typo, or a log not created yet)",
                                  labels=["glob"])
        for pattern, count in sorted(self.glob_files().items()):
            globs.add_metric([display(pattern)], count)
        yield globs
        lag = GaugeMetricFamily("logmetrics_log_lag_bytes", "File size minus the position read so far",
                                labels=["file"])
        for path, stats in sorted(files.items()):
            lag.add_metric([display(path)], stats.lag)
        yield lag

        programs = list(self.runtime.programs)
        matched = CounterMetricFamily("logmetrics_program_lines_matched", "Lines a program matched",
                                      labels=["prog"])
        errors = CounterMetricFamily("logmetrics_program_runtime_errors",
                                     "Lines on which a program failed at run time", labels=["prog"])
        timeouts = CounterMetricFamily("logmetrics_program_regex_timeouts",
                                       "Lines given up because a regex ran out of its time budget",
                                       labels=["prog"])
        overflow = CounterMetricFamily("logmetrics_metric_label_sets_refused",
                                       "New label sets refused: the metric held too many (too_many), a "
                                       "value was too long (value_too_long), or the metric's label values "
                                       "took too many bytes (series_bytes)",
                                       labels=["prog", "metric", "reason"])
        for program in programs:
            matched.add_metric([program.name], program.stats.lines_matched)
            errors.add_metric([program.name], program.stats.runtime_errors)
            timeouts.add_metric([program.name], program.stats.regex_timeouts)
            for metric in program.metrics.values():
                for reason, count in (("too_many", metric.overflow), ("value_too_long", metric.refused_long),
                                      ("series_bytes", metric.refused_bytes)):
                    if count:
                        overflow.add_metric([program.name, metric.name, reason], count)
        yield matched
        yield errors
        yield timeouts
        yield overflow

        loads = CounterMetricFamily("logmetrics_program_loads", "Program (re)loads, by result",
                                    labels=["prog", "result"])
        for name, count in sorted(self.loads.ok.items()):
            loads.add_metric([name, "ok"], count)
        for name, count in sorted(self.loads.failed.items()):
            loads.add_metric([name, "error"], count)
        yield loads
        failing = GaugeMetricFamily("logmetrics_program_load_failing",
                                    "1 while the newest version of a program does not compile",
                                    labels=["prog"])
        for name in sorted(set(self.loads.ok) | set(self.loads.failed)):
            failing.add_metric([name], 1 if name in self.loads.last_error else 0)
        yield failing
        total = CounterMetricFamily("logmetrics_lines", "Lines read from every log")
        total.add_metric([], self.runtime.lines_read)
        yield total
