"""``logmetrics backfill``: old logs to OpenMetrics with timestamps, for promtool."""

from __future__ import annotations

import argparse
import glob
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from logmetrics.commands.common import load_from_args
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.history import HistoryWriter
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.routes import LogRouter, LogSpec
from logmetrics.runtime.timeline import Timeline, TimelineStats, require_times


def expand_files(files: list[str]) -> tuple[list[LogSpec], list[str]]:
    """The specs as given, and every file they name (globs expanded, each file once)."""
    specs = [LogSpec.parse(source) for source in files]
    found: list[str] = []
    for spec in specs:
        if spec.glob == "-":
            raise LogmetricsError("history cannot read stdin: lines from several files are merged by "
                                  "time, give the files themselves")
        matches = sorted(glob.glob(spec.glob, recursive=True)) or [spec.glob]
        found.extend(m for m in matches if m not in found)
    return specs, found


class Sink(Protocol):
    """Where a history command writes the steps: backfill's OpenMetrics file, report's charts."""

    def snapshot(self, when: float) -> None:
        """Take every series as it stands at the end of the step ending at ``when``."""


S = TypeVar("S", bound=Sink)


def run_history(args: argparse.Namespace, make: Callable[[Runtime], S], nothing: str,
                on_batch: Callable[[S, str, list[str], list[int]], None] | None = None,
                discard: Callable[[S], None] | None = None,
                ) -> tuple[S, Runtime, TimelineStats, float]:
    """What backfill and report share: check that ``args.output``'s folder exists, load the
    programs (refusing those that read no time), and run the files by log time into the sink
    ``make`` builds from the runtime at the first step. Returns the sink, the runtime, what the
    timeline saw and the seconds it took.

    ``on_batch`` hears of each batch's unmatched lines once the sink exists; ``discard`` cleans
    the sink up when the run fails; with no line that had a time, LogmetricsError says there is
    ``nothing`` ("nothing to write")."""
    output: Path = args.output
    if not output.parent.is_dir():
        raise LogmetricsError(f"{output}: its folder does not exist")
    specs, files = expand_files(args.files)
    _library, programs = load_from_args(args, specs, cached=True)
    layouts = require_times(programs)
    runtime = Runtime(programs, max_label_sets=args.max_label_sets, router=LogRouter(specs))
    made: list[S] = []  # the sink, once the first step has made it

    def on_step(when: float) -> None:
        if not made:
            made.append(make(runtime))
        made[0].snapshot(when)

    def batch(name: str, lines: list[str], missed: list[int]) -> None:
        if made and on_batch is not None:
            on_batch(made[0], name, lines, missed)

    timeline = Timeline(runtime, layouts, args.step, args.window, on_step,
                        since=args.since, until=args.until, on_batch=None if on_batch is None else batch)
    started = time.perf_counter()
    try:
        stats = timeline.run(files)
    except BaseException:
        if made and discard is not None:
            discard(made[0])
        raise
    if not made:
        raise LogmetricsError(f"no line with a time was read: {nothing}")
    return made[0], runtime, stats, time.perf_counter() - started


def summary(stats: TimelineStats, runtime: Runtime, seconds: float, what: str) -> str:
    """The report on stderr: lines, span, late lines, per-program matches."""
    rate = stats.lines / seconds if seconds > 0 else 0.0
    out = [f"# {what}: {stats.lines:,} lines from {len(stats.files)} file(s) in {seconds:.2f} s "
           f"({rate:,.0f} lines/s), {stats.steps:,} steps"]
    if stats.first is not None and stats.last is not None:
        span = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stats.first)) + " to " + \
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stats.last))
        out.append(f"#   log time: {span}")
    if stats.late:
        out.append(f"#   {stats.late:,} lines came later than --out-of-order allows and were counted in "
                   "a later step than their own")
    if stats.untimed:
        out.append(f"#   {stats.untimed:,} lines were in files where no time could be read")
    if stats.skipped:
        out.append(f"#   {stats.skipped:,} lines skipped (outside --since/--until, or with no time at all)")
    for program in runtime.programs:
        out.append(f"#   {program.name}: {program.stats.lines_matched:,} lines matched, "
                   f"{program.stats.runtime_errors:,} runtime errors")
        for metric in program.metrics.values():
            if metric.overflow:
                out.append(f"#   {program.name}: {metric.name}: {metric.overflow:,} new label sets refused "
                           f"(more than {metric.max_label_sets:,}; see --max-label-sets)")
    return "\n".join(out) + "\n"


def run_backfill(args: argparse.Namespace) -> int:
    """Write the history of every series to ``args.output``; report on stderr."""
    def make(runtime: Runtime) -> HistoryWriter:
        return HistoryWriter(args.output, runtime.store, prog_label=args.prog_label,
                             labels=dict(args.label or []))

    writer, runtime, stats, seconds = run_history(args, make, "nothing to write",
                                                  discard=HistoryWriter.discard)
    writer.close()
    if not args.quiet:
        sys.stderr.write(summary(stats, runtime, seconds, "backfill"))
        sys.stderr.write(f"#   wrote {writer.samples:,} samples to {args.output}; next:\n"
                         f"#   promtool tsdb create-blocks-from openmetrics {args.output} DATA_DIR\n")
    return 0
