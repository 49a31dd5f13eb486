"""The ``logmetrics`` command: check, dry-run, test, convert, and the daemon (run).

Errors go to stderr and the exit status is non-zero: 1 for a failure the
user can fix (a program that does not compile, a missing log file), 2 for
a usage error.

``--help`` and argument errors import only this module, the defaults and where
the bundled programs are: a subcommand's module (and the compiler, the daemon)
is imported once the command line is known to be good.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence

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
from logmetrics.resources import DEFAULT_PROGRAM, bundled_folder, bundled_program_names

TYPE_CHECKING = False  # typing itself is more than --help should import
if TYPE_CHECKING:
    from pathlib import Path

#: The playground's port: beside the daemon's, so both can run at once.
DEFAULT_PLAYGROUND_PORT = 3905

EPILOG = """\
Programs are written in the mtail language; regex literals may use grok
patterns: %{NAME}, %{NAME:capture}, %{NAME:capture:int|float}.
Bundled programs ({bundled}): {names}.
A bundled program is named by its name alone: --progs nginx_access.
"""


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


def _add_program_command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                         help: str, description: str) -> argparse.ArgumentParser:
    """A command that runs programs: it takes --progs and --patterns."""
    parser = commands.add_parser(name, help=help, description=description)
    _add_program_options(parser)
    return parser


def _add_history_command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                         help: str, description: str, output: tuple[str, str]) -> argparse.ArgumentParser:
    """A command that runs programs over old logs by log time (backfill, report) and writes
    ``-o``, its ``output`` (metavar, help), with what they share: programs, the logs' time order,
    the guard, quiet."""
    parser = _add_program_command(commands, name, help, description + " See docs/backfill.md.")
    _add_history_options(parser)
    parser.add_argument("--max-label-sets", type=int, default=DEFAULT_MAX_LABEL_SETS, metavar="N",
                        help=f"as for run (default {DEFAULT_MAX_LABEL_SETS})")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    metavar, what = output
    parser.add_argument("-o", "--output", type=_path, required=True, metavar=metavar, help=what)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="logmetrics",
        description="Turn log files into Prometheus metrics with mtail programs extended with grok.",
        epilog=EPILOG.replace("{bundled}", bundled_folder("programs"))
                    .replace("{names}", ", ".join(bundled_program_names())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"logmetrics {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = _add_program_command(
        commands, "check", help="compile programs and patterns only; report every error",
        description="Compile programs and grok patterns without reading any log. Every error is "
                    "printed as file:line:col: message; the exit status is 1 if there is any.",
    )
    check.add_argument("--dump-code", action="store_true",
                       help="print the Python code each program compiles to")

    dry = _add_program_command(
        commands, "dry-run", help="run programs over sample logs and print the metrics they produce",
        description="Run programs over log files from start to end and print the metrics they "
                    "produce on stdout. A match report goes to stderr: lines read, lines "
                    "matched per program, runtime errors, and the first unmatched lines.",
    )
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

    test = _add_program_command(
        commands, "test", help="run programs over sample logs and compare with the metrics they must produce",
        description="Run each program over its sample logs and compare the metrics with the expected "
                    "ones. A case is a sample log named PROGRAM.log or PROGRAM.CASE.log (.gz too) with "
                    "the expected metrics beside it in PROGRAM[.CASE].prom, as dry-run prints them. "
                    "Each case runs its program alone, from fresh state; series are compared one by "
                    "one (order and float rounding do not matter) and a failure prints their diff. "
                    "The exit status is 1 if any case fails.",
    )
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="folders to search for cases, or sample logs (PROGRAM=FILE for a log not "
                           "named after its program); default: each program's folder and its testdata/")
    test.add_argument("--update", action="store_true",
                      help="write the expected metrics of the cases that fail or have none, instead of "
                           "failing (review the change before committing it)")
    test.set_defaults(max_label_sets=DEFAULT_MAX_LABEL_SETS)

    run = _add_program_command(
        commands, "run", help="the daemon: follow logs, run programs, serve /metrics",
        description="Follow log files (through rotation by rename or copytruncate, and restarts), "
                    "run every new line through the programs, and serve the metrics on /metrics "
                    "for Prometheus. Programs are reloaded when their files change or on SIGHUP; "
                    "SIGTERM or SIGINT stops after the batch in hand, with positions saved.",
    )
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

    convert = commands.add_parser(
        "convert", help="convert another tool's configuration into a program",
        description="Convert the configuration of another log-to-metrics tool into a logmetrics "
                    "program.",
    )
    sources = convert.add_subparsers(dest="source", metavar="SOURCE", required=True)
    grok = sources.add_parser(
        "grok-exporter", help="a grok_exporter config.yml (config_version 2 or 3)",
        description="Convert a grok_exporter configuration (config_version 2 or 3) into a program: "
                    "one declaration and one pattern block per metric. The program goes to stdout "
                    "(or -o FILE); whatever has no equivalent (summaries, webhook input, templates "
                    "other than {{.field}}, base, gsub and arithmetic...) is reported on stderr as "
                    "CONFIG:LINE: warning: ..., and the input, grok pattern folders and server "
                    "settings become the 'logmetrics run' command line in a comment at the top. "
                    "The exit status is 1 when the file cannot be converted.",
    )
    grok.add_argument("config", type=_path, metavar="CONFIG", help="the grok_exporter configuration file")
    grok.add_argument("-o", "--output", type=_path, metavar="FILE",
                      help="write the program to FILE instead of stdout")
    grok.add_argument("--patterns", action="append", type=_path, default=[], metavar="PATH",
                      help="a grok pattern file or a folder of them to check the program against; "
                           "repeatable")
    grok.add_argument("--no-check", dest="check", action="store_false",
                      help="do not compile the converted program (by default, compile errors are "
                           "reported as warnings)")
    # The program playground (docs/status.md).
    play = commands.add_parser(
        "playground", help="a local page to write a program against sample lines",
        description="Serve a page (on 127.0.0.1 unless told otherwise) with a program and sample lines "
                    "side by side: every edit shows the compile errors at their line and column, the "
                    "metrics, and for each line the pattern that matched it and its captures. Save "
                    "writes the program, and on request a 'logmetrics test' case beside it. Only the "
                    "files named here are read.",
    )
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

    # --- history from old logs ---
    backfill = _add_history_command(
        commands, "backfill",
        "old logs to OpenMetrics with timestamps, for promtool to make TSDB blocks",
        "Run programs over old logs in the order of the lines' own time and write every "
        "series as it stood at each step of log time, as OpenMetrics with timestamps: "
        "load it with 'promtool tsdb create-blocks-from openmetrics OUT DATA_DIR'. "
        "Programs must read each line's time with strptime() (the bundled ones do).",
        ("OUT", "the OpenMetrics file to write (replaced when complete)"))
    backfill.add_argument("--label", action="append", type=label, metavar="NAME=VALUE",
                          help="add a label to every series, repeatable: the job and instance labels "
                               "Prometheus gives the live series, so that history joins them")
    backfill.add_argument("--prog-label", action="store_true", help="as for run")
    report = _add_history_command(
        commands, "report", "old logs to one self-contained HTML page of charts over log time",
        "Run programs over old logs in the order of the lines' own time and write one "
        "HTML page (no outside asset; it opens from a file): per program, charts over log "
        "time of each counter (by status class where it has a status label, with the error "
        "ratio), latency quantiles from each histogram, the totals, and the lines no "
        "program matched. Programs must read each line's time with strptime().",
        ("FILE", "the HTML file to write (e.g. report.html)"))
    report.add_argument("--title", metavar="TEXT", help="the page's title (default: logmetrics report)")
    return parser


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
    args = build_parser().parse_args(argv)
    from logmetrics.errors import CompileErrors, LogmetricsError

    module, function = COMMANDS[args.command]
    try:
        # Imported only now: --help and argument errors never load the compiler or the daemon.
        run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), function)
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
