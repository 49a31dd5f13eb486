"""``logmetrics run``: the command-line options to a :class:`~logmetrics.daemon.daemon.Daemon`."""

from __future__ import annotations

import argparse
import logging

from logmetrics.commands.common import program_paths
from logmetrics.daemon.daemon import Daemon, DaemonOptions
from logmetrics.pathnames import DisplayFormatter
from logmetrics.runtime.routes import LogSpec


def run_daemon(args: argparse.Namespace) -> int:
    """Start the daemon with ``args``; returns its exit status when it stops."""
    handler = logging.StreamHandler()
    handler.setFormatter(DisplayFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # --log-level is logmetrics' own: the libraries' debug output (watchdog logs every inotify
    # event) would feed on itself when stderr goes to a file in a watched folder.
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("logmetrics").setLevel(getattr(logging, args.log_level.upper()))
    specs = [LogSpec.parse(spec) for spec in args.logs]
    options = DaemonOptions(
        logs=specs,
        program_paths=program_paths(args, specs),
        patterns=args.patterns,
        state_dir=args.state_dir,
        from_end=args.start == "end",
        checkpoint=args.checkpoint,
        poll=args.poll,
        listen=args.listen,
        web_config=args.web_config,
        textfile=args.textfile,
        textfile_interval=args.textfile_interval,
        max_label_sets=args.max_label_sets,
        max_label_value_bytes=args.max_label_value_bytes,
        max_series_bytes=args.max_series_bytes,
        prog_label=args.prog_label,
        emit_metric_timestamp=args.emit_metric_timestamp,
        keep_unmatched=args.keep_unmatched,
        liveness_timeout=args.liveness_timeout,
    )
    return Daemon(options).run()
