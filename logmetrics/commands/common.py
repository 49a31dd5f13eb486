"""What the subcommands share: loading patterns and programs from the options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from logmetrics.errors import LogmetricsError
from logmetrics.grok import PatternLibrary
from logmetrics.lang.cache import CompileCache, user_cache_dir
from logmetrics.resources import DEFAULT_PROGRAM, bundled_program, bundled_program_names, bundled_programs_dir
from logmetrics.runtime.loader import find_program_files, load_programs, resolve_program_path
from logmetrics.runtime.program import Program
from logmetrics.runtime.routes import LogSpec


def program_paths(args: argparse.Namespace, specs: Sequence[LogSpec] | None = None) -> list[Path]:
    """The program files and folders to load, from ``--progs`` and the logs' ``PROGRAM=`` bindings.

    Without ``--progs``: ``check`` compiles every bundled program; commands that read logs run
    the bundled programs their logs name, plus ``apache_access`` for logs that name none.
    """
    paths: list[Path] = list(args.progs or [])
    if specs is None:
        return paths or [bundled_programs_dir()]
    have = {p.name for p in find_program_files(paths)} if paths else set()
    for spec in specs:
        if spec.program is None or spec.program in have:
            continue
        found = bundled_program(spec.program)
        if found is None:
            names = ", ".join(sorted(have)) or "none"
            raise LogmetricsError(
                f"{spec.program.removesuffix('.mtail')}={spec.glob}: no program of that name "
                f"(from --progs: {names}; bundled: {', '.join(bundled_program_names())})")
        paths.append(found)
        have.add(spec.program)
    if not args.progs and (not specs or any(s.program is None for s in specs)):
        default = bundled_program(DEFAULT_PROGRAM)
        if default is not None and default.name not in have:
            paths.append(default)
    return paths


def load_from_args(args: argparse.Namespace, specs: Sequence[LogSpec] | None = None,
                   cached: bool = False) -> tuple[PatternLibrary, list[Program]]:
    """The pattern library and the compiled programs named by --patterns, --progs and ``specs``;
    ``cached``: programs compiled before are taken from the user's compile cache."""
    paths = program_paths(args, specs)
    _require_programs(paths)
    library = PatternLibrary.load(args.patterns)
    stamps = bool(getattr(args, "emit_metric_timestamp", False))
    cache = CompileCache(user_cache_dir()) if cached else None
    return library, load_programs(paths, library, stamps, cache)


def _require_programs(paths: Sequence[Path]) -> None:
    """A folder given as programs must hold some: checking or running nothing is a mistake to report
    (a mistyped folder, programs not named ``*.mtail``), not a silent success."""
    for path in map(resolve_program_path, paths):
        if path.is_dir() and not find_program_files([path]):
            raise LogmetricsError(f"{path}: no program in this folder (programs are *.mtail files)")
