"""``logmetrics dry-run``: programs over sample logs, metrics to stdout, report to stderr."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

from logmetrics.commands.common import load_from_args
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.render import render
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.routes import LogRouter, LogSpec
from logmetrics.runtime.trace import Explainer
from logmetrics.sources.hub import NamedSource, SourceHub
from logmetrics.sources.static import read_batches
from logmetrics.sources.stream import Batch
from logmetrics.sources.unwrap.container import UnwrapStats


@dataclass
class MatchReport:
    """What the dry-run saw, for the report on stderr."""

    files: int = 0
    lines: int = 0
    unmatched: int = 0
    examples: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    unwrap: dict[str, UnwrapStats] = field(default_factory=dict)  # container logs: lines not in format


class Progress:
    """A one-line progress display on stderr, redrawn at most a few times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0
        self.start = time.monotonic()

    def update(self, name: str, lines: int, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        rate = lines / max(now - self.start, 1e-9)
        where = f"{done / 1e6:,.1f} MB"
        if total:
            where += f" of {total / 1e6:,.1f} MB ({100 * done / total:.0f}%)"
        sys.stderr.write(f"\r\x1b[K{name}: {where}, {lines:,} lines, {rate:,.0f} lines/s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run_dry_run(args: argparse.Namespace) -> int:
    """Run the programs over every file, print metrics and the match report."""
    specs = [LogSpec.parse(source) for source in args.files]
    files = _files(specs)
    _library, programs = load_from_args(args, specs, cached=True)
    runtime = Runtime(programs, max_label_sets=args.max_label_sets, router=LogRouter(specs),
                      max_value_bytes=args.max_label_value_bytes, max_series_bytes=args.max_series_bytes)
    # Container logs are unwrapped as run unwraps them, by the same hub (no socket is opened).
    hub = SourceHub([NamedSource(s.glob, s.source) for s in specs if s.glob != "-"])
    report = MatchReport()
    show = max(0, args.show_unmatched)
    progress = Progress(
        args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    )
    explainer = _explainer(args, specs)
    started = time.perf_counter()
    for source in files:
        report.files += 1
        name = "<stdin>" if source == "-" else source
        numbers: dict[str, int] = {}  # per stream read apart: the last line number given
        reader = read_batches(source)
        for raw in reader:
            for batch in hub.batches([(source, raw)]) if source != "-" else [Batch(name, raw)]:
                lines, stream = batch.lines, batch.envelope.stream
                first_line = numbers.get(stream, 0) + 1
                numbers[stream] = first_line + len(lines) - 1
                label = f"{name}[{stream}]" if stream else name
                if explainer is not None:
                    explainer.feed(lines, name, first_line, batch.envelope, label)
                # Without a report to print, the lines no program matched need not be tracked.
                result = runtime.process(lines, name, track_unmatched=not args.quiet, envelope=batch.envelope)
                unmatched = result.unmatched or []
                report.unmatched += len(unmatched)
                for index in unmatched[: max(0, show - len(report.examples))]:
                    report.examples.append((label, first_line + index, lines[index]))
                report.lines += len(lines)
            progress.update(name, report.lines, reader.bytes_read, reader.total_bytes)
    report.seconds = time.perf_counter() - started
    report.unwrap = hub.unwrap_stats()
    progress.finish()
    sys.stdout.write(render(runtime.store, args.format, prog_label=args.prog_label,
                            timestamps=args.emit_metric_timestamp))
    sys.stdout.flush()
    if not args.quiet:
        sys.stderr.write(format_report(report, runtime))
    return 0


def _files(specs: list[LogSpec]) -> list[str]:
    """The files to read, each once (``a=x.log?stream=stdout b=x.log?stream=stderr`` is one file
    whose lines go to both, as run reads it); a socket URL is an error: dry-run reads files."""
    files: list[str] = []
    for spec in specs:
        if spec.source.is_stream and spec.glob != "-":
            raise LogmetricsError(f"{spec.glob}: dry-run reads files and standard input, not sockets "
                                  "(save the lines to a file, or pipe them to dry-run -)")
        if spec.glob not in files:
            files.append(spec.glob)
    return files


def _explainer(args: argparse.Namespace, specs: list[LogSpec]) -> Explainer | None:
    """``--explain N``: a second copy of the programs traces the first N lines on stderr."""
    if not getattr(args, "explain", 0):
        return None
    _library, programs = load_from_args(args, specs, cached=True)
    tracing = Runtime(programs, max_label_sets=args.max_label_sets, router=LogRouter(specs))
    return Explainer(tracing, args.explain, sys.stderr)


def format_report(report: MatchReport, runtime: Runtime) -> str:
    """The match report: lines read, matched per program, errors, unmatched examples."""
    rate = report.lines / report.seconds if report.seconds > 0 else 0.0
    out = [
        f"# dry-run: {report.lines:,} lines from {report.files} file(s) "
        f"in {report.seconds:.2f} s ({rate:,.0f} lines/s)"
    ]
    for program in runtime.programs:
        stats = program.stats
        for metric in program.metrics.values():
            if metric.overflow:
                out.append(f"#   {program.name}: {metric.name}: {metric.overflow:,} new label sets refused "
                           f"(more than {metric.max_label_sets:,}; see --max-label-sets)")
            where = f"#   {program.name}: {metric.name}:"
            if metric.refused_long:
                out.append(f"{where} {metric.refused_long:,} new label sets refused (a value longer than "
                           f"{metric.max_value_bytes:,} bytes; see --max-label-value-bytes)")
            if metric.refused_bytes:
                out.append(f"{where} {metric.refused_bytes:,} new label sets refused (label values over "
                           f"{metric.max_series_bytes:,} bytes; see --max-series-bytes)")
        share = 100 * stats.lines_matched / report.lines if report.lines else 0.0
        out.append(
            f"#   {program.name}: {stats.lines_matched:,} lines matched ({share:.1f}%), "
            f"{stats.runtime_errors:,} runtime errors"
            + (f" ({stats.regex_timeouts:,} regex time-outs)" if stats.regex_timeouts else "")
        )
        for message in stats.recent_errors:
            out.append(f"#     error: {message}")
    for path, unwrap in report.unwrap.items():
        if unwrap.malformed:
            out.append(f"#   {path}: {unwrap.malformed:,} lines not in the container log format, skipped")
        if unwrap.overlong:
            out.append(f"#   {path}: {unwrap.overlong:,} joined lines cut at the line limit")
    out.append(f"#   matched by no program: {report.unmatched:,} lines")
    for name, number, line in report.examples:
        out.append(f"#     {name}:{number}: {line[:300]}")
    return "\n".join(out) + "\n"
