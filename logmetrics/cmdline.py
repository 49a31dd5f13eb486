"""The command line's grammar: every subcommand's options, as argparse parsers.

``logmetrics.cli`` parses with :func:`build_parser` and runs the subcommand. A
subcommand's options are added only when the command line names it (see
:class:`_Subcommands`): ``logmetrics run --help`` or an error in ``run``'s options
builds the top parser and ``run``'s, not every subcommand's.

It also renders the help texts :mod:`logmetrics.helptext` prints without argparse:
``python -m logmetrics.cmdline --write`` at the top of the checkout.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence

from logmetrics import __version__
from logmetrics.defaults import (
    DEFAULT_LISTEN,
    DEFAULT_MAX_FILE_METRICS,
    DEFAULT_MAX_LABEL_SETS,
    DEFAULT_MAX_LABEL_VALUE_BYTES,
    DEFAULT_MAX_SERIES_BYTES,
    DEFAULT_TEXTFILE_INTERVAL,
    FORMATS,
)
from logmetrics.helptext import RENDERED, WIDTH, fill_bundled, terminal_width
from logmetrics.resources import DEFAULT_PROGRAM

TYPE_CHECKING = False  # typing itself is more than --help should import
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

#: The playground's port: beside the daemon's, so both can run at once.
DEFAULT_PLAYGROUND_PORT = 3905

EPILOG = """\
Programs are written in the mtail language; regex literals may use grok
patterns: %{NAME}, %{NAME:capture}, %{NAME:capture:int|float}.
Bundled programs ({bundled}): {names}.
A bundled program is named by its name alone: --progs nginx_access.
"""


class _TerminalWidth(argparse.HelpFormatter):
    """argparse's formatter with the width shutil.get_terminal_size() would give, found without
    importing shutil (which brings bz2, lzma and fnmatch): the same text, sooner."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            width = terminal_width() - 2  # argparse's own margin
        super().__init__(prog, indent_increment, max_help_position, width)


class Formatter(_TerminalWidth):
    """Every subcommand's formatter."""


class RawDescriptionFormatter(_TerminalWidth, argparse.RawDescriptionHelpFormatter):
    """The top parser's formatter: the description and epilog as written."""


def _path(text: str) -> Path:
    """A path argument: pathlib is imported once a path is given, never for --help."""
    from pathlib import Path

    return Path(text)


def _add_program_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progs", action="append", type=_path, metavar="PATH",
        help="a program file, a folder of *.mtail programs, or the name of a bundled program; "
             f"repeatable (default: {DEFAULT_PROGRAM}, plus the programs named by PROGRAM=... logs; "
             "check: every bundled program)",
    )
    parser.add_argument(
        "--patterns", action="append", type=_path, default=[], metavar="PATH",
        help="a grok pattern file (Logstash format: NAME regex per line), or a folder of them "
             "(flat, or with legacy/ and ecs-v1/ inside, where legacy/ is used); repeatable, "
             "later ones win",
    )


def _add_export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-label-sets", type=int, default=DEFAULT_MAX_LABEL_SETS, metavar="N",
                        help="label sets a metric may hold unless its program says 'limit'; new ones "
                             "beyond are refused and counted (logmetrics_metric_label_sets_refused_total, "
                             "with the reason); "
                             f"default {DEFAULT_MAX_LABEL_SETS}")
    parser.add_argument("--max-label-value-bytes", type=int, default=DEFAULT_MAX_LABEL_VALUE_BYTES,
                        metavar="N", help="a new label set with a value longer than N bytes is refused "
                                          f"and counted; default {DEFAULT_MAX_LABEL_VALUE_BYTES}")
    parser.add_argument("--max-series-bytes", type=int, default=DEFAULT_MAX_SERIES_BYTES, metavar="N",
                        help="label value bytes one metric may hold over all its label sets; new label "
                             f"sets beyond are refused and counted; default {DEFAULT_MAX_SERIES_BYTES}")
    parser.add_argument("--prog-label", action="store_true",
                        help="add a 'prog' label naming the program to every series, like mtail")
    parser.add_argument("--emit-metric-timestamp", action="store_true",
                        help="give each series the time of the log line that last updated it, where "
                             "the program reads one with strptime() or settime()")


