"""``logmetrics convert``: other tools' configurations to logmetrics programs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logmetrics.convert import ConvertError
from logmetrics.convert.grok_exporter import Converter
from logmetrics.errors import CompileError, CompileErrors
from logmetrics.grok import PatternLibrary
from logmetrics.runtime.program import Program


def run_convert(args: argparse.Namespace) -> int:
    """Convert the configuration named by ``args.config``; warnings go to stderr."""
    config: Path = args.config
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConvertError(f"{config}: cannot read: {exc}") from None
    program_name = args.output.name if args.output is not None else f"{config.stem}.mtail"
    library = PatternLibrary.load(args.patterns) if args.check else None
    # grok_exporter reads relative paths from its working folder: most often the configuration's.
    bases = list(dict.fromkeys([config.parent.resolve(), Path.cwd()]))
    converter = Converter(text, str(config), program_name, library, bases)
    program = converter.convert()
    for warning in converter.warnings:
        print(warning.format(str(config)), file=sys.stderr)
    if converter.library is not None:  # with the configuration's own pattern files, when found
        _check(program, program_name, converter.library)
    if args.output is not None:
        try:
            args.output.write_text(program, encoding="utf-8")
        except OSError as exc:
            raise ConvertError(f"{args.output}: cannot write: {exc}") from None
    else:
        sys.stdout.write(program)
    return 0


def _check(program: str, name: str, library: PatternLibrary) -> None:
    """Warn when the program does not compile here (a pattern from a folder not given, say)."""
    try:
        Program.compile(program, name, library)
    except (CompileError, CompileErrors) as exc:
        errors = exc.errors if isinstance(exc, CompileErrors) else [exc]
        for error in errors:
            print(f"{error} (warning: the converted program does not compile with the bundled "
                  "patterns and --patterns given; see 'logmetrics check')", file=sys.stderr)
