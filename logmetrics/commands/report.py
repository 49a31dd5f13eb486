"""``logmetrics report``: old logs to one self-contained HTML page of charts over log time."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from logmetrics.commands.backfill import run_history, summary
from logmetrics.exposition.report import ReportCollector, render_report


def run_report(args: argparse.Namespace) -> int:
    """Run the programs over the logs by log time and write the page to ``args.output``."""
    output: Path = args.output
    collector, runtime, stats, seconds = run_history(
        args, lambda runtime: ReportCollector(runtime.store), "nothing to show",
        on_batch=ReportCollector.unmatched)
    lines = [line.lstrip("# ").strip() for line in summary(stats, runtime, seconds, "report").splitlines()]
    lines.append(f"files: {', '.join(stats.files)}")
    lines.append(f"made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one point per "
                 f"{args.step:g} s of log time (or the sum of several when the history is long)")
    page = render_report(collector, [p.name for p in runtime.programs], lines,
                         args.title or "logmetrics report")
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, output)
    if not args.quiet:
        sys.stderr.write(summary(stats, runtime, seconds, "report"))
        sys.stderr.write(f"#   wrote {output}\n")
    return 0