def _keep_unmatched(text: str) -> int:
    """``--keep-unmatched N``: 0 to 100 lines per file."""
    if not text.isdigit() or int(text) > 100:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of lines from 0 to 100")
    return int(text)


def _non_negative(text: str) -> int:
    """A count from 0 up."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number from 0 up")
    return int(text)


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
    from logmetrics.lang.golayout import parse_time  # only when a time is given

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


def _add_history_options(parser: argparse.ArgumentParser) -> None:
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


Fill = Callable[[argparse.ArgumentParser], None]
"""Adds a subcommand's options to its parser."""

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class _Subcommands(_SubParsers):
    """Subcommands whose options are added once the command line names one: their names and
    one-line help are all the top-level help shows. argparse still does all the parsing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unfilled: dict[str, Fill] = {}

    def add(self, name: str, fill: Fill, *, help: str, description: str) -> None:
        """The subcommand ``name``; ``fill`` adds its options when it is named."""
        self.add_parser(name, help=help, description=description, formatter_class=Formatter)
        self._unfilled[name] = fill

    def parser(self, name: str) -> argparse.ArgumentParser:
        """The parser of subcommand ``name``, with its options."""
        parser = self.choices[name]
        fill = self._unfilled.pop(name, None)
        if fill is not None:
            fill(parser)
        return parser

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        self.parser(values[0])  # argparse has checked that the name is one of the choices
        super().__call__(parser, namespace, values, option_string)


def _subcommands(parser: argparse.ArgumentParser, dest: str, metavar: str) -> _Subcommands:
    """``parser``'s required subcommand argument."""
    commands = parser.add_subparsers(dest=dest, metavar=metavar, required=True, action=_Subcommands)
    assert isinstance(commands, _Subcommands)
    return commands


def every_parser(parser: argparse.ArgumentParser, argv: tuple[str, ...] = ()
                 ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """``parser`` and every subcommand's parser below it, complete, each with the arguments
    that name it (``("convert", "grok-exporter")``)."""
    yield argv, parser
    for action in parser._actions:
        if isinstance(action, _Subcommands):
            for name in action.choices:
                yield from every_parser(action.parser(name), (*argv, name))


def _program_options(fill: Fill) -> Fill:
    """A command that runs programs: it takes --progs and --patterns, then its own options."""
    def both(parser: argparse.ArgumentParser) -> None:
        _add_program_options(parser)
        fill(parser)
    return both


def _history_options(output: tuple[str, str], fill: Fill) -> Fill:
    """A command that runs programs over old logs by log time (backfill, report) and writes
    ``-o``, its ``output`` (metavar, help), with what they share: programs, the logs' time order,
    the guard, quiet; then its own options."""
    def shared(parser: argparse.ArgumentParser) -> None:
        _add_program_options(parser)
        _add_history_options(parser)
        parser.add_argument("--max-label-sets", type=int, default=DEFAULT_MAX_LABEL_SETS, metavar="N",
                            help=f"as for run (default {DEFAULT_MAX_LABEL_SETS})")
        parser.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
        metavar, what = output
        parser.add_argument("-o", "--output", type=_path, required=True, metavar=metavar, help=what)
        fill(parser)
    return shared


def _check_options(check: argparse.ArgumentParser) -> None:

    check.add_argument("--dump-code", action="store_true",
                       help="print the Python code each program compiles to")


def _dry_run_options(dry: argparse.ArgumentParser) -> None:
    dry.add_argument("files", nargs="+", metavar="FILE",
                     help="log files to read; '-' reads stdin; .gz files are decompressed; "
                          "PROGRAM=FILE: only that program reads the file (see run --logs); "
                          "cri:///FILE, docker:///FILE: container logs, unwrapped as run does")
    dry.add_argument("--format", choices=FORMATS, default="prometheus",
                     help="output format of the metrics (default: prometheus text)")
    _add_export_options(dry)
    dry.add_argument("--show-unmatched", type=int, default=5, metavar="N",
                     help="how many unmatched lines to show in the report (default: 5)")
    dry.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                     help="progress on stderr: auto shows it when stderr is a terminal")
    dry.add_argument("-q", "--quiet", action="store_true", help="no match report")
    # The per-line trace, as the playground shows it (docs/status.md).
    dry.add_argument("--explain", type=int, default=0, metavar="N",
                     help="on stderr, for each of the first N lines: the pattern sites (file:line) that "
                          "matched it, with their captures and the values the program reads")


