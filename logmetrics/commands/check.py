"""``logmetrics check``: compile only."""

from __future__ import annotations

import argparse

from logmetrics.commands.common import load_from_args


def run_check(args: argparse.Namespace) -> int:
    """Compile every program; errors are raised as CompileErrors to the caller."""
    _library, programs = load_from_args(args)
    for program in programs:
        exported = sum(1 for m in program.metrics.values() if not m.hidden)
        print(f"{program.path}: ok, {len(program.metrics)} metrics ({exported} exported)")
        if args.dump_code:
            print(program.source)
    return 0
