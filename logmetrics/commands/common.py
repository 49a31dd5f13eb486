"""What the subcommands share: loading patterns and programs from the options."""

from __future__ import annotations

import argparse

from logmetrics.grok import PatternLibrary
from logmetrics.runtime.loader import bundled_programs_dir, load_programs
from logmetrics.runtime.program import Program


def load_from_args(args: argparse.Namespace) -> tuple[PatternLibrary, list[Program]]:
    """The pattern library and the compiled programs named by --patterns and --progs."""
    library = PatternLibrary.load(args.patterns)
    paths = args.progs or [bundled_programs_dir()]
    stamps = bool(getattr(args, "emit_metric_timestamp", False))
    return library, load_programs(paths, library, stamps)