def _test_options(test: argparse.ArgumentParser) -> None:
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="folders to search for cases, or sample logs (PROGRAM=FILE for a log not "
                           "named after its program); default: each program's folder and its testdata/")
    test.add_argument("--update", action="store_true",
                      help="write the expected metrics of the cases that fail or have none, instead of "
                           "failing (review the change before committing it)")
    test.set_defaults(max_label_sets=DEFAULT_MAX_LABEL_SETS)


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--logs", action="append", required=True, metavar="GLOB",
                     help="a log file or a glob (quote it: logmetrics expands it, ** included), "
                          "repeatable; files that appear later are picked up. PROGRAM=GLOB: only that "
                          "program reads these files, and reads no others (loaded if it is a bundled "
                          "program), e.g. apache_error=/var/log/apache2/error.log. Also: - (stdin), "
                          "unix:///PATH, unixgram:///PATH, tcp://HOST:PORT, udp://HOST:PORT, "
                          "syslog+udp://HOST:PORT?tag=TAG (and syslog+tcp, +unix, +unixgram), "
                          "cri:///GLOB, docker:///GLOB (?stream=stdout|stderr: one stream; "
                          "see docs/sources.md)")
    run.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                     help=f"where to serve /metrics (default {DEFAULT_LISTEN}; ':PORT' for every "
                          "interface; 'none' serves nothing, with --textfile)")
    run.add_argument("--web-config", type=_path, metavar="FILE",
                     help="TLS and basic auth for /metrics, in the Prometheus exporter-toolkit format "
                          "(node_exporter's --web.config.file); re-read when it changes")
    run.add_argument("--textfile", type=_path, metavar="PATH",
                     help="also write the metrics to PATH (a .prom file in node_exporter's "
                          "--collector.textfile.directory), replaced atomically every interval and at stop")
    run.add_argument("--textfile-interval", type=float, default=DEFAULT_TEXTFILE_INTERVAL, metavar="SECONDS",
                     help=f"how often --textfile is rewritten (default {DEFAULT_TEXTFILE_INTERVAL:g})")
    run.add_argument("--state-dir", type=_path, metavar="DIR",
                     help="where the checkpoint (values and read positions) is kept, locked by one "
                          "daemon at a time (default /var/lib/logmetrics as root, else "
                          "~/.local/state/logmetrics)")
    run.add_argument("--from", dest="start", choices=("end", "beginning"), default="end",
                     help="where to start in a file that exists at start and has no saved position "
                          "(default end); files created later are always read from the beginning")
    run.add_argument("--no-checkpoint", dest="checkpoint", action="store_false",
                     help="do not save metric values with the positions: counters start at 0 on "
                          "every start, files resume (by default counters continue, even after a crash)")
    run.add_argument("--poll", action="store_true",
                     help="poll for changes instead of inotify (NFS, CIFS, FUSE, some container volumes)")
    run.add_argument("--liveness-timeout", type=float, default=30.0, metavar="SECONDS",
                     help="/-/healthy answers 503 once the main loop has not turned for this long "
                          "(default 30; 0: never)")
    _add_export_options(run)
    # The status page's match inspector (docs/status.md).
    run.add_argument("--keep-unmatched", type=_keep_unmatched, default=0, metavar="N",
                     help="keep the last N lines (at most 100) no program matched, per file, and show them "
                          "in the match inspector at /inspect; off by default, as logs may hold secrets")
    # Bounded self-metrics for thousands of files (docs/operations.md).
    run.add_argument("--max-file-metrics", type=_non_negative, default=DEFAULT_MAX_FILE_METRICS, metavar="N",
                     help="logmetrics_log_* series of their own for at most N files (default "
                          f"{DEFAULT_MAX_FILE_METRICS}), the first followed; the others are summed under "
                          "file=\"other\"")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                     help="what logmetrics logs to stderr (default info)")


