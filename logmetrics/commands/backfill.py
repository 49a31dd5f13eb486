"""``logmetrics backfill``: old logs to OpenMetrics with timestamps, for promtool."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from logmetrics.errors import LogmetricsError

if TYPE_CHECKING:  # the parser imports this module: the rest loads only when the command runs
    from logmetrics.runtime.engine import Runtime
    from logmetrics.runtime.routes import LogSpec
    from logmetrics.runtime.timeline import TimelineStats

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=(.*)", re.S)


def duration(text: str) -> float:
    """``90s``, ``1m``, ``1.5h``, ``1d``, or plain seconds, for argparse."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (examples: 30s, 1m, 2h)")
    return float(found.group(1)) * _UNITS[found.group(2)]


def moment(text: str) -> float:
    """A time as ``2026-11-01T10:00:00Z``, with a zone (``+02:00``), or seconds since the epoch."""
    from logmetrics.lang.golayout import parse_time

    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    for layout in ("2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05",
                   "2006-01-02 15:04:05", "2006-01-02"):
        try:
            return parse_time(text, layout)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not a time (e.g. 2026-11-01T10:00:00Z, or epoch seconds)")


def label(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` for argparse."""
    found = _LABEL.fullmatch(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return found.group(1), found.group(2)


def add_history_options(parser: argparse.ArgumentParser) -> None:
    """The options backfill and report share: step, window, time range."""
    parser.add_argument("files", nargs="+", metavar="LOG",
                        help="log files, in any order (rotated and .gz generations included); "
                             "PROGRAM=FILE: only that program reads the file (see run --logs)")
    parser.add_argument("--step", type=duration, default=60.0, metavar="DURATION",
                        help="log time between two snapshots of every series (default 1m)")
    parser.add_argument("--out-of-order", dest="window", type=duration, default=300.0, metavar="DURATION",
                        help="how far behind the newest line seen a line may be and still count in "
                             "its own step (default 5m; Apache's %%t is the time a request started, "
                             "written when it ends); later lines count in the oldest step still open")
    parser.add_argument("--since", type=moment, metavar="TIME",
                        help="skip lines older than TIME (2026-11-01T00:00:00Z or epoch seconds)")
    parser.add_argument("--until", type=moment, metavar="TIME",
                        help="skip lines from TIME on: the time the running daemon started reading, "
                             "so that history and live series do not overlap")


def expand_files(files: list[str]) -> tuple[list[LogSpec], list[str]]:
    """The specs as given, and every file they name (globs expanded, each file once)."""
    import glob

    from logmetrics.runtime.routes import LogSpec

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
    from logmetrics.commands.common import load_from_args
    from logmetrics.runtime.engine import Runtime
    from logmetrics.runtime.routes import LogRouter
    from logmetrics.runtime.timeline import Timeline, require_times

    output: Path = args.output
    if not output.parent.is_dir():
        raise LogmetricsError(f"{output}: its folder does not exist")
    specs, files = expand_files(args.files)
    _library, programs = load_from_args(args, specs)
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
    from logmetrics.exposition.history import HistoryWriter

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
