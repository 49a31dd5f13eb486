"""The ``logmetrics`` command: check, dry-run, test, convert, and the daemon (run).

Errors go to stderr and the exit status is non-zero: 1 for a failure the
user can fix (a program that does not compile, a missing log file), 2 for
a usage error.

``--help`` is answered from argparse's stored output where it can be
(:mod:`logmetrics.helptext`), else by the parser (:mod:`logmetrics.cmdline`),
which builds only the named subcommand's options. Neither imports more than the
defaults and where the bundled programs are: a subcommand's module (and the
compiler, the daemon) is imported once the command line is known to be good.
"""

from __future__ import annotations

import sys

from logmetrics.helptext import stored_help

TYPE_CHECKING = False  # typing itself is more than --help should import
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Each subcommand's module and function (``logmetrics.commands``: one module per subcommand).
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("logmetrics.commands.check", "run_check"),
    "dry-run": ("logmetrics.commands.dryrun", "run_dry_run"),
    "test": ("logmetrics.commands.testcases", "run_tests"),
    "run": ("logmetrics.commands.run", "run_daemon"),
    "playground": ("logmetrics.commands.playground", "run_playground"),
    "convert": ("logmetrics.commands.convert", "run_convert"),
    "backfill": ("logmetrics.commands.backfill", "run_backfill"),
    "report": ("logmetrics.commands.report", "run_report"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    text = stored_help(arguments)
    if text is not None:
        sys.stdout.write(text)  # as argparse prints its help, and exits as it does
        raise SystemExit(0)

    import importlib

    from logmetrics.cmdline import build_parser

    args = build_parser().parse_args(arguments)
    from logmetrics.errors import CompileErrors, LogmetricsError

    module, function = COMMANDS[args.command]
    try:
        # Imported only now: --help and argument errors never load the compiler or the daemon.
        run: Callable[[object], int] = getattr(importlib.import_module(module), function)
        return run(args)
    except CompileErrors as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return 1
    except LogmetricsError as exc:
        print(f"logmetrics: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