def _convert_options(convert: argparse.ArgumentParser) -> None:
    sources = _subcommands(convert, dest="source", metavar="SOURCE")
    sources.add(
        "grok-exporter", _grok_exporter_options, help="a grok_exporter config.yml (config_version 2 or 3)",
        description="Convert a grok_exporter configuration (config_version 2 or 3) into a program: "
                    "one declaration and one pattern block per metric. The program goes to stdout "
                    "(or -o FILE); whatever has no equivalent (summaries, webhook input, templates "
                    "other than {{.field}}, base, gsub and arithmetic...) is reported on stderr as "
                    "CONFIG:LINE: warning: ..., and the input, grok pattern folders and server "
                    "settings become the 'logmetrics run' command line in a comment at the top. "
                    "The exit status is 1 when the file cannot be converted.",
    )


def _grok_exporter_options(grok: argparse.ArgumentParser) -> None:
    grok.add_argument("config", type=_path, metavar="CONFIG", help="the grok_exporter configuration file")
    grok.add_argument("-o", "--output", type=_path, metavar="FILE",
                      help="write the program to FILE instead of stdout")
    grok.add_argument("--patterns", action="append", type=_path, default=[], metavar="PATH",
                      help="a grok pattern file or a folder of them to check the program against; "
                           "repeatable")
    grok.add_argument("--no-check", dest="check", action="store_false",
                      help="do not compile the converted program (by default, compile errors are "
                           "reported as warnings)")


def _playground_options(play: argparse.ArgumentParser) -> None:
    play.add_argument("--progs", type=_path, metavar="FILE",
                      help="the program to edit (a new FILE.mtail is created by Save), or a bundled "
                           "program's name to start from (read-only)")
    play.add_argument("--patterns", action="append", type=_path, default=[], metavar="PATH",
                      help="a grok pattern file or a folder of them; repeatable, later ones win")
    play.add_argument("sample", nargs="?", type=_path, metavar="SAMPLE.log",
                      help="sample log lines to start with (at most 10,000 lines, 1 MiB)")
    play.add_argument("--listen", default=f"127.0.0.1:{DEFAULT_PLAYGROUND_PORT}", metavar="HOST:PORT",
                      help=f"where to serve the page (default 127.0.0.1:{DEFAULT_PLAYGROUND_PORT}; "
                           "port 0 picks a free one)")
    play.add_argument("--web-config", type=_path, metavar="FILE",
                      help="TLS and basic auth, as for run")
    play.set_defaults(max_label_sets=DEFAULT_MAX_LABEL_SETS)


def _backfill_options(backfill: argparse.ArgumentParser) -> None:
    backfill.add_argument("--label", action="append", type=label, metavar="NAME=VALUE",
                          help="add a label to every series, repeatable: the job and instance labels "
                               "Prometheus gives the live series, so that history joins them")
    backfill.add_argument("--prog-label", action="store_true", help="as for run")


def _report_options(report: argparse.ArgumentParser) -> None:
    report.add_argument("--title", metavar="TEXT", help="the page's title (default: logmetrics report)")


