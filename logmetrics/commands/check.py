"""``logmetrics check``: compile only."""

from __future__ import annotations

import argparse
import sys

from logmetrics.commands.common import load_from_args
from logmetrics.lang.namespace import TIME_BUDGET


def run_check(args: argparse.Namespace) -> int:
    """Compile every program; errors are raised as CompileErrors to the caller."""
    _library, programs = load_from_args(args)
    for program in programs:
        exported = sum(1 for m in program.metrics.values() if not m.hidden)
        print(f"{program.path}: ok, {len(program.metrics)} metrics ({exported} exported)")
        for pos in program.guarded:
            print(f"{pos}: warning: this regex may backtrack catastrophically (a repeated group "
                  f"holding a repetition or an alternation); it runs with a {TIME_BUDGET:g} s time "
                  "budget per line", file=sys.stderr)
        if args.dump_code:
            print(program.source)
    return 0