def build_parser(*, epilog_template: bool = False) -> argparse.ArgumentParser:
    """The command-line parser, with every subcommand (whose options are added when it is named).
    ``epilog_template``: the epilog with its ``{bundled}`` and ``{names}`` left unfilled, as the
    stored help texts keep it (they are filled in where logmetrics is installed)."""
    parser = argparse.ArgumentParser(
        prog="logmetrics",
        description="Turn log files into Prometheus metrics with mtail programs extended with grok.",
        epilog=EPILOG if epilog_template else fill_bundled(EPILOG),
        formatter_class=RawDescriptionFormatter,
    )
    parser.add_argument("--version", action="version", version=f"logmetrics {__version__}")
    commands = _subcommands(parser, dest="command", metavar="COMMAND")

    commands.add(
        "check", _program_options(_check_options),
        help="compile programs and patterns only; report every error",
        description="Compile programs and grok patterns without reading any log. Every error is "
                    "printed as file:line:col: message; the exit status is 1 if there is any.",
    )
    commands.add(
        "dry-run", _program_options(_dry_run_options),
        help="run programs over sample logs and print the metrics they produce",
        description="Run programs over log files from start to end and print the metrics they "
                    "produce on stdout. A match report goes to stderr: lines read, lines "
                    "matched per program, runtime errors, and the first unmatched lines.",
    )
    commands.add(
        "test", _program_options(_test_options),
        help="run programs over sample logs and compare with the metrics they must produce",
        description="Run each program over its sample logs and compare the metrics with the expected "
                    "ones. A case is a sample log named PROGRAM.log or PROGRAM.CASE.log (.gz too) with "
                    "the expected metrics beside it in PROGRAM[.CASE].prom, as dry-run prints them. "
                    "Each case runs its program alone, from fresh state; series are compared one by "
                    "one (order and float rounding do not matter) and a failure prints their diff. "
                    "The exit status is 1 if any case fails.",
    )
    commands.add(
        "run", _program_options(_run_options), help="the daemon: follow logs, run programs, serve /metrics",
        description="Follow log files (through rotation by rename or copytruncate, and restarts), "
                    "run every new line through the programs, and serve the metrics on /metrics "
                    "for Prometheus. Programs are reloaded when their files change or on SIGHUP; "
                    "SIGTERM or SIGINT stops after the batch in hand, with positions saved.",
    )
    commands.add(
        "convert", _convert_options, help="convert another tool's configuration into a program",
        description="Convert the configuration of another log-to-metrics tool into a logmetrics "
                    "program.",
    )
    # The program playground (docs/status.md).
    commands.add(
        "playground", _playground_options,
        help="a local page to write a program against sample lines",
        description="Serve a page (on 127.0.0.1 unless told otherwise) with a program and sample lines "
                    "side by side: every edit shows the compile errors at their line and column, the "
                    "metrics, and for each line the pattern that matched it and its captures. Save "
                    "writes the program, and on request a 'logmetrics test' case beside it. Only the "
                    "files named here are read.",
    )
    # --- history from old logs ---
    commands.add(
        "backfill", _history_options(("OUT", "the OpenMetrics file to write (replaced when complete)"),
                                     _backfill_options),
        help="old logs to OpenMetrics with timestamps, for promtool to make TSDB blocks",
        description="Run programs over old logs in the order of the lines' own time and write every "
                    "series as it stood at each step of log time, as OpenMetrics with timestamps: "
                    "load it with 'promtool tsdb create-blocks-from openmetrics OUT DATA_DIR'. "
                    "Programs must read each line's time with strptime() (the bundled ones do). "
                    "See docs/backfill.md.",
    )
    commands.add(
        "report", _history_options(("FILE", "the HTML file to write (e.g. report.html)"), _report_options),
        help="old logs to one self-contained HTML page of charts over log time",
        description="Run programs over old logs in the order of the lines' own time and write one "
                    "HTML page (no outside asset; it opens from a file): per program, charts over log "
                    "time of each counter (by status class where it has a status label, with the error "
                    "ratio), latency quantiles from each histogram, the totals, and the lines no "
                    "program matched. Programs must read each line's time with strptime(). "
                    "See docs/backfill.md.",
    )
    return parser


# --- the stored help texts (logmetrics.helptext) ---

def render_help() -> str:
    """The source of ``rendered_help.py``: argparse's help of every parser, at the width
    :mod:`logmetrics.helptext` serves it for."""
    was = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        parsers = [(argv, parser.format_help()) for argv, parser in every_parser(
            build_parser(epilog_template=True))]
    finally:
        if was is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = was
    top = build_parser()
    help_options = tuple(option for option, action in top._option_string_actions.items()
                         if isinstance(action, argparse._HelpAction))
    lines = [
        '"""argparse\'s help for each subcommand at 80 columns (see helptext.py).',
        "",
        "Made by ``python -m logmetrics.cmdline --write``: do not edit.",
        '"""',
        "",
        "#: The options that ask for help.",
        f"HELP_OPTIONS = {help_options!r}",
        "",
        "#: The help text of each parser, by the arguments that name its subcommand.",
        "HELP = {",
    ]
    for argv, text in parsers:
        lines.append(f"    {argv!r}: (")
        lines.extend(f"        {line!r}" for line in text.splitlines(keepends=True))
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m logmetrics.cmdline [--write]``: print or write ``rendered_help.py``."""
    source = render_help()
    if list(sys.argv[1:] if argv is None else argv) == ["--write"]:
        with open(RENDERED, "w", encoding="utf-8") as out:
            out.write(source)
        print(f"wrote {RENDERED}")
    else:
        sys.stdout.write(source)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
